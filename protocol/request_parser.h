// Incremental parser of memcached's text protocol (classic and meta commands), server side.
//
// Pure: bytes in, requests out. No I/O, no clock, no store, no allocation. The caller owns the
// input buffer, appends whatever arrived, and calls Parse() until it returns kNeedMore:
//
//   for (;;) {
//     ParseResult r = parser.Parse(buffer.readable());
//     if (r.status == ParseStatus::kNeedMore) break;   // read more bytes, then call again
//     ... act on r (kRequest / kError), then ...
//     buffer.Consume(r.consumed);
//   }
//
// Answers match memcached 1.6 byte for byte (see errors.h for the strings), with two documented
// differences: a key with a control character is rejected (memcached stores it), and the line
// length limit applies whether or not the newline has already arrived, so that the outcome never
// depends on how TCP split the bytes.
//
// Thread safety: a RequestParser belongs to one connection and is used by one thread.

#ifndef SPILLWAY_PROTOCOL_REQUEST_PARSER_H_
#define SPILLWAY_PROTOCOL_REQUEST_PARSER_H_

#include <array>
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "protocol/request.h"

namespace spillway::protocol {

inline constexpr size_t kMinLineLength = 128;

struct ParserOptions {
  // Largest data block a storage command may carry. A larger one is answered with
  // "SERVER_ERROR object too large for cache" and its bytes are discarded unread.
  size_t max_item_size = 1024 * 1024;
  // Longest command line (without its newline). A longer line closes the connection, as
  // memcached does, so a client cannot make the server buffer an endless line. Never less than
  // kMinLineLength: telling a multi-get line from others may take that many bytes.
  size_t max_line_length = 2048;
  // get/gets lines may be longer (large multi-gets), up to this bound.
  size_t max_multiget_line_length = 1024 * 1024;
};

enum class ParseStatus : uint8_t {
  // `request` is complete; its `consumed` bytes (line and data block) belong to it.
  kRequest,
  // No complete request at the front of the input; nothing was consumed. Call again once more
  // bytes have been appended. `need` is a lower bound on the total bytes required.
  kNeedMore,
  // Answer `error` (unless `request.noreply`), drop `consumed` bytes, and close the connection
  // after the answer when `close` is set. An empty `error` means: send nothing.
  kError,
  // `consumed` bytes belonged to a data block that an earlier kError rejected; drop them and
  // call again. Nothing is answered.
  kDiscarded,
};

struct ParseResult {
  ParseStatus status = ParseStatus::kNeedMore;
  size_t consumed = 0;
  size_t need = 0;
  // kRequest: the request. kError: what was understood before the error (at least `command`
  // and `noreply`; `key` for "object too large", where memcached also drops the stored item
  // for a set).
  Request request;
  std::string_view error;  // kError: the response line without "\r\n"; points to static storage
  bool close = false;      // kError: close the connection after answering
};

class RequestParser {
 public:
  explicit RequestParser(const ParserOptions& options = ParserOptions());

  RequestParser(const RequestParser&) = delete;
  RequestParser& operator=(const RequestParser&) = delete;

  // Parses one request from the front of `input`. See ParseStatus for what to do with each
  // outcome. Views in the result stay valid until the next call or until `input`'s bytes are
  // consumed by the caller.
  ParseResult Parse(std::string_view input);

  // Bytes of a rejected data block still to be discarded (0 when none).
  uint64_t pending_discard() const { return discard_; }

 private:
  ParserOptions options_;
  uint64_t discard_ = 0;
  // Decoded base64 keys (meta b flag) live here.
  std::array<char, kMaxKeyLength> key_scratch_{};
};

}  // namespace spillway::protocol

#endif  // SPILLWAY_PROTOCOL_REQUEST_PARSER_H_
