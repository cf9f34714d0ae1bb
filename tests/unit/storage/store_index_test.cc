// The index grows by moving entries a few at a time, so no single call rehashes the table.

#include <gtest/gtest.h>

#include <string>

#include "storage/store.h"

namespace spillway::storage {
namespace {

constexpr int64_t kNow = 1'700'000'000;

std::string KeyOf(int i) { return "key:" + std::to_string(i); }

TEST(StoreIndex, GrowthMovesEntriesIncrementallyAndLosesNone) {
  Options o;
  o.memory_limit_bytes = 256 << 20;  // no eviction: every key must stay readable
  Store store(o);
  int written = 0;
  // Write until a rebuild starts.
  while (store.stats().index_migration_pending == 0) {
    ASSERT_EQ(store.Write(Key(KeyOf(written)), "v", 0, 0, kNow).status, WriteStatus::kStored);
    ++written;
    ASSERT_LT(written, 1'000'000) << "the index never grew";
  }
  const uint64_t pending = store.stats().index_migration_pending;
  EXPECT_GT(pending, 32u) << "the whole old table moved in one call";
  // Every key reads back while entries live in either table, and reads move the rest along.
  uint64_t last = pending;
  for (int i = 0; i < written; ++i) {
    ASSERT_TRUE(store.Read(Key(KeyOf(i)), kNow).item) << i;
    const uint64_t now_pending = store.stats().index_migration_pending;
    ASSERT_LE(now_pending, last);
    last = now_pending;
  }
  EXPECT_EQ(store.stats().index_migration_pending, 0u);
  EXPECT_EQ(store.stats().items, static_cast<uint64_t>(written));
  EXPECT_EQ(store.stats().evictions, 0u);
}

TEST(StoreIndex, DeletesAndOverwritesDuringAMigrationAreKept) {
  Options o;
  o.memory_limit_bytes = 256 << 20;
  Store store(o);
  int written = 0;
  while (store.stats().index_migration_pending == 0) {
    store.Write(Key(KeyOf(written)), "old", 0, 0, kNow);
    ++written;
  }
  // Mid-migration: delete the even keys, overwrite the odd ones.
  for (int i = 0; i < written; ++i) {
    if (i % 2 == 0) {
      EXPECT_EQ(store.Delete(Key(KeyOf(i)), kNow), DeleteStatus::kDeleted) << i;
    } else {
      EXPECT_EQ(store.Write(Key(KeyOf(i)), "new", 0, 0, kNow).status, WriteStatus::kStored);
    }
  }
  for (int i = 0; i < written; ++i) {
    ReadResult r = store.Read(Key(KeyOf(i)), kNow);
    if (i % 2 == 0) {
      EXPECT_FALSE(r.item) << i;
    } else {
      ASSERT_TRUE(r.item) << i;
      EXPECT_EQ(r.item.value(), "new");
    }
  }
  EXPECT_EQ(store.stats().items, static_cast<uint64_t>(written / 2));
}

TEST(StoreIndex, PrefetchHintsChangeNothing) {
  Options o;
  o.memory_limit_bytes = 64 << 20;
  Store store(o);
  // Hints on an empty store, for keys present, absent and deleted, and while a partition is
  // being rebuilt (whose old table the hints leave out).
  for (int i = 0; i < 4; ++i) {
    store.PrefetchIndex(Key(KeyOf(i)).hash);
    store.PrefetchItem(Key(KeyOf(i)).hash);
  }
  int written = 0;
  while (store.stats().index_migration_pending == 0 && written < 1'000'000) {
    ASSERT_EQ(store.Write(Key(KeyOf(written)), KeyOf(written), 0, 0, kNow).status,
              WriteStatus::kStored);
    ++written;
  }
  ASSERT_EQ(store.Delete(Key(KeyOf(0)), kNow), DeleteStatus::kDeleted);
  const StoreStats before = store.stats();
  for (int i = 0; i < written + 100; ++i) {
    store.PrefetchIndex(Key(KeyOf(i)).hash);
    store.PrefetchItem(Key(KeyOf(i)).hash);
  }
  const StoreStats after = store.stats();
  EXPECT_EQ(after.items, before.items);
  EXPECT_EQ(after.index_migration_pending, before.index_migration_pending);
  EXPECT_FALSE(store.Read(Key(KeyOf(0)), kNow).item);
  for (int i = 1; i < written; ++i) {
    const ReadResult r = store.Read(Key(KeyOf(i)), kNow);
    ASSERT_TRUE(r.item) << i;
    ASSERT_EQ(r.item.value(), KeyOf(i));
  }
}

}  // namespace
}  // namespace spillway::storage
