// Decimal numbers as memcached reads them (its safe_strto* helpers over strtoul/strtol): leading
// whitespace and a sign are accepted, the number must end at the token's end or at whitespace,
// and overflow fails. 32-bit results are truncated from the 64-bit conversion, as memcached's
// are, so that the same token means the same number here and there.

#ifndef SPILLWAY_PROTOCOL_NUMBERS_H_
#define SPILLWAY_PROTOCOL_NUMBERS_H_

#include <cstdint>
#include <string_view>

namespace spillway::protocol {

// Each returns false (and leaves *out 0) when `token` is not a number by memcached's rules.
bool ParseUint64(std::string_view token, uint64_t* out);  // safe_strtoull
bool ParseUint32(std::string_view token, uint32_t* out);  // safe_strtoul
bool ParseInt64(std::string_view token, int64_t* out);    // safe_strtoll
bool ParseInt32(std::string_view token, int32_t* out);    // safe_strtol

}  // namespace spillway::protocol

#endif  // SPILLWAY_PROTOCOL_NUMBERS_H_
