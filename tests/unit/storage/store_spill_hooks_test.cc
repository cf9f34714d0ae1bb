// What the store offers the spill tier: evicted items (with CAS and binary-key mark, and never an
// invalidated one), flush_all as it takes effect, a walk of the live items, Contains, and
// room in the budget for the tier's index (Charge).

#include <gtest/gtest.h>

#include <map>
#include <string>

#include "storage/store.h"

namespace spillway::storage {
namespace {

constexpr int64_t kNow = 1'700'000'000;

struct Seen {
  std::string value;
  uint32_t flags = 0;
  int64_t exptime = 0;
  uint64_t cas = 0;
  bool binary_key = false;
};

class RecordingSink : public EvictionSink {
 public:
  void Evicted(const ItemCopy& item) override {
    evicted[std::string(item.key)] =
        Seen{std::string(item.value), item.client_flags, item.exptime, item.cas, item.binary_key};
  }
  void Flushed() override { ++flushes; }
  std::map<std::string, Seen> evicted;
  int flushes = 0;
};

Options Small(EvictionSink* sink) {
  Options o;
  o.memory_limit_bytes = 4 << 20;
  o.segment_size = 64 << 10;
  o.eviction_sink = sink;
  return o;
}

TEST(StoreSpillHooks, EvictedItemsCarryWhatAReadWouldHaveSeen) {
  RecordingSink sink;
  Store store(Small(&sink));
  WriteOptions binary;
  binary.binary_key = true;
  store.Write(Key("first"), "one", 7, kNow + 100, kNow, binary);
  ReadOptions peek;
  peek.bump = false;
  const uint64_t cas = store.Read(Key("first"), kNow, peek).item.cas();
  for (int i = 0; !sink.evicted.contains("first") && i < 100'000; ++i) {
    store.Write(Key("filler" + std::to_string(i)), std::string(500, 'f'), 0, 0, kNow);
  }
  ASSERT_TRUE(sink.evicted.contains("first"));
  const Seen& s = sink.evicted["first"];
  EXPECT_EQ(s.value, "one");
  EXPECT_EQ(s.flags, 7u);
  EXPECT_EQ(s.exptime, kNow + 100);
  EXPECT_EQ(s.cas, cas);
  EXPECT_TRUE(s.binary_key);
  EXPECT_FALSE(store.Contains(Key("first"), kNow));
}

TEST(StoreSpillHooks, InvalidatedItemsAreNotOffered) {
  RecordingSink sink;
  Store store(Small(&sink));
  store.Write(Key("stale"), "old", 0, 0, kNow);
  DeleteOptions invalidate;
  invalidate.invalidate = true;
  ASSERT_EQ(store.Delete(Key("stale"), kNow, invalidate), DeleteStatus::kDeleted);
  for (int i = 0; i < 20'000; ++i) {
    store.Write(Key("filler" + std::to_string(i)), std::string(500, 'f'), 0, 0, kNow);
  }
  ASSERT_GT(store.stats().evictions, 0u);
  EXPECT_FALSE(sink.evicted.contains("stale"));
}

TEST(StoreSpillHooks, FlushedIsCalledWhenTheFlushTakesEffect) {
  RecordingSink sink;
  Store store(Small(&sink));
  store.FlushAll(kNow, /*delay=*/10);
  EXPECT_EQ(sink.flushes, 0);
  store.Contains(Key("x"), kNow + 9);
  EXPECT_EQ(sink.flushes, 0);
  store.Contains(Key("x"), kNow + 10);
  EXPECT_EQ(sink.flushes, 1);
  store.FlushAll(kNow + 11);
  EXPECT_EQ(sink.flushes, 2);
}

TEST(StoreSpillHooks, ForEachLiveVisitsEachLiveItemOnce) {
  Store store(Small(nullptr));
  store.Write(Key("a"), "1", 0, 0, kNow);
  store.Write(Key("a"), "2", 0, 0, kNow);  // the first version is superseded
  store.Write(Key("b"), "3", 5, 0, kNow);
  store.Write(Key("c"), "4", 0, 0, kNow);
  store.Delete(Key("c"), kNow);
  store.Write(Key("d"), "5", 0, 1, kNow);  // expires a second later
  std::map<std::string, std::string> seen;
  store.ForEachLive(kNow + 2, [&](const ItemCopy& item) {
    EXPECT_TRUE(seen.emplace(std::string(item.key), std::string(item.value)).second);
  });
  EXPECT_EQ(seen, (std::map<std::string, std::string>{{"a", "2"}, {"b", "3"}}));
}

TEST(StoreSpillHooks, ChargedBytesCountAgainstTheBudget) {
  RecordingSink sink;
  Store store(Small(&sink));
  for (int i = 0; store.stats().evictions == 0 && i < 100'000; ++i) {  // full
    store.Write(Key("k" + std::to_string(i)), std::string(1000, 'v'), 0, 0, kNow);
  }
  const StoreStats before = store.stats();
  ASSERT_TRUE(store.Charge(1 << 20, kNow));
  const StoreStats after = store.stats();
  EXPECT_EQ(after.charged_bytes, 1u << 20);
  EXPECT_LE(after.allocated_bytes, after.limit_bytes);
  EXPECT_LT(after.items, before.items);       // room was made by evicting
  EXPECT_FALSE(store.Charge(8 << 20, kNow));  // more than the whole budget
  ASSERT_TRUE(store.Charge(-(1 << 20), kNow));
  EXPECT_EQ(store.stats().charged_bytes, 0u);
}

}  // namespace
}  // namespace spillway::storage
