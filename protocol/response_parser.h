// Incremental parser of memcached's text-protocol responses, client side (the client library,
// spillway-bench, the tests). Pure: no I/O, no allocation; views point into `input`.
//
// It parses one unit at a time (see response.h), whatever command it answers: every response
// word is distinct, so no context is needed. A line it does not recognise is kMalformed, which
// a client treats as a broken connection.

#ifndef SPILLWAY_PROTOCOL_RESPONSE_PARSER_H_
#define SPILLWAY_PROTOCOL_RESPONSE_PARSER_H_

#include <cstddef>
#include <string_view>

#include "protocol/response.h"

namespace spillway::protocol {

struct ResponseParserOptions {
  // A response line longer than this, or a data block larger than max_value_size, is
  // kMalformed: a client never buffers without bound for a confused or hostile server.
  size_t max_line_length = 64 * 1024;
  size_t max_value_size = 64 * 1024 * 1024;
};

enum class ResponseParseStatus : uint8_t {
  kResponse,   // `response` is complete and took `consumed` bytes
  kNeedMore,   // nothing consumed; `need` is a lower bound on the bytes required
  kMalformed,  // the input is not a memcached response
};

struct ResponseParseResult {
  ResponseParseStatus status = ResponseParseStatus::kNeedMore;
  size_t consumed = 0;
  size_t need = 0;
  Response response;
};

ResponseParseResult ParseResponse(std::string_view input,
                                  const ResponseParserOptions& options = ResponseParserOptions());

}  // namespace spillway::protocol

#endif  // SPILLWAY_PROTOCOL_RESPONSE_PARSER_H_
