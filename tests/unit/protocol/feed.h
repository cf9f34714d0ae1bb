// Test helpers: feed bytes to a RequestParser the way a connection does, and describe what came
// out in one comparable string per request or error.

#ifndef SPILLWAY_TESTS_UNIT_PROTOCOL_FEED_H_
#define SPILLWAY_TESTS_UNIT_PROTOCOL_FEED_H_

#include <string>
#include <string_view>
#include <vector>

#include "protocol/request_parser.h"

namespace spillway::protocol::testing {

// Every field of a kRequest or kError result, as text ("set key=foo flags=5 ... value=bar").
std::string Describe(const ParseResult& result);

// Feeds `input` in pieces of `chunk` bytes (0: all at once): append the piece, parse until
// kNeedMore, drop consumed bytes. Returns Describe() of every kRequest and kError in order; a
// close ends the feeding (with "close" as the last entry). Leftover bytes that never formed a
// request end with an entry "partial:<n>".
std::vector<std::string> Feed(std::string_view input, size_t chunk,
                              const ParserOptions& options = ParserOptions());

// The chunk sizes every parser test runs through: whole, then 1, 2, 5, 10, 100 bytes.
inline constexpr size_t kChunkSizes[] = {0, 1, 2, 5, 10, 100};

}  // namespace spillway::protocol::testing

#endif  // SPILLWAY_TESTS_UNIT_PROTOCOL_FEED_H_
