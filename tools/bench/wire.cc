#include "tools/bench/wire.h"

#include <charconv>
#include <cstring>

#include "protocol/encoder.h"
#include "tools/bench/keys.h"

namespace spillway::bench {

using protocol::AppendDecimal;
using protocol::ResponseParseResult;
using protocol::ResponseParseStatus;
using protocol::ResponseType;

namespace {

constexpr size_t kMaxKeyPrefix = 224;

// Reads a run of at most `max_digits` decimal digits ending in `stop`; false (nothing consumed)
// otherwise. No overflow at 19 digits.
bool Digits(const char** p, const char* end, int max_digits, char stop, uint64_t* value) {
  const char* q = *p;
  uint64_t v = 0;
  while (q < end && static_cast<unsigned>(*q - '0') < 10)
    v = v * 10 + static_cast<unsigned>(*q++ - '0');
  if (q == *p || q - *p > max_digits || q == end || *q != stop) return false;
  *value = v;
  *p = q + 1;
  return true;
}

bool FastValue(std::string_view in, ResponseParseResult* r) {
  static const protocol::ResponseParserOptions kLimits;
  const char* const begin = in.data();
  const char* const end = begin + in.size();
  const char* p = begin + 6;  // after "VALUE "
  const char* key = p;
  while (p < end && *p != ' ' && *p != '\r' && *p != '\n') ++p;
  if (p == key || p == end || *p != ' ') return false;
  const std::string_view key_view(key, static_cast<size_t>(p - key));
  ++p;
  uint64_t flags = 0;
  uint64_t bytes = 0;
  if (!Digits(&p, end, 10, ' ', &flags) || flags > UINT32_MAX ||
      !Digits(&p, end, 19, '\r', &bytes) || p == end || *p != '\n') {
    return false;
  }
  const size_t line_bytes = static_cast<size_t>(p + 1 - begin);
  if (line_bytes - 2 > kLimits.max_line_length || bytes > kLimits.max_value_size) return false;
  const size_t total = line_bytes + bytes + 2;
  if (in.size() < total || in[total - 2] != '\r' || in[total - 1] != '\n') return false;
  r->status = ResponseParseStatus::kResponse;
  r->consumed = total;
  r->response.type = ResponseType::kValue;
  r->response.key = key_view;
  r->response.client_flags = static_cast<uint32_t>(flags);
  r->response.value = in.substr(line_bytes, bytes);
  return true;
}

struct Bare {
  std::string_view line;  // with its "\r\n"
  ResponseType type;
};
constexpr Bare kBare[] = {{"END\r\n", ResponseType::kEnd},
                          {"STORED\r\n", ResponseType::kStored},
                          {"EN\r\n", ResponseType::kMetaMiss},
                          {"HD\r\n", ResponseType::kMetaHeader},
                          {"MN\r\n", ResponseType::kMetaNoop}};

}  // namespace

ResponseParseResult ParseReply(std::string_view input) {
  ResponseParseResult r;
  if (input.starts_with("VALUE ") && FastValue(input, &r)) return r;
  for (const Bare& b : kBare) {
    if (input.starts_with(b.line)) {
      r.status = ResponseParseStatus::kResponse;
      r.consumed = b.line.size();
      r.response.type = b.type;
      return r;
    }
  }
  return protocol::ParseResponse(input);
}

void AppendGet(Protocol protocol, std::string_view prefix, const uint64_t* keys, size_t count,
               std::string* out) {
  if (protocol == Protocol::kText && count == 1 && prefix.size() <= kMaxKeyPrefix) {
    // The commonest request, built on the stack and appended once: it is a visible part of the
    // bench's own cost at 2M gets/s.
    char line[kMaxKeyPrefix + 32];
    std::memcpy(line, "get ", 4);
    std::memcpy(line + 4, prefix.data(), prefix.size());
    char* p = std::to_chars(line + 4 + prefix.size(), line + sizeof line, keys[0]).ptr;
    std::memcpy(p, "\r\n", 2);
    out->append(line, static_cast<size_t>(p + 2 - line));
    return;
  }
  if (protocol == Protocol::kText) {
    out->append("get");
    for (size_t i = 0; i < count; ++i) {
      out->push_back(' ');
      AppendKey(prefix, keys[i], out);
    }
    out->append("\r\n");
    return;
  }
  if (count == 1) {
    out->append("mg ");
    AppendKey(prefix, keys[0], out);
    out->append(" v f\r\n");
    return;
  }
  // q hides the misses (EN); k names each hit, since the hits alone no longer say which is which.
  for (size_t i = 0; i < count; ++i) {
    out->append("mg ");
    AppendKey(prefix, keys[i], out);
    out->append(" v f k q\r\n");
  }
  out->append("mn\r\n");
}

void AppendSet(Protocol protocol, std::string_view prefix, uint64_t key, uint32_t version,
               const ValueModel& values, std::string* out) {
  const uint64_t size = values.SizeOf(key);
  if (protocol == Protocol::kText) {
    out->append("set ");
    AppendKey(prefix, key, out);
    out->push_back(' ');
    AppendDecimal(version, out);
    out->append(" 0 ");
    AppendDecimal(size, out);
  } else {
    out->append("ms ");
    AppendKey(prefix, key, out);
    out->push_back(' ');
    AppendDecimal(size, out);
    out->append(" F");
    AppendDecimal(version, out);
  }
  out->append("\r\n");
  values.AppendValue(key, version, out);
  out->append("\r\n");
}

bool ParseMetaValueFlags(std::string_view text, bool with_key, uint32_t* version,
                         std::string_view* key) {
  bool seen_f = false;
  bool seen_k = false;
  while (!text.empty()) {
    const size_t space = text.find(' ');
    const std::string_view token = text.substr(0, space);
    text.remove_prefix(space == std::string_view::npos ? text.size() : space + 1);
    if (token.size() < 2) return false;
    const std::string_view body = token.substr(1);
    if (token[0] == 'f' && !seen_f) {
      const auto [end, ec] = std::from_chars(body.data(), body.data() + body.size(), *version);
      if (ec != std::errc() || end != body.data() + body.size()) return false;
      seen_f = true;
    } else if (token[0] == 'k' && with_key && !seen_k) {
      *key = body;
      seen_k = true;
    } else {
      return false;
    }
  }
  return seen_f && seen_k == with_key;
}

}  // namespace spillway::bench
