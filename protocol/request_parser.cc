#include "protocol/request_parser.h"

#include <algorithm>
#include <climits>
#include <cstring>

#include "protocol/errors.h"
#include "protocol/internal/keys.h"
#include "protocol/internal/meta_line.h"
#include "protocol/internal/tokenizer.h"
#include "protocol/numbers.h"

namespace spillway::protocol {
namespace {

// What became of one line, before the data block (if any) is looked at. The request itself is
// written in place, into the ParseResult that Parse returns: a Request is a few hundred bytes,
// and copying it per request showed in profiles.
struct LineOutcome {
  bool failed = false;
  std::string_view error;  // failed: the answer ("" with close: none)
  bool close = false;
  // Storage commands: the data block that follows the line (-1: none).
  int64_t data_length = -1;
  // On an error, bytes after the line that must be discarded unread.
  uint64_t discard = 0;
};

LineOutcome Error(std::string_view error) {
  LineOutcome out;
  out.failed = true;
  out.error = error;
  return out;
}

LineOutcome Ok() { return LineOutcome(); }

// memcached only honours "noreply" as the last token of the line.
bool NoreplyMaybe(const Tokens& t) { return t.ntokens >= 2 && t.Last() == "noreply"; }

// A classic key: at most 250 bytes. Control characters are refused too (see the header).
bool ValidKey(std::string_view key) {
  return !key.empty() && key.size() <= kMaxKeyLength && !HasControlCharacter(key);
}

LineOutcome ParseRetrieval(Command command, const Tokens& t, std::string_view line, Request& r) {
  r.command = command;
  size_t first_key = 1;
  if (command == Command::kGat || command == Command::kGats) {
    int32_t exptime = 0;
    if (!ParseInt32(t.token[1], &exptime)) return Error(errors::kBadExptime);
    r.exptime = exptime;
    first_key = 2;
  }
  r.keys = t.From(first_key, line);
  TokenIterator keys(r.keys);
  std::string_view key;
  bool first = true;
  while (keys.Next(&key)) {
    if (!ValidKey(key)) return Error(errors::kBadFormat);
    if (first) r.key = r.key_token = key;
    first = false;
  }
  return Ok();
}

LineOutcome ParseStorage(Command command, const Tokens& t, const ParserOptions& options,
                         Request& r) {
  r.command = command;
  r.noreply = NoreplyMaybe(t);
  r.key = r.key_token = t.token[1];
  if (r.key.size() > kMaxKeyLength) return Error(errors::kBadFormat);
  int32_t exptime = 0;
  int32_t length = 0;
  if (!ParseUint32(t.token[2], &r.client_flags) || !ParseInt32(t.token[3], &exptime) ||
      !ParseInt32(t.token[4], &length)) {
    return Error(errors::kBadFormat);
  }
  r.exptime = exptime;
  if (length < 0 || length > INT_MAX - 2) return Error(errors::kBadFormat);
  if (command == Command::kCas && !ParseUint64(t.token[5], &r.cas_unique)) {
    return Error(errors::kBadFormat);
  }
  // From here on the data block's length is known, so a rejected block is discarded rather
  // than read as commands.
  LineOutcome out;
  if (HasControlCharacter(r.key)) {
    out = Error(errors::kBadFormat);
  } else if (static_cast<size_t>(length) > options.max_item_size) {
    out = Error(errors::kTooLarge);
  } else {
    out = Ok();
    out.data_length = length;
    return out;
  }
  out.discard = static_cast<uint64_t>(length) + 2;
  return out;
}

LineOutcome ParseKeyCommand(Command command, const Tokens& t, Request& r) {
  r.command = command;
  r.noreply = NoreplyMaybe(t);
  r.key = r.key_token = t.token[1];
  if (!ValidKey(r.key)) return Error(errors::kBadFormat);
  if (command == Command::kIncr || command == Command::kDecr) {
    if (!ParseUint64(t.token[2], &r.delta)) return Error(errors::kBadDelta);
  } else if (command == Command::kTouch) {
    int32_t exptime = 0;
    if (!ParseInt32(t.token[2], &exptime)) return Error(errors::kBadExptime);
    r.exptime = exptime;
  }
  return Ok();
}

LineOutcome ParseDelete(const Tokens& t, Request& r) {
  r.command = Command::kDelete;
  if (t.ntokens > 3) {
    // memcached still accepts the long-gone "hold time" argument, but only as "0".
    const bool hold_is_zero = t.token[2] == "0";
    r.noreply = NoreplyMaybe(t);
    const bool valid = (t.ntokens == 4 && (hold_is_zero || r.noreply)) ||
                       (t.ntokens == 5 && hold_is_zero && r.noreply);
    if (!valid) return Error(errors::kDeleteUsage);
  }
  r.key = r.key_token = t.token[1];
  if (!ValidKey(r.key)) return Error(errors::kBadFormat);
  return Ok();
}

LineOutcome ParseFlushAll(const Tokens& t, Request& r) {
  r.command = Command::kFlushAll;
  r.noreply = NoreplyMaybe(t);
  if (t.ntokens != (r.noreply ? 3u : 2u)) {
    int32_t delay = 0;
    if (!ParseInt32(t.token[1], &delay)) return Error(errors::kBadExptime);
    r.exptime = delay;
  }
  return Ok();
}

LineOutcome ParseVerbosity(const Tokens& t, Request& r) {
  r.command = Command::kVerbosity;
  r.noreply = NoreplyMaybe(t);
  r.argument = t.token[1];
  if (!ParseUint32(r.argument, &r.level)) return Error(errors::kBadFormat);
  return Ok();
}

// The classic commands, dispatched the way memcached's process_command_ascii does, token
// counts included (ntokens counts the terminal empty token, as memcached's does).
LineOutcome ParseClassic(const Tokens& t, std::string_view line, const ParserOptions& options,
                         Request& r) {
  const std::string_view cmd = t.token[0];
  const size_t n = t.ntokens;
  auto tokens_in = [n](size_t a, size_t b) { return n == a || n == b; };

  if (cmd[0] == 'g' || cmd == "bget") {
    if (n < 3) return Error(errors::kError);
    // "bget" is a legacy alias memcached still honours.
    if (cmd == "get" || cmd == "bget") return ParseRetrieval(Command::kGet, t, line, r);
    if (cmd == "gets") return ParseRetrieval(Command::kGets, t, line, r);
    if (cmd == "gat") return ParseRetrieval(Command::kGat, t, line, r);
    if (cmd == "gats") return ParseRetrieval(Command::kGats, t, line, r);
    return Error(errors::kError);
  }
  struct StorageName {
    std::string_view name;
    Command command;
  };
  static constexpr StorageName kStorage[] = {
      {"set", Command::kSet},       {"add", Command::kAdd},         {"replace", Command::kReplace},
      {"append", Command::kAppend}, {"prepend", Command::kPrepend}, {"cas", Command::kCas},
  };
  for (const auto& s : kStorage) {
    if (cmd != s.name) continue;
    const bool ok = s.command == Command::kCas ? tokens_in(7, 8) : tokens_in(6, 7);
    return ok ? ParseStorage(s.command, t, options, r) : Error(errors::kError);
  }
  if (cmd == "incr" || cmd == "decr") {
    if (!tokens_in(4, 5)) return Error(errors::kError);
    return ParseKeyCommand(cmd == "incr" ? Command::kIncr : Command::kDecr, t, r);
  }
  if (cmd == "touch") {
    if (!tokens_in(4, 5)) return Error(errors::kError);
    return ParseKeyCommand(Command::kTouch, t, r);
  }
  if (cmd == "delete") {
    if (n < 3 || n > 5) return Error(errors::kError);
    return ParseDelete(t, r);
  }
  if (cmd == "stats") {
    r.command = Command::kStats;
    r.argument = t.From(1, line);
    return Ok();
  }
  if (cmd == "flush_all") {
    if (n < 2 || n > 4) return Error(errors::kError);
    return ParseFlushAll(t, r);
  }
  if (cmd == "version") {
    r.command = Command::kVersion;
    return Ok();
  }
  if (cmd == "quit") {
    r.command = Command::kQuit;
    return Ok();
  }
  if (cmd == "shutdown") {
    r.command = Command::kShutdown;
    r.argument = t.From(1, line);
    return Ok();
  }
  if (cmd == "verbosity") {
    if (!tokens_in(3, 4)) return Error(errors::kError);
    return ParseVerbosity(t, r);
  }
  // memcached hangs up on what looks like an HTTP request, but only once the word has missed
  // every command family it dispatches on by first letter.
  const bool dispatched_by_letter =
      std::string_view("gsacidt").find(cmd[0]) != std::string_view::npos;
  if (!dispatched_by_letter && t.Last().substr(0, 5) == "HTTP/") {
    LineOutcome out = Error("");
    out.close = true;
    return out;
  }
  return Error(errors::kError);
}

// True when a line may grow past max_line_length: a multi-key retrieval. memcached allows this
// for get and gets (behind at most 100 spaces); spillway allows gat and gats too, since their
// keys are as many.
bool IsMultigetLine(std::string_view text) {
  size_t spaces = 0;
  while (spaces < text.size() && text[spaces] == ' ') ++spaces;
  if (spaces > 100) return false;
  text.remove_prefix(spaces);
  for (std::string_view word : {"get ", "gets ", "gat ", "gats "}) {
    if (text.starts_with(word)) return true;
  }
  return false;
}

}  // namespace

RequestParser::RequestParser(const ParserOptions& options) : options_(options) {
  options_.max_line_length = std::max(options_.max_line_length, kMinLineLength);
  options_.max_multiget_line_length =
      std::max(options_.max_multiget_line_length, options_.max_line_length);
}

ParseResult RequestParser::Parse(std::string_view input) {
  ParseResult result;
  if (discard_ > 0) {
    if (input.empty()) {
      result.need = 1;
      return result;
    }
    result.status = ParseStatus::kDiscarded;
    result.consumed = static_cast<size_t>(std::min<uint64_t>(discard_, input.size()));
    discard_ -= result.consumed;
    return result;
  }

  const auto* newline = static_cast<const char*>(std::memchr(input.data(), '\n', input.size()));
  const size_t line_end = newline ? static_cast<size_t>(newline - input.data()) : input.size();
  const size_t limit = IsMultigetLine(input.substr(0, line_end)) ? options_.max_multiget_line_length
                                                                 : options_.max_line_length;
  // The line's length without its terminator. A '\r' at the very end of a partial line may be
  // the terminator's first half, so it does not count either: the verdict must not depend on
  // where the bytes were split.
  const size_t length = line_end > 0 && input[line_end - 1] == '\r' ? line_end - 1 : line_end;
  if (length > limit) {
    // memcached closes without a word: the client is not speaking the protocol.
    result.status = ParseStatus::kError;
    result.close = true;
    result.consumed = line_end;
    return result;
  }
  if (newline == nullptr) {
    result.need = input.size() + 1;
    return result;
  }

  std::string_view line = input.substr(0, line_end);
  if (line.size() > 1 && line.back() == '\r') line.remove_suffix(1);
  // memcached reads the line as a C string: a NUL byte ends it.
  line = line.substr(0, std::min(line.size(), line.find('\0')));
  const size_t line_bytes = line_end + 1;

  const Tokens tokens = Tokenize(line);
  LineOutcome out;
  if (tokens.ntokens < 2 || tokens.token[0].size() < 2) {
    out = Error(errors::kError);
  } else if (tokens.token[0].size() == 2 && tokens.token[0][0] == 'm') {
    const MetaLine meta = ParseMetaLine(tokens, line, &result.request, key_scratch_.data(),
                                        key_scratch_.size(), options_.max_item_size);
    out.failed = !meta.error.empty();
    out.error = meta.error;
    out.data_length = meta.data_length;
    out.discard = meta.discard;
  } else {
    out = ParseClassic(tokens, line, options_, result.request);
  }

  result.status = out.failed ? ParseStatus::kError : ParseStatus::kRequest;
  result.error = out.error;
  result.close = out.close;
  result.consumed = line_bytes;
  if (out.failed) {
    discard_ = out.discard;
    return result;
  }
  if (out.data_length < 0) return result;

  // A data block follows, and counts only with its "\r\n".
  const size_t total = line_bytes + static_cast<size_t>(out.data_length) + 2;
  if (input.size() < total) {
    result = ParseResult();  // (the same object throughout: no copy of the result on return)
    result.need = total;
    return result;
  }
  result.consumed = total;
  const std::string_view block = input.substr(line_bytes, static_cast<size_t>(out.data_length));
  if (input[total - 2] != '\r' || input[total - 1] != '\n') {
    result.status = ParseStatus::kError;
    result.error = errors::kBadDataChunk;
    // The meta commands always report errors; a classic noreply hides even this one.
    return result;
  }
  result.request.value = block;
  return result;
}

}  // namespace spillway::protocol
