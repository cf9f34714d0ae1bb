// Helpers shared by execute.cc (classic commands) and execute_meta.cc (meta commands). Internal
// to the server module.

#ifndef SPILLWAY_SERVER_INTERNAL_EXECUTE_UTIL_H_
#define SPILLWAY_SERVER_INTERNAL_EXECUTE_UTIL_H_

#include <algorithm>
#include <cstdint>
#include <string>
#include <string_view>

#include "protocol/base64.h"
#include "protocol/encoder.h"
#include "protocol/request.h"
#include "protocol/response.h"
#include "server/execute.h"
#include "server/reply.h"

namespace spillway::server::internal {

inline constexpr std::string_view kCrlf = "\r\n";

// The meta commands (mg, ms, md, ma, me); defined in execute_meta.cc.
void ExecuteMeta(const protocol::Request& request, std::string_view key, uint64_t hash,
                 const KeyContext& context, Reply* out);

inline void AppendLine(std::string_view line, Reply* out) {
  std::string* text = out->text();
  text->append(line);
  text->append(kCrlf);
}

// The absolute deadline the store gives an exptime (storage/store.cc, Store::Impl::Deadline):
// 0 never, negative already past (1), up to 30 days relative to `now`, beyond it absolute.
inline int64_t Deadline(int64_t exptime, int64_t now) {
  constexpr int64_t kMaxRelativeExptime = 60 * 60 * 24 * 30;
  if (exptime == 0) return 0;
  if (exptime < 0) return 1;
  const int64_t at = exptime <= kMaxRelativeExptime ? now + exptime : exptime;
  return std::clamp<int64_t>(at, 1, UINT32_MAX);
}

// An exptime that the store turns back into `deadline`.
inline int64_t ExptimeFor(int64_t deadline, int64_t now) {
  constexpr int64_t kMaxRelativeExptime = 60 * 60 * 24 * 30;
  if (deadline == 0) return 0;
  if (deadline <= now) return -1;
  return deadline > kMaxRelativeExptime ? deadline : deadline - now;
}

// ---- Pieces of the meta commands (execute_meta.cc).

// " k<key>", base64-encoded and followed by " b" for a binary key.
inline void AppendKey(std::string_view key, bool binary, std::string* text) {
  text->append(" k");
  if (!binary) {
    text->append(key);
    return;
  }
  protocol::Base64Encode(key, text);
  text->append(" b");
}

// The O and k return flags: all that md, ma's misses and mg's miss send back.
inline void AppendEchoes(const protocol::MetaFlags& m, std::string_view key, std::string* text) {
  protocol::TokenIterator it(m.tokens);
  for (std::string_view token; it.Next(&token);) {
    if (token[0] == 'O') {
      text->push_back(' ');
      text->append(token);
    } else if (token[0] == 'k') {
      AppendKey(key, m.Has('b'), text);
    }
  }
}

// mg and ma's t: seconds left, -1 for never. memcached prints it as an unsigned 32-bit number.
inline void AppendTtl(int64_t deadline, int64_t now, std::string* text) {
  text->append(" t");
  if (deadline == 0) {
    text->append("-1");
  } else {
    protocol::AppendDecimal(static_cast<uint32_t>(deadline - now), text);
  }
}

// Sends `line` and "\r\n" unless the meta q flag hides this answer.
inline void Finish(const protocol::Request& r, protocol::ResponseType type, std::string_view line,
                   Reply* out) {
  if (r.meta.Has('q') && protocol::QuietHides(r.command, type)) return;
  AppendLine(line, out);
}

// The bytes memcached's item takes: a 48-byte header, the key and its NUL, 4 bytes of client
// flags unless they are 0, the value and its "\r\n", the CAS.
inline uint64_t MemcachedItemSize(size_t key_length, size_t value_length, uint32_t client_flags) {
  return 48 + key_length + 1 + (client_flags != 0 ? 4 : 0) + value_length + 2 + 8;
}

// memcached's slab class for an item of `size` bytes (default -n 48, -f 1.25, 512 KiB chunks).
inline unsigned SlabClass(uint64_t size) {
  constexpr double kFactor = 1.25;
  constexpr unsigned kChunkMax = 512 * 1024;
  unsigned chunk = 96;  // sizeof(item) + chunk_size
  unsigned id = 1;
  for (; chunk < kChunkMax / kFactor; ++id) {
    if (chunk % 8 != 0) chunk += 8 - chunk % 8;
    if (size <= chunk) return id;
    chunk = static_cast<unsigned>(chunk * kFactor);
  }
  return id;  // the largest class holds everything bigger, chunked
}

}  // namespace spillway::server::internal

#endif  // SPILLWAY_SERVER_INTERNAL_EXECUTE_UTIL_H_
