// Base64 (RFC 4648 alphabet, '=' padding) for meta-command binary keys (the b flag), decoding
// exactly as memcached does: characters outside the alphabet are skipped, the remaining count
// must be a multiple of four, and decoding stops after the first padded block.

#ifndef SPILLWAY_PROTOCOL_BASE64_H_
#define SPILLWAY_PROTOCOL_BASE64_H_

#include <cstddef>
#include <string>
#include <string_view>

namespace spillway::protocol {

// Decodes `in` into `out` (capacity `out_len`; may alias `in`). Returns the decoded length, or 0
// when `in` is not valid base64 or does not fit.
size_t Base64Decode(std::string_view in, char* out, size_t out_len);

// Appends the padded base64 encoding of `in` to `out`.
void Base64Encode(std::string_view in, std::string* out);

}  // namespace spillway::protocol

#endif  // SPILLWAY_PROTOCOL_BASE64_H_
