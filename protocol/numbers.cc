#include "protocol/numbers.h"

#include <cstring>

namespace spillway::protocol {
namespace {

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

// strtoull/strtoll over a view: the magnitude (saturated flag on overflow), the sign and where
// the digits ended. Returns false when no digit was found (strto* would set endptr = str).
struct Conversion {
  uint64_t magnitude = 0;
  bool negative = false;
  bool overflow = false;
  size_t end = 0;  // index just past the last digit
};

bool Convert(std::string_view s, Conversion* c) {
  size_t i = 0;
  while (i < s.size() && IsSpace(s[i])) ++i;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    c->negative = s[i] == '-';
    ++i;
  }
  const size_t digits_start = i;
  for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
    const uint64_t digit = static_cast<uint64_t>(s[i] - '0');
    if (c->magnitude > (UINT64_MAX - digit) / 10) c->overflow = true;
    c->magnitude = c->magnitude * 10 + digit;
  }
  if (i == digits_start) return false;
  c->end = i;
  // memcached: the number must be followed by whitespace or the end of the token.
  return i == s.size() || IsSpace(s[i]);
}

bool HasMinus(std::string_view s) { return s.find('-') != std::string_view::npos; }

}  // namespace

bool ParseUint64(std::string_view token, uint64_t* out) {
  *out = 0;
  Conversion c;
  if (!Convert(token, &c) || c.overflow) return false;
  const uint64_t value = c.negative ? 0 - c.magnitude : c.magnitude;
  if (static_cast<int64_t>(value) < 0 && HasMinus(token)) return false;
  *out = value;
  return true;
}

bool ParseUint32(std::string_view token, uint32_t* out) {
  *out = 0;
  uint64_t value = 0;
  if (!ParseUint64(token, &value)) return false;
  *out = static_cast<uint32_t>(value);
  return true;
}

bool ParseInt64(std::string_view token, int64_t* out) {
  *out = 0;
  Conversion c;
  if (!Convert(token, &c) || c.overflow) return false;
  const uint64_t limit = c.negative ? uint64_t{1} << 63 : (uint64_t{1} << 63) - 1;
  if (c.magnitude > limit) return false;
  *out = c.negative ? static_cast<int64_t>(0 - c.magnitude) : static_cast<int64_t>(c.magnitude);
  return true;
}

bool ParseInt32(std::string_view token, int32_t* out) {
  *out = 0;
  int64_t value = 0;
  if (!ParseInt64(token, &value)) return false;
  *out = static_cast<int32_t>(value);
  return true;
}

}  // namespace spillway::protocol
