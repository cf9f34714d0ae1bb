// Encoding of requests (client side) and responses (server side) into memcached's text protocol.
// The inverse of RequestParser and ParseResponse: parsing what these write gives back an equal
// Request or Response.
//
// Every function appends to `out` and never clears it, so a caller can batch many messages into
// one buffer. No function here fails: the caller passes well-formed fields (keys without spaces
// or control characters, at most kMaxKeyLength bytes).

#ifndef SPILLWAY_PROTOCOL_ENCODER_H_
#define SPILLWAY_PROTOCOL_ENCODER_H_

#include <cstdint>
#include <string>
#include <string_view>

#include "protocol/request.h"
#include "protocol/response.h"

namespace spillway::protocol {

// The request line (and data block) for `request`. Meta commands write `key_token` and
// `meta.tokens` as they are; classic retrieval commands write `keys` (or `key` when `keys` is
// empty).
void EncodeRequest(const Request& request, std::string* out);

// The response unit, line and data block included.
void EncodeResponse(const Response& response, std::string* out);

// Pieces for a server that sends values straight from item memory: the caller appends the
// header, then the value and "\r\n" (or points an iovec at them).
// "VALUE <key> <flags> <bytes>[ <cas>]\r\n"; cas == nullptr leaves it out.
void AppendValueHeader(std::string_view key, uint32_t client_flags, size_t bytes,
                       const uint64_t* cas, std::string* out);
// "VA <bytes>" without the end of line, for meta flags to follow.
void AppendMetaValueHeader(size_t bytes, std::string* out);
// A meta return flag: " <flag><value>".
void AppendMetaFlag(char flag, uint64_t value, std::string* out);
void AppendMetaFlag(char flag, std::string_view value, std::string* out);
void AppendDecimal(uint64_t value, std::string* out);
void AppendSignedDecimal(int64_t value, std::string* out);

}  // namespace spillway::protocol

#endif  // SPILLWAY_PROTOCOL_ENCODER_H_
