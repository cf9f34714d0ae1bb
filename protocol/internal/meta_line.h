// The command line of a meta command (mg, ms, md, ma, mn, me). Internal to the protocol module.

#ifndef SPILLWAY_PROTOCOL_INTERNAL_META_LINE_H_
#define SPILLWAY_PROTOCOL_INTERNAL_META_LINE_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

#include "protocol/internal/tokenizer.h"
#include "protocol/request.h"

namespace spillway::protocol {

// What became of a meta line; the request itself is written in place.
struct MetaLine {
  std::string_view error;    // non-empty: answer this instead
  int64_t data_length = -1;  // ms: the data block that follows the line
  uint64_t discard = 0;      // on error: bytes after the line to drop unread
};

// `tokens[0]` is a two-letter word starting with 'm'. Fills *request, a default-constructed one.
// A base64 key (b flag) is decoded into `scratch` (capacity `scratch_size`).
MetaLine ParseMetaLine(const Tokens& tokens, std::string_view line, Request* request, char* scratch,
                       size_t scratch_size, size_t max_item_size);

}  // namespace spillway::protocol

#endif  // SPILLWAY_PROTOCOL_INTERNAL_META_LINE_H_
