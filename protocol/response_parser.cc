#include "protocol/response_parser.h"

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
  if (bytes > options.max_value_size) return Malformed();
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
  if (newline == nullptr) {
    if (input.size() > options.max_line_length) return Malformed();
    ResponseParseResult r;
    r.need = input.size() + 1;
    return r;
  }
  const size_t line_bytes = static_cast<size_t>(newline - input.data()) + 1;
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
    if (response.key.empty() || !AllDigits(flags) || !AllDigits(bytes_token) ||
        !ParseUint32(flags, &response.client_flags) || !ParseUint64(bytes_token, &bytes)) {
      return Malformed();
    }
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
