#include "protocol/response_parser.h"

#include <cstdint>
#include <cstring>

#include "protocol/numbers.h"

namespace spillway::protocol {
namespace {

struct Word {
  std::string_view word;
  ResponseType type;
};

// Responses that are a single word and nothing else.
constexpr Word kBareWords[] = {
    {"END", ResponseType::kEnd},
    {"STORED", ResponseType::kStored},
    {"NOT_STORED", ResponseType::kNotStored},
    {"EXISTS", ResponseType::kExists},
    {"NOT_FOUND", ResponseType::kNotFound},
    {"DELETED", ResponseType::kDeleted},
    {"TOUCHED", ResponseType::kTouched},
    {"OK", ResponseType::kOk},
    {"RESET", ResponseType::kReset},
    {"MN", ResponseType::kMetaNoop},
};

// Responses whose word may be followed by " <text>".
constexpr Word kTextWords[] = {
    {"VERSION", ResponseType::kVersion},
    {"CLIENT_ERROR", ResponseType::kClientError},
    {"SERVER_ERROR", ResponseType::kServerError},
    {"HD", ResponseType::kMetaHeader},
    {"EN", ResponseType::kMetaMiss},
    {"NF", ResponseType::kMetaNotFound},
    {"NS", ResponseType::kMetaNotStored},
    {"EX", ResponseType::kMetaExists},
    {"ME", ResponseType::kMetaDebug},
};

// Splits off the next space-terminated word of `rest`.
std::string_view NextWord(std::string_view* rest) {
  const size_t space = rest->find(' ');
  std::string_view word = rest->substr(0, space);
  rest->remove_prefix(space == std::string_view::npos ? rest->size() : space + 1);
  return word;
}

bool AllDigits(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
  }
  return true;
}

ResponseParseResult Malformed() {
  ResponseParseResult r;
  r.status = ResponseParseStatus::kMalformed;
  return r;
}

// Completes a response that carries a data block of `bytes` after its line.
ResponseParseResult WithBlock(std::string_view input, size_t line_bytes, uint64_t bytes,
                              const ResponseParserOptions& options, Response response) {
  // The second test keeps line + bytes + 2 from wrapping whatever the limit is.
  if (bytes > options.max_value_size || bytes > SIZE_MAX - line_bytes - 2) return Malformed();
  const size_t total = line_bytes + static_cast<size_t>(bytes) + 2;
  ResponseParseResult r;
  if (input.size() < total) {
    r.need = total;
    return r;
  }
  if (input[total - 2] != '\r' || input[total - 1] != '\n') return Malformed();
  response.value = input.substr(line_bytes, static_cast<size_t>(bytes));
  r.status = ResponseParseStatus::kResponse;
  r.consumed = total;
  r.response = response;
  return r;
}

}  // namespace

ResponseParseResult ParseResponse(std::string_view input, const ResponseParserOptions& options) {
  const auto* newline = static_cast<const char*>(std::memchr(input.data(), '\n', input.size()));
  const size_t line_end = newline ? static_cast<size_t>(newline - input.data()) : input.size();
  // The limit counts the line without its terminator, so that the verdict does not depend on
  // whether the "\n" after a final "\r" has arrived yet.
  const size_t length = line_end > 0 && input[line_end - 1] == '\r' ? line_end - 1 : line_end;
  if (length > options.max_line_length) return Malformed();
  if (newline == nullptr) {
    ResponseParseResult r;
    r.need = input.size() + 1;
    return r;
  }
  const size_t line_bytes = line_end + 1;
  if (line_bytes < 2 || input[line_bytes - 2] != '\r') return Malformed();
  const std::string_view line = input.substr(0, line_bytes - 2);

  Response response;
  ResponseParseResult done;
  done.status = ResponseParseStatus::kResponse;
  done.consumed = line_bytes;

  std::string_view rest = line;
  const std::string_view word = NextWord(&rest);
  for (const Word& w : kBareWords) {
    if (line == w.word) {
      done.response.type = w.type;
      return done;
    }
  }
  for (const Word& w : kTextWords) {
    if (word == w.word) {
      done.response.type = w.type;
      done.response.text = rest;
      return done;
    }
  }
  if (line.starts_with("ERROR")) {
    done.response.type = ResponseType::kError;
    done.response.text = line.substr(5);
    return done;
  }
  if (word == "VALUE") {
    response.type = ResponseType::kValue;
    response.key = NextWord(&rest);
    const std::string_view flags = NextWord(&rest);
    const std::string_view bytes_token = NextWord(&rest);
    uint64_t bytes = 0;
    uint64_t client_flags = 0;
    // Strict, unlike the server side: no server sends flags wider than 32 bits.
    if (response.key.empty() || !AllDigits(flags) || !AllDigits(bytes_token) ||
        !ParseUint64(flags, &client_flags) || client_flags > UINT32_MAX ||
        !ParseUint64(bytes_token, &bytes)) {
      return Malformed();
    }
    response.client_flags = static_cast<uint32_t>(client_flags);
    if (!rest.empty()) {
      const std::string_view cas = NextWord(&rest);
      if (!rest.empty() || !AllDigits(cas) || !ParseUint64(cas, &response.cas)) {
        return Malformed();
      }
      response.has_cas = true;
    }
    return WithBlock(input, line_bytes, bytes, options, response);
  }
  if (word == "VA") {
    response.type = ResponseType::kMetaValue;
    const std::string_view bytes_token = NextWord(&rest);
    uint64_t bytes = 0;
    if (!AllDigits(bytes_token) || !ParseUint64(bytes_token, &bytes)) return Malformed();
    response.text = rest;
    return WithBlock(input, line_bytes, bytes, options, response);
  }
  if (word == "STAT") {
    done.response.type = ResponseType::kStat;
    done.response.name = NextWord(&rest);
    done.response.text = rest;
    if (done.response.name.empty()) return Malformed();
    return done;
  }
  // incr/decr: a number, which memcached may pad with trailing spaces.
  std::string_view digits = line;
  while (!digits.empty() && digits.back() == ' ') digits.remove_suffix(1);
  if (AllDigits(digits) && ParseUint64(digits, &done.response.number)) {
    done.response.type = ResponseType::kNumber;
    return done;
  }
  return Malformed();
}

}  // namespace spillway::protocol
