// Overlapping the memory loads of pipelined reads. A get that hits costs two cache misses (the
// index slot, then the item), and in a pipeline each waited for the one before: with the keys of
// the next reads hinted to the store first, their loads overlap. Measured in docs/benchmarks.md.

#ifndef SPILLWAY_SERVER_PREFETCH_H_
#define SPILLWAY_SERVER_PREFETCH_H_

#include <cstddef>
#include <cstring>
#include <string_view>

#include "protocol/request.h"

namespace spillway::server {

class Shard;

// Enough to cover a pipeline of gets or a multi-get's next stretch; more would only evict what
// was fetched before it is used.
inline constexpr size_t kMaxPrefetchKeys = 32;

// Calls key(k) for each key of the complete read requests (get, gets, mg) at the front of
// `input`, which starts at a request, stopping at the first other request or after `max_keys`
// keys. Returns how many bytes the requests whose keys were all visited take.
template <typename KeyFn>
size_t ForEachReadKey(std::string_view input, size_t max_keys, KeyFn&& key) {
  size_t keys = 0;
  size_t covered = 0;
  while (covered < input.size()) {
    const char* start = input.data() + covered;
    const auto* newline =
        static_cast<const char*>(std::memchr(start, '\n', input.size() - covered));
    if (newline == nullptr) return covered;
    std::string_view line(start, static_cast<size_t>(newline - start));
    if (line.ends_with('\r')) line.remove_suffix(1);
    std::string_view list;
    if (line.starts_with("get ")) {
      list = line.substr(4);
    } else if (line.starts_with("gets ")) {
      list = line.substr(5);
    } else if (line.starts_with("mg ")) {
      list = line.substr(3);
      list = list.substr(0, list.find(' '));  // the key; its flags follow
    }
    protocol::TokenIterator it(list);
    std::string_view k;
    bool any = false;
    while (it.Next(&k)) {
      if (keys == max_keys) return covered;
      key(k);
      ++keys;
      any = true;
    }
    if (!any) return covered;
    covered = static_cast<size_t>(newline + 1 - input.data());
  }
  return covered;
}

// Hints `shard`'s store with the keys it owns of the reads at the front of `input` (at most
// kMaxPrefetchKeys). Returns ForEachReadKey's count of bytes covered.
size_t PrefetchReads(std::string_view input, Shard& shard);

}  // namespace spillway::server

#endif  // SPILLWAY_SERVER_PREFETCH_H_
