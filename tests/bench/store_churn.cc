// Write latency under churn: the worst single Write, and how many took over 1 ms, while a store
// evicts (or grows its index). Not Google Benchmark: what matters here is the tail, per call.
//
//   store_churn [memory MiB] [distinct keys] [writes] [value bytes]
// docs/benchmarks.md records a run and what the slow writes were doing.

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "storage/store.h"

using spillway::storage::Key;
using spillway::storage::Options;
using spillway::storage::Store;
using spillway::storage::StoreStats;

int main(int argc, char** argv) {
  const size_t mib = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 256;
  const size_t keys = argc > 2 ? std::strtoul(argv[2], nullptr, 10) : 6'000'000;
  const size_t writes = argc > 3 ? std::strtoul(argv[3], nullptr, 10) : 12'000'000;
  const size_t value_size = argc > 4 ? std::strtoul(argv[4], nullptr, 10) : 32;
  Options o;
  o.memory_limit_bytes = mib << 20;
  Store store(o);
  const std::string value(value_size, 'v');
  double worst_us = 0;
  size_t over_1ms = 0;
  for (size_t i = 0; i < writes; ++i) {
    const std::string key = "key:" + std::to_string(i % keys);
    const StoreStats before = store.stats();
    const auto start = std::chrono::steady_clock::now();
    store.Write(Key(key), value, 0, 0, 1'700'000'000);
    const double us =
        std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
    if (us > 1000) ++over_1ms;
    if (us > 1000) {
      const StoreStats after = store.stats();
      std::printf(
          "write %zu: %.1f ms, evicted %lu, moved %lu, index %lu -> %lu slots, "
          "migration pending %lu -> %lu\n",
          i, us / 1000, static_cast<unsigned long>(after.evictions - before.evictions),
          static_cast<unsigned long>(after.moved - before.moved),
          static_cast<unsigned long>(before.index_capacity),
          static_cast<unsigned long>(after.index_capacity),
          static_cast<unsigned long>(before.index_migration_pending),
          static_cast<unsigned long>(after.index_migration_pending));
    }
    if (us > worst_us) worst_us = us;
  }
  const StoreStats s = store.stats();
  std::printf("%zu writes: worst %.1f ms, %zu over 1 ms; %lu items, %lu evictions\n", writes,
              worst_us / 1000, over_1ms, static_cast<unsigned long>(s.items),
              static_cast<unsigned long>(s.evictions));
  // What the budget holds beyond the items' own bytes (header, key, value): index, ghost, free
  // and partly filled segments, dead bytes.
  std::printf("allocated %.1f MiB, items %.1f MiB: %.1f B per item beyond the items\n",
              s.allocated_bytes / 1048576.0, s.item_bytes / 1048576.0,
              static_cast<double>(s.allocated_bytes - s.item_bytes) / s.items);
  return 0;
}
