#include <gtest/gtest.h>

#include <string>

#include "storage/store.h"

namespace spillway::storage {
namespace {

constexpr int64_t kNow = 1'700'000'000;

// Regression (found in review): when every item had been read since its last move, each eviction
// round moved a whole segment of items forward and freed nothing, so one write could copy the
// entire main queue (233 ms for a 1 GiB store). Now only the first round of an allocation moves
// items: a write copies at most one segment's worth.
TEST(StoreEviction, OneWriteMovesAtMostOneSegmentOfItems) {
  Options o;
  o.memory_limit_bytes = 16 << 20;
  o.segment_size = 64 << 10;
  Store store(o);
  const std::string value(1000, 'v');
  const size_t per_segment = (64 << 10) / 1000 + 1;
  // Everything hot: written, then read before the next write, until eviction starts.
  int i = 0;
  for (; store.stats().evictions == 0 && i < 1'000'000; ++i) {
    const std::string key = "k" + std::to_string(i);
    store.Write(Key(key), value, 0, 0, kNow);
    ASSERT_TRUE(store.Read(Key(key), kNow).item);
  }
  // Re-read every resident item so that all of them count as hot.
  for (int j = 0; j < i; ++j) store.Read(Key("k" + std::to_string(j)), kNow);
  for (int n = 0; n < 2000; ++n, ++i) {
    const uint64_t moved = store.stats().moved;
    ASSERT_EQ(store.Write(Key("k" + std::to_string(i)), value, 0, 0, kNow).status,
              WriteStatus::kStored);
    ASSERT_LE(store.stats().moved - moved, per_segment) << "write " << n;
  }
}

// S3-FIFO keeps a hot set through a stream of one-hit keys larger than the cache.
TEST(StoreEviction, HotKeysSurviveAScan) {
  Options o;
  o.memory_limit_bytes = 8 << 20;
  o.segment_size = 64 << 10;
  Store store(o);
  const std::string value(100, 'v');
  for (int i = 0; i < 1000; ++i) {
    store.Write(Key("hot" + std::to_string(i)), value, 0, 0, kNow);
  }
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 1000; ++i) store.Read(Key("hot" + std::to_string(i)), kNow);
  }
  // A scan of never-reused keys, several times the cache, with the hot set read now and then.
  for (int i = 0; i < 200'000; ++i) {
    store.Write(Key("scan" + std::to_string(i)), value, 0, 0, kNow);
    if (i % 100 == 0) store.Read(Key("hot" + std::to_string(i / 100 % 1000)), kNow);
  }
  ASSERT_GT(store.stats().evictions, 100'000u);
  int resident = 0;
  for (int i = 0; i < 1000; ++i)
    resident += static_cast<bool>(store.Read(Key("hot" + std::to_string(i)), kNow).item);
  EXPECT_GT(resident, 900) << "the scan flushed the hot set";
}

}  // namespace
}  // namespace spillway::storage
