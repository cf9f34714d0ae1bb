// The classic memcached operations on storage::Store: storage modes, incr/decr, delete, touch,
// expiry, flush_all, CAS uniqueness, ItemRef lifetime and the expiry sweep. Expectations come
// from memcached 1.6.18 (tests/data/memcached_oracle.tsv) where the protocol text is vague.

#include <gtest/gtest.h>

#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "storage/store.h"

namespace spillway::storage {
namespace {

constexpr int64_t kStart = 1'700'000'000;
constexpr int64_t kThirtyDays = 60 * 60 * 24 * 30;

Options SmallStore() {
  Options o;
  o.memory_limit_bytes = 4 << 20;
  o.segment_size = 64 << 10;
  return o;
}

class StoreOpsTest : public ::testing::Test {
 protected:
  WriteResult Write(WriteMode mode, std::string_view key, std::string_view value,
                    uint32_t flags = 0, int64_t exptime = 0) {
    WriteOptions o;
    o.mode = mode;
    return store_.Write(Key(key), value, flags, exptime, now_, o);
  }
  WriteResult Set(std::string_view key, std::string_view value, uint32_t flags = 0,
                  int64_t exptime = 0) {
    return Write(WriteMode::kSet, key, value, flags, exptime);
  }
  WriteResult Cas(std::string_view key, std::string_view value, uint64_t cas) {
    WriteOptions o;
    o.compare_cas = cas;
    return store_.Write(Key(key), value, 0, 0, now_, o);
  }
  ItemRef Ref(std::string_view key) { return store_.Read(Key(key), now_).item; }
  // The value of `key` now, or nullopt on a miss.
  std::optional<std::string> Get(std::string_view key) {
    ItemRef item = Ref(key);
    if (!item) return std::nullopt;
    return std::string(item.value());
  }
  ArithmeticResult Incr(std::string_view key, uint64_t delta, bool increment = true) {
    ArithmeticOptions o;
    o.increment = increment;
    o.delta = delta;
    return store_.Arithmetic(Key(key), now_, o);
  }
  ArithmeticResult Decr(std::string_view key, uint64_t delta) { return Incr(key, delta, false); }
  ReadResult Touch(std::string_view key, int64_t exptime) {
    ReadOptions o;
    o.touch = exptime;
    return store_.Read(Key(key), now_, o);
  }
  // `key` is served one second before `deadline` and gone at it.
  void ExpectServedUntil(std::string_view key, int64_t deadline) {
    now_ = deadline - 1;
    EXPECT_TRUE(Ref(key)) << key << " gone before " << deadline;
    now_ = deadline;
    EXPECT_FALSE(Ref(key)) << key << " still served at " << deadline;
  }
  std::string TooLarge() const { return std::string(store_.MaxValueSize(1, 0) + 1, 'x'); }
  // Pins "k", runs `change`, then writes ~20 MiB of fresh keys through the 4 MiB store so that
  // every unpinned segment is reused: the pinned bytes must not change.
  template <typename Change>
  void ExpectRefOutlives(Change change) {
    Set("k", "original", 3);
    // Pinned without counting as an access: an unread item is the first S3-FIFO evicts.
    ReadOptions peek;
    peek.bump = false;
    ItemRef item = store_.Read(Key("k"), now_, peek).item;
    change();
    const std::string filler(1000, 'x');
    for (int i = 0; i < 20000; ++i) {
      ASSERT_EQ(Set("churn" + std::to_string(i), filler).status, WriteStatus::kStored) << i;
    }
    EXPECT_EQ(item.key(), "k");
    EXPECT_EQ(item.value(), "original");
    EXPECT_EQ(item.client_flags(), 3u);
    EXPECT_LE(store_.stats().allocated_bytes, store_.stats().limit_bytes);
  }

  int64_t now_ = kStart;
  Store store_{SmallStore()};
};

// ---- Storage commands

TEST_F(StoreOpsTest, SetOverwritesValueFlagsAndExptime) {
  const WriteResult first = Set("k", "one", 1, 100);
  const WriteResult second = Set("k", "two", UINT32_MAX, 0);
  ASSERT_EQ(second.status, WriteStatus::kStored);
  EXPECT_NE(second.cas, first.cas);
  ItemRef item = Ref("k");
  ASSERT_TRUE(item);
  EXPECT_EQ(item.key(), "k");
  EXPECT_EQ(item.value(), "two");
  EXPECT_EQ(item.client_flags(), UINT32_MAX);
  EXPECT_EQ(item.exptime(), 0);
  EXPECT_EQ(item.cas(), second.cas);
  EXPECT_EQ(second.size, 3u);
}

TEST_F(StoreOpsTest, AnEmptyValueIsAHitAndAMissIsAnEmptyRef) {
  ASSERT_EQ(Set("k", "").status, WriteStatus::kStored);
  EXPECT_EQ(Get("k"), "");
  EXPECT_FALSE(Ref("absent"));
}

TEST_F(StoreOpsTest, AddStoresOnlyWhenTheKeyIsMissing) {
  EXPECT_EQ(Write(WriteMode::kAdd, "k", "first").status, WriteStatus::kStored);
  EXPECT_EQ(Write(WriteMode::kAdd, "k", "second").status, WriteStatus::kNotStored);
  EXPECT_EQ(Get("k"), "first");
}

TEST_F(StoreOpsTest, AddSucceedsOverAnExpiredItem) {
  Set("k", "old", 0, 10);
  now_ += 10;
  EXPECT_EQ(Write(WriteMode::kAdd, "k", "new").status, WriteStatus::kStored);
  EXPECT_EQ(Get("k"), "new");
}

TEST_F(StoreOpsTest, ReplaceStoresOnlyWhenTheKeyExistsAndTakesNewFlagsAndExptime) {
  EXPECT_EQ(Write(WriteMode::kReplace, "k", "v").status, WriteStatus::kNotStored);
  EXPECT_FALSE(Ref("k"));
  Set("k", "old", 1, 0);
  EXPECT_EQ(Write(WriteMode::kReplace, "k", "new", 9, 50).status, WriteStatus::kStored);
  ItemRef item = Ref("k");
  EXPECT_EQ(item.value(), "new");
  EXPECT_EQ(item.client_flags(), 9u);
  EXPECT_EQ(item.exptime(), now_ + 50);
}

TEST_F(StoreOpsTest, AppendAndPrependKeepTheOldFlagsAndExptime) {
  Set("k", "mid", 5, 100);
  EXPECT_EQ(Write(WriteMode::kAppend, "k", "-end", 9, 7).status, WriteStatus::kStored);
  const WriteResult w = Write(WriteMode::kPrepend, "k", "start-", 9, 7);
  ASSERT_EQ(w.status, WriteStatus::kStored);
  EXPECT_EQ(w.size, 13u);
  ItemRef item = Ref("k");
  EXPECT_EQ(item.value(), "start-mid-end");
  EXPECT_EQ(item.client_flags(), 5u);
  EXPECT_EQ(item.exptime(), kStart + 100);
  EXPECT_EQ(item.cas(), w.cas);
}

TEST_F(StoreOpsTest, AppendAndPrependToAMissingKeyAreNotStored) {
  EXPECT_EQ(Write(WriteMode::kAppend, "k", "v").status, WriteStatus::kNotStored);
  EXPECT_EQ(Write(WriteMode::kPrepend, "k", "v").status, WriteStatus::kNotStored);
  EXPECT_FALSE(Ref("k"));
}

TEST_F(StoreOpsTest, CasStoresOnlyOverTheCurrentCasAndMissesAnAbsentKey) {
  const uint64_t cas = Set("k", "a").cas;
  EXPECT_EQ(Ref("k").cas(), cas);  // what gets/gats report
  const WriteResult w = Cas("k", "b", cas);
  ASSERT_EQ(w.status, WriteStatus::kStored);
  EXPECT_NE(w.cas, cas);
  EXPECT_EQ(Get("k"), "b");
  // The old CAS is spent.
  EXPECT_EQ(Cas("k", "c", cas).status, WriteStatus::kExists);
  EXPECT_EQ(Get("k"), "b");
  EXPECT_EQ(Cas("absent", "v", w.cas).status, WriteStatus::kNotFound);
  EXPECT_FALSE(Ref("absent"));
}

TEST_F(StoreOpsTest, DeleteRemovesTheItemOnce) {
  Set("k", "v");
  EXPECT_EQ(store_.Delete(Key("k"), now_), DeleteStatus::kDeleted);
  EXPECT_FALSE(Ref("k"));
  EXPECT_EQ(store_.Delete(Key("k"), now_), DeleteStatus::kNotFound);
}

TEST_F(StoreOpsTest, TouchSetsTheExptimeAndKeepsValueAndCas) {
  const uint64_t cas = Set("k", "v", 0, 10).cas;
  now_ += 5;
  ReadResult r = Touch("k", 100);
  ASSERT_TRUE(r.item);
  EXPECT_EQ(r.item.value(), "v");  // gat returns the value
  EXPECT_EQ(r.item.cas(), cas);    // gats: touching is no modification
  EXPECT_EQ(r.item.exptime(), now_ + 100);
  ExpectServedUntil("k", now_ + 100);
  EXPECT_FALSE(Touch("absent", 10).item);
}

// memcached 1.6.18: "gat -1 k" returns the value, then "get k" misses.
TEST_F(StoreOpsTest, GatWithNegativeExptimeReturnsTheValueThenExpires) {
  Set("k", "v");
  EXPECT_TRUE(Touch("k", -1).item);
  EXPECT_FALSE(Ref("k"));
}

// ---- Sizes

TEST_F(StoreOpsTest, ValueOfExactlyMaxValueSizeFitsAndOneMoreIsTooLarge) {
  for (const uint32_t flags : {0u, 7u}) {
    const size_t max = store_.MaxValueSize(1, flags);
    ASSERT_GT(max, 0u);
    EXPECT_EQ(Set("k", std::string(max, 'a'), flags).status, WriteStatus::kStored) << flags;
    EXPECT_EQ(Get("k")->size(), max);
    EXPECT_EQ(Set("j", std::string(max + 1, 'a'), flags).status, WriteStatus::kTooLarge);
  }
}

// memcached drops the old value so that no stale value survives a failed set.
TEST_F(StoreOpsTest, TooLargeSetReturnsTooLargeAndRemovesTheOldValue) {
  Set("k", "old");
  EXPECT_EQ(Set("k", TooLarge()).status, WriteStatus::kTooLarge);
  EXPECT_FALSE(Ref("k"));
}

TEST_F(StoreOpsTest, TooLargeAddReplaceAppendPrependKeepTheOldValue) {
  for (const WriteMode mode :
       {WriteMode::kAdd, WriteMode::kReplace, WriteMode::kAppend, WriteMode::kPrepend}) {
    Set("k", "old");
    EXPECT_EQ(Write(mode, "k", TooLarge()).status, WriteStatus::kTooLarge)
        << static_cast<int>(mode);
    EXPECT_EQ(Get("k"), "old") << static_cast<int>(mode);
  }
}

// Regression: a too-large cas once unlinked the old value; memcached only does that for set.
TEST_F(StoreOpsTest, TooLargeCasKeepsTheOldValue) {
  const uint64_t cas = Set("k", "old").cas;
  EXPECT_EQ(Cas("k", TooLarge(), cas).status, WriteStatus::kTooLarge);
  EXPECT_EQ(Get("k"), "old");
}

// memcached 1.6.18 (-I 1k): appending 200 bytes to 900 answers NOT_STORED and keeps the 900.
TEST_F(StoreOpsTest, AppendPastTheItemLimitIsNotStoredAndKeepsTheOldValue) {
  const std::string almost(store_.MaxValueSize(1, 0) - 1, 'a');
  Set("k", almost);
  EXPECT_EQ(Write(WriteMode::kAppend, "k", "bc").status, WriteStatus::kNotStored);
  EXPECT_EQ(Get("k"), almost);
}

// ---- incr / decr

TEST_F(StoreOpsTest, IncrAddsTheDeltaAndReturnsTheNewVersion) {
  const uint64_t cas = Set("k", "5", 3, 100).cas;
  ArithmeticResult r = Incr("k", 10);
  ASSERT_EQ(r.status, ArithmeticStatus::kOk);
  EXPECT_EQ(r.value, 15u);
  ASSERT_TRUE(r.item);
  EXPECT_EQ(r.item.value(), "15");
  EXPECT_NE(r.item.cas(), cas);
  // Flags and exptime survive.
  EXPECT_EQ(r.item.client_flags(), 3u);
  EXPECT_EQ(r.item.exptime(), kStart + 100);
  EXPECT_EQ(Ref("k").cas(), r.item.cas());
}

// Each row is memcached 1.6.18's answer: incr wraps at 2^64, decr stops at 0, a shorter number
// is padded with spaces to the old length, a longer one grows the item, padding still parses.
TEST_F(StoreOpsTest, IncrAndDecrRewriteTheNumberAsMemcachedDoes) {
  struct Case {
    std::string before;
    bool increment;
    uint64_t delta;
    uint64_t value;
    std::string after;
  };
  for (const Case& c :
       std::vector<Case>{{"18446744073709551615", true, 1, 0, "0" + std::string(19, ' ')},
                         {"100", false, 1, 99, "99 "},
                         {"99 ", true, 1, 100, "100"},
                         {"5", false, 10, 0, "0"},
                         {"99", true, 1, 100, "100"},
                         {" 12", true, 1, 13, "13 "},
                         {"7 trailing", true, 1, 8, "8         "},
                         {"-0", true, 1, 1, "1 "}}) {
    Set("k", c.before);
    ArithmeticResult r = Incr("k", c.delta, c.increment);
    ASSERT_EQ(r.status, ArithmeticStatus::kOk) << c.before;
    EXPECT_EQ(r.value, c.value) << c.before;
    EXPECT_EQ(r.item.value(), c.after) << c.before;
    EXPECT_EQ(Get("k"), c.after) << c.before;
  }
}

// memcached (do_add_delta) pads in place whenever the new digits fit, whatever the old length.
// Regression: the store pads with at most 64 spaces; a longer gap leaves the item shrunk.
TEST_F(StoreOpsTest, IncrOfALongZeroPaddedNumberPadsToItsLength) {
  Set("k", std::string(100, '0') + "42");
  EXPECT_EQ(Incr("k", 1).value, 43u);
  EXPECT_EQ(Get("k"), "43" + std::string(100, ' '));
}

TEST_F(StoreOpsTest, IncrOfANonNumericValueIsRejectedAndLeavesIt) {
  for (const std::string value :
       {"abc", "", "12abc", "-5", "123456789012345678901", "18446744073709551616", " "}) {
    Set("k", value);
    EXPECT_EQ(Incr("k", 1).status, ArithmeticStatus::kNonNumeric) << '"' << value << '"';
    EXPECT_EQ(Decr("k", 1).status, ArithmeticStatus::kNonNumeric) << '"' << value << '"';
    EXPECT_EQ(Get("k"), value);
  }
}

TEST_F(StoreOpsTest, IncrOfAMissingOrExpiredKeyIsNotFound) {
  EXPECT_EQ(Incr("k", 1).status, ArithmeticStatus::kNotFound);
  Set("k", "1", 0, 5);
  now_ += 5;
  EXPECT_EQ(Incr("k", 1).status, ArithmeticStatus::kNotFound);
  EXPECT_FALSE(Ref("k"));
}

// ---- Expiry

TEST_F(StoreOpsTest, ExptimeZeroNeverExpires) {
  Set("k", "v", 0, 0);
  now_ += 10 * kThirtyDays;
  EXPECT_EQ(Get("k"), "v");
}

TEST_F(StoreOpsTest, RelativeExptimeExpiresWhenTheTtlIsUsedUp) {
  Set("k", "v", 0, 10);
  EXPECT_EQ(Ref("k").exptime(), kStart + 10);
  ExpectServedUntil("k", kStart + 10);
}

TEST_F(StoreOpsTest, ThirtyDaysIsStillRelative) {
  Set("k", "v", 0, kThirtyDays);
  EXPECT_EQ(Ref("k").exptime(), kStart + kThirtyDays);
  ExpectServedUntil("k", kStart + kThirtyDays);
}

// memcached 1.6.18: "set k 0 2592001 1" is an absolute time in 1970, so already expired; so is
// "set k 0 -1 1".
TEST_F(StoreOpsTest, ExptimesInThePastAreAlreadyExpired) {
  for (const int64_t exptime : {kThirtyDays + 1, kStart, int64_t{-1}, int64_t{-kThirtyDays}}) {
    EXPECT_EQ(Set("k", "v", 0, exptime).status, WriteStatus::kStored) << exptime;
    EXPECT_FALSE(Ref("k")) << exptime;
  }
}

TEST_F(StoreOpsTest, AbsoluteExptimeExpiresAtThatTime) {
  Set("k", "v", 0, kStart + 100);
  EXPECT_EQ(Ref("k").exptime(), kStart + 100);
  ExpectServedUntil("k", kStart + 100);
}

// ---- flush_all

// memcached 1.6.18: "flush_all -1" flushes at once, like "flush_all".
TEST_F(StoreOpsTest, FlushAllWithNoOrANegativeDelayDropsEveryItemAtOnce) {
  for (const int64_t delay : {0, -1}) {
    for (int i = 0; i < 100; ++i) Set("k" + std::to_string(i), "v");
    store_.FlushAll(now_, delay);
    for (int i = 0; i < 100; ++i) EXPECT_FALSE(Ref("k" + std::to_string(i))) << i;
    EXPECT_EQ(store_.stats().items, 0u);
  }
}

TEST_F(StoreOpsTest, WritesAfterAnImmediateFlushAreServed) {
  Set("old", "v");
  store_.FlushAll(now_);
  Set("new", "w");  // same second as the flush
  EXPECT_FALSE(Ref("old"));
  EXPECT_EQ(Get("new"), "w");
  EXPECT_EQ(store_.stats().items, 1u);
}

// Items written before the deadline, even after the flush_all command, vanish at it.
TEST_F(StoreOpsTest, DelayedFlushDropsItemsWrittenBeforeTheDeadlineAtTheDeadline) {
  Set("before", "v");
  store_.FlushAll(now_, 10);
  now_ += 5;
  Set("during", "v");
  ExpectServedUntil("during", kStart + 10);
  EXPECT_FALSE(Ref("before"));
}

TEST_F(StoreOpsTest, ItemsWrittenAtOrAfterTheFlushDeadlineAreServed) {
  Set("k", "old");
  store_.FlushAll(now_, 10);
  now_ += 10;
  Set("k", "new");
  Set("other", "v");
  now_ += 1;
  EXPECT_EQ(Get("k"), "new");
  EXPECT_EQ(Get("other"), "v");
}

TEST_F(StoreOpsTest, FlushDelayOverThirtyDaysIsAnAbsoluteTime) {
  Set("k", "v");
  store_.FlushAll(now_, kStart + 100);
  ExpectServedUntil("k", kStart + 100);
}

// memcached keeps one flush deadline: the latest flush_all sets it.
TEST_F(StoreOpsTest, ALaterFlushAllReplacesTheEarlierDeadline) {
  Set("k", "v");
  store_.FlushAll(now_, 10);
  store_.FlushAll(now_, 100);
  now_ += 50;
  EXPECT_EQ(Get("k"), "v");
  store_.FlushAll(now_, 5);
  now_ += 5;
  EXPECT_FALSE(Ref("k"));
}

// ---- CAS uniqueness

TEST(StoreCasTest, TwoStoresWithDisjointSequencesNeverShareACas) {
  Options options = SmallStore();
  options.cas_stride = 2;
  options.cas_first = 1;
  Store a(options);
  options.cas_first = 2;
  Store b(options);
  std::vector<uint64_t> seen;
  for (Store* store : {&a, &b}) {
    const uint64_t parity = store == &a ? 1 : 0;
    std::vector<uint64_t> mine;  // in the order handed out
    WriteOptions append;
    append.mode = WriteMode::kAppend;
    DeleteOptions invalidate;
    invalidate.invalidate = true;
    ReadOptions vivify;
    vivify.vivify = 0;
    for (int i = 0; i < 200; ++i) {
      const std::string key = "k" + std::to_string(i % 20);
      mine.push_back(store->Write(Key(key), "1", 0, 0, kStart).cas);
      mine.push_back(store->Write(Key(key), "2", 0, 0, kStart, append).cas);
      mine.push_back(store->Arithmetic(Key(key), kStart, ArithmeticOptions()).item.cas());
      ASSERT_EQ(store->Delete(Key(key), kStart, invalidate), DeleteStatus::kDeleted);
      mine.push_back(store->Read(Key(key), kStart).item.cas());
      mine.push_back(store->Read(Key("v" + std::to_string(i)), kStart, vivify).item.cas());
    }
    for (size_t i = 0; i < mine.size(); ++i) {
      EXPECT_EQ(mine[i] % 2, parity) << i;
      EXPECT_TRUE(i == 0 || mine[i] > mine[i - 1]) << i;  // a store's sequence only grows
    }
    seen.insert(seen.end(), mine.begin(), mine.end());
  }
  EXPECT_EQ(std::set<uint64_t>(seen.begin(), seen.end()).size(), seen.size());
}

// ---- ItemRef lifetime

TEST_F(StoreOpsTest, RefKeepsItsBytesAcrossAnOverwrite) {
  ExpectRefOutlives([&] {
    Set("k", "replaced", 4);
    ASSERT_EQ(Write(WriteMode::kAppend, "k", "+more").status, WriteStatus::kStored);
    EXPECT_EQ(Get("k"), "replaced+more");
  });
}

TEST_F(StoreOpsTest, RefKeepsItsBytesAcrossADelete) {
  ExpectRefOutlives([&] { store_.Delete(Key("k"), now_); });
}

TEST_F(StoreOpsTest, RefKeepsItsBytesAcrossAFlush) {
  ExpectRefOutlives([&] { store_.FlushAll(now_); });
  EXPECT_FALSE(Ref("k"));
}

TEST_F(StoreOpsTest, RefKeepsItsBytesAcrossEvictionOfItsItem) {
  ExpectRefOutlives([] {});
  EXPECT_GT(store_.stats().evictions, 0u);
  ReadOptions peek;
  peek.bump = false;
  EXPECT_FALSE(store_.Read(Key("k"), now_, peek).item) << "k should have been evicted";
}

// ---- Sweep

class StoreSweepTest : public StoreOpsTest {
 protected:
  // 100 keys that expire in 10 s (the first `read` of them fetched) and 50 that never do.
  void Fill(int read) {
    for (int i = 0; i < 100; ++i) Set("e" + std::to_string(i), "v", 0, 10);
    for (int i = 0; i < 50; ++i) Set("l" + std::to_string(i), "v");
    for (int i = 0; i < read; ++i) Ref("e" + std::to_string(i));
  }
};

TEST_F(StoreSweepTest, SweepDropsExpiredItemsAndKeepsLiveOnes) {
  Fill(10);
  now_ += 9;
  store_.Sweep(now_, 1000);
  EXPECT_EQ(store_.stats().items, 150u);  // nothing has expired yet
  now_ += 1;
  const StoreStats before = store_.stats();
  EXPECT_GT(store_.Sweep(now_, 1000), 0u);
  const StoreStats after = store_.stats();
  EXPECT_EQ(after.items, 50u);
  EXPECT_EQ(after.reclaimed - before.reclaimed, 100u);
  EXPECT_EQ(after.expired_unfetched - before.expired_unfetched, 90u);
  EXPECT_LT(after.item_bytes, before.item_bytes);
  for (int i = 0; i < 50; ++i) EXPECT_EQ(Get("l" + std::to_string(i)), "v") << i;
}

TEST_F(StoreSweepTest, SweepLooksAtNoMoreThanMaxItemsAndFinishesInSteps) {
  Fill(0);
  now_ += 10;
  for (int i = 0; i < 100; ++i) EXPECT_LE(store_.Sweep(now_, 7), 7u);
  EXPECT_EQ(store_.stats().items, 50u);
}

TEST(StoreSweepEmptyTest, SweepOfAnEmptyStoreLooksAtNothing) {
  Store store(SmallStore());
  EXPECT_EQ(store.Sweep(kStart, 100), 0u);
}

}  // namespace
}  // namespace spillway::storage
