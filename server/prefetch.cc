#include "server/prefetch.h"

#include <cstdint>

#include "server/server.h"
#include "server/shard.h"
#include "storage/store.h"

namespace spillway::server {

size_t PrefetchReads(std::string_view input, Shard& shard) {
  const storage::Store& store = shard.store();
  const Server& server = shard.server();
  uint64_t hashes[kMaxPrefetchKeys];
  size_t n = 0;
  const size_t covered = ForEachReadKey(input, kMaxPrefetchKeys, [&](std::string_view key) {
    const uint64_t hash = storage::Key(key).hash;
    if (server.OwnerOf(hash) != shard.index()) return;
    store.PrefetchIndex(hash);
    hashes[n++] = hash;
  });
  // The slots are on their way; reading them now waits for the first, not for each in turn.
  for (size_t i = 0; i < n; ++i) store.PrefetchItem(hashes[i]);
  return covered;
}

}  // namespace spillway::server
