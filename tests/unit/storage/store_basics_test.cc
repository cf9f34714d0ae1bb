#include <gtest/gtest.h>

#include <string>

#include "storage/store.h"

namespace spillway::storage {
namespace {

constexpr int64_t kNow = 1'700'000'000;

Options SmallStore() {
  Options o;
  o.memory_limit_bytes = 4 << 20;
  o.segment_size = 64 << 10;
  return o;
}

TEST(StoreBasics, SetThenGetReturnsTheValue) {
  Store store(SmallStore());
  const WriteResult w = store.Write(Key("k"), "value", 7, 0, kNow);
  ASSERT_EQ(w.status, WriteStatus::kStored);
  ReadResult r = store.Read(Key("k"), kNow);
  ASSERT_TRUE(r.item);
  EXPECT_EQ(r.item.value(), "value");
  EXPECT_EQ(r.item.client_flags(), 7u);
  EXPECT_EQ(r.item.cas(), w.cas);
  EXPECT_FALSE(store.Read(Key("missing"), kNow).item);
}

TEST(StoreBasics, ManyKeysOverTheBudgetEvictButStayWithinIt) {
  Options o = SmallStore();
  Store store(o);
  const std::string value(1000, 'v');
  for (int i = 0; i < 20000; ++i) {
    const std::string key = "key" + std::to_string(i);
    ASSERT_EQ(store.Write(Key(key), value, 0, 0, kNow).status, WriteStatus::kStored) << i;
    ASSERT_LE(store.stats().allocated_bytes, o.memory_limit_bytes);
  }
  const StoreStats s = store.stats();
  EXPECT_GT(s.evictions, 0u);
  EXPECT_LT(s.items, 20000u);
  // The newest key survives.
  EXPECT_TRUE(store.Read(Key("key19999"), kNow).item);
}

TEST(StoreBasics, ReferenceOutlivesOverwriteAndEviction) {
  Options o = SmallStore();
  Store store(o);
  store.Write(Key("pinned"), "original", 0, 0, kNow);
  ReadResult r = store.Read(Key("pinned"), kNow);
  ASSERT_TRUE(r.item);
  store.Write(Key("pinned"), "replaced", 0, 0, kNow);
  const std::string value(1000, 'x');
  for (int i = 0; i < 20000; ++i) store.Write(Key("f" + std::to_string(i)), value, 0, 0, kNow);
  EXPECT_EQ(r.item.value(), "original");
  EXPECT_LE(store.stats().allocated_bytes, o.memory_limit_bytes);
}

}  // namespace
}  // namespace spillway::storage
