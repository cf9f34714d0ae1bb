// What the meta commands need from storage::Store: vivify (mg N), recache (mg R), stale items
// (md I, ms I), ms modes, ma auto-create, explicit CAS (E), md x, and the h / l / t returns.
// Expectations follow memcached 1.6.18 (tests/data/memcached_oracle.tsv) and, for what 1.6.18
// lacks (ms N in append mode, md x, E), the protocol text and later memcached sources.

#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "storage/store.h"

namespace spillway::storage {
namespace {

constexpr int64_t kStart = 1'700'000'000;

// Options with one field set, e.g. With(&ReadOptions::vivify, 30).
template <typename T, typename Field, typename Value>
T With(Field T::*field, Value value) {
  T o;
  o.*field = value;
  return o;
}
ReadOptions Vivify(int64_t ttl) { return With(&ReadOptions::vivify, ttl); }
ReadOptions Recache(int64_t below) { return With(&ReadOptions::recache, below); }
ReadOptions NoBump() { return With(&ReadOptions::bump, false); }
ReadOptions TouchTo(int64_t exptime) { return With(&ReadOptions::touch, exptime); }
WriteOptions Mode(WriteMode mode) { return With(&WriteOptions::mode, mode); }
DeleteOptions Invalidate() { return With(&DeleteOptions::invalidate, true); }
DeleteOptions DropValue() { return With(&DeleteOptions::drop_value, true); }
WriteOptions CompareCas(uint64_t cas, WriteMode mode = WriteMode::kSet) {
  WriteOptions o = Mode(mode);
  o.compare_cas = cas;
  return o;
}
// ms I C<cas>: an older CAS still stores, marked stale.
WriteOptions StaleWrite(uint64_t cas, WriteMode mode = WriteMode::kSet) {
  WriteOptions o = CompareCas(cas, mode);
  o.invalidate = true;
  return o;
}
WriteOptions VivifyingMode(WriteMode mode, int64_t ttl) {
  WriteOptions o = Mode(mode);
  o.vivify = ttl;
  return o;
}
ArithmeticOptions AutoCreate(int64_t ttl, uint64_t initial, bool increment = true,
                             uint64_t delta = 1) {
  ArithmeticOptions o;
  o.increment = increment;
  o.delta = delta;
  o.vivify = ttl;
  o.initial = initial;
  return o;
}

class StoreMetaTest : public ::testing::Test {
 protected:
  ReadResult Mg(std::string_view key, const ReadOptions& o = ReadOptions()) {
    return store_.Read(Key(key), now_, o);
  }
  WriteResult Ms(std::string_view key, std::string_view value,
                 const WriteOptions& o = WriteOptions(), uint32_t flags = 0, int64_t exptime = 0) {
    return store_.Write(Key(key), value, flags, exptime, now_, o);
  }
  WriteResult MsTtl(std::string_view key, std::string_view value, int64_t exptime) {
    return Ms(key, value, WriteOptions(), 0, exptime);
  }
  DeleteStatus Md(std::string_view key, const DeleteOptions& o = DeleteOptions()) {
    return store_.Delete(Key(key), now_, o);
  }
  ArithmeticResult Ma(std::string_view key, const ArithmeticOptions& o = ArithmeticOptions()) {
    return store_.Arithmetic(Key(key), now_, o);
  }
  // The flags memcached appends for these states, in its order: "W", "ZX", "XW"...
  static std::string Flags(const ReadResult& r) {
    return std::string(r.win_taken ? "Z" : "") + (r.stale ? "X" : "") + (r.won ? "W" : "");
  }
  // mg t: seconds left, -1 for never.
  int64_t TtlLeft(const ItemRef& item) const {
    return item.exptime() == 0 ? -1 : item.exptime() - now_;
  }

  int64_t now_ = kStart;
  Store store_{Options()};
};

// ---- mg N: vivify on miss

TEST_F(StoreMetaTest, VivifyOnMissCreatesAnEmptyItemAndWins) {
  ReadResult r = Mg("k", Vivify(30));
  ASSERT_TRUE(r.item);
  EXPECT_EQ(Flags(r), "W");
  EXPECT_EQ(r.item.value(), "");
  EXPECT_EQ(r.item.client_flags(), 0u);
  EXPECT_EQ(TtlLeft(r.item), 30);
  EXPECT_NE(r.item.cas(), 0u);
}

// memcached 1.6.18: "mg k N30 s v" twice answers "VA 0 s0 W", then "VA 0 s0 Z".
TEST_F(StoreMetaTest, ReadersAfterAVivifySeeWinTakenWithoutWinning) {
  Mg("k", Vivify(30));
  for (const ReadOptions& o : {Vivify(30), ReadOptions(), Recache(3600)}) {
    ReadResult r = Mg("k", o);
    EXPECT_EQ(r.item.value(), "");
    EXPECT_EQ(Flags(r), "Z");
  }
}

TEST_F(StoreMetaTest, VivifyOnAHitNeitherCreatesNorWins) {
  Ms("k", "v");
  ReadResult r = Mg("k", Vivify(30));
  EXPECT_EQ(r.item.value(), "v");
  EXPECT_EQ(Flags(r), "");
  EXPECT_EQ(TtlLeft(r.item), -1);
}

// memcached 1.6.18: mg N30, ms, mg N30 answers without W or Z.
TEST_F(StoreMetaTest, WritingTheVivifiedKeyClearsTheWin) {
  Mg("k", Vivify(30));
  Ms("k", "v");
  ReadResult r = Mg("k", Vivify(30));
  EXPECT_EQ(r.item.value(), "v");
  EXPECT_EQ(Flags(r), "");
}

TEST_F(StoreMetaTest, AnExpiredVivifiedItemCanBeWonAgain) {
  Mg("k", Vivify(30));
  now_ += 30;
  EXPECT_EQ(Flags(Mg("k", Vivify(30))), "W");
}

// memcached bumps the item a locked mg (N) created, which marks it fetched: the next mg h is h1.
// Regression: the store creates the vivified item unfetched.
TEST_F(StoreMetaTest, ReadAfterTheVivifyingReadReportsHitBefore) {
  Mg("k", Vivify(30));
  EXPECT_TRUE(Mg("k").hit_before);
}

// ---- mg R: recache

// memcached 1.6.18: ms k T10, mg k R30 s twice answers "HD s1 W", then "HD s1 Z".
TEST_F(StoreMetaTest, RecacheWinsWhenTheTtlLeftIsBelowTheTokenThenOthersSeeWinTaken) {
  MsTtl("k", "v", 10);
  EXPECT_EQ(Flags(Mg("k", Recache(30))), "W");
  EXPECT_EQ(Flags(Mg("k", Recache(30))), "Z");
}

TEST_F(StoreMetaTest, RecacheDoesNotWinWhenTheTtlLeftIsNotBelowTheToken) {
  MsTtl("k", "v", 30);
  EXPECT_EQ(Flags(Mg("k", Recache(30))), "");
  now_ += 1;  // 29 left
  EXPECT_EQ(Flags(Mg("k", Recache(30))), "W");
}

TEST_F(StoreMetaTest, RecacheNeverWinsForAnItemThatNeverExpires) {
  Ms("k", "v");
  EXPECT_EQ(Flags(Mg("k", Recache(3600))), "");
}

// ---- md I and ms I: stale items

// memcached 1.6.18: ms, md I, mg v twice answers "VA 1 X W", then "VA 1 Z X".
TEST_F(StoreMetaTest, InvalidateKeepsTheItemStaleAndTheFirstReaderWins) {
  const uint64_t cas = Ms("k", "v").cas;
  EXPECT_EQ(Md("k", Invalidate()), DeleteStatus::kDeleted);
  ReadResult first = Mg("k");
  ASSERT_TRUE(first.item);
  EXPECT_EQ(first.item.value(), "v");
  EXPECT_NE(first.item.cas(), cas);  // I bumps the CAS
  EXPECT_EQ(Flags(first), "XW");
  EXPECT_EQ(Flags(Mg("k")), "ZX");
}

TEST_F(StoreMetaTest, InvalidateKeepsTheTtlUnlessTouched) {
  MsTtl("k", "v", 100);
  Md("k", Invalidate());
  EXPECT_EQ(TtlLeft(Mg("k").item), 100);
  DeleteOptions o = Invalidate();
  o.touch = 5;
  Md("k", o);
  EXPECT_EQ(TtlLeft(Mg("k").item), 5);
  now_ += 5;
  EXPECT_FALSE(Mg("k").item);
}

TEST_F(StoreMetaTest, InvalidateHandsTheWinOutAgain) {
  MsTtl("k", "v", 10);
  EXPECT_EQ(Flags(Mg("k", Recache(30))), "W");
  Md("k", Invalidate());
  EXPECT_EQ(Flags(Mg("k")), "XW");
}

TEST_F(StoreMetaTest, InvalidateWithAMismatchedCasIsExistsAndLeavesTheItemFresh) {
  const uint64_t cas = Ms("k", "v").cas;
  DeleteOptions o = Invalidate();
  o.compare_cas = cas + 1000;
  EXPECT_EQ(Md("k", o), DeleteStatus::kExists);
  ReadResult r = Mg("k");
  EXPECT_EQ(Flags(r), "");
  EXPECT_EQ(r.item.cas(), cas);
}

TEST_F(StoreMetaTest, InvalidateOrDropValueOfAMissingKeyIsNotFound) {
  EXPECT_EQ(Md("k", Invalidate()), DeleteStatus::kNotFound);
  EXPECT_EQ(Md("k", DropValue()), DeleteStatus::kNotFound);
  EXPECT_FALSE(Mg("k").item);
}

// memcached 1.6.18: ms, md I, ms, mg v answers "VA 1" (no X).
TEST_F(StoreMetaTest, AnOrdinaryWriteClearsStale) {
  Ms("k", "v");
  Md("k", Invalidate());
  Ms("k", "w");
  ReadResult r = Mg("k");
  EXPECT_EQ(r.item.value(), "w");
  EXPECT_EQ(Flags(r), "");
}

// memcached 1.6.18: ms a, ms b, ms I C1 c, mg answers "VA 1 c3 X W" then "VA 1 Z X".
TEST_F(StoreMetaTest, StaleWriteWithALowerCasStoresMarkedStale) {
  const uint64_t first = Ms("k", "a").cas;
  const uint64_t second = Ms("k", "b").cas;
  const WriteResult w = Ms("k", "c", StaleWrite(first));
  ASSERT_EQ(w.status, WriteStatus::kStored);
  EXPECT_NE(w.cas, first);
  EXPECT_NE(w.cas, second);
  ReadResult r = Mg("k");
  EXPECT_EQ(r.item.value(), "c");
  EXPECT_EQ(r.item.cas(), w.cas);
  EXPECT_EQ(Flags(r), "XW");
  EXPECT_EQ(Flags(Mg("k")), "ZX");
}

// memcached 1.6.18: ms a, ms I C5 c answers EX.
TEST_F(StoreMetaTest, StaleWriteWithAHigherCasIsExists) {
  const uint64_t cas = Ms("k", "a").cas;
  EXPECT_EQ(Ms("k", "c", StaleWrite(cas + 4)).status, WriteStatus::kExists);
  EXPECT_EQ(Mg("k").item.value(), "a");
}

TEST_F(StoreMetaTest, StaleWriteWithTheCurrentCasStoresFresh) {
  const uint64_t cas = Ms("k", "a").cas;
  EXPECT_EQ(Ms("k", "c", StaleWrite(cas)).status, WriteStatus::kStored);
  EXPECT_EQ(Flags(Mg("k")), "");
}

// memcached do_store_item, CAS_STALE: "preserve TTL, and stale item marker bit + token sent".
// Regression: the store gives the stale version the request's exptime.
TEST_F(StoreMetaTest, StaleWriteKeepsTheOldTtl) {
  const uint64_t first = MsTtl("k", "a", 100).cas;
  MsTtl("k", "b", 100);
  ASSERT_EQ(Ms("k", "c", StaleWrite(first)).status, WriteStatus::kStored);  // exptime 0
  EXPECT_EQ(TtlLeft(Mg("k").item), 100);
}

// Regression: the store drops the win a reader already holds, so a second reader wins too.
TEST_F(StoreMetaTest, StaleWriteKeepsAWinAlreadyHandedOut) {
  const uint64_t first = Ms("k", "a").cas;
  Md("k", Invalidate());
  ASSERT_EQ(Flags(Mg("k")), "XW");
  ASSERT_EQ(Ms("k", "late", StaleWrite(first)).status, WriteStatus::kStored);
  EXPECT_EQ(Flags(Mg("k")), "ZX");
}

// memcached allows a stale store only for set/replace (NREAD_CAS); append with a lower CAS is EX.
// Regression: the store appends and marks the result stale.
TEST_F(StoreMetaTest, StaleAppendWithALowerCasIsExists) {
  const uint64_t first = Ms("k", "a").cas;
  Ms("k", "b");
  EXPECT_EQ(Ms("k", "x", StaleWrite(first, WriteMode::kAppend)).status, WriteStatus::kExists);
  EXPECT_EQ(Mg("k").item.value(), "b");
}

// ---- ms modes

// memcached 1.6.18: ME on a hit and MA / MR on a miss answer NS; MA and MP keep the old flags.
TEST_F(StoreMetaTest, EachModeStoresOnAMissOrAHitAsMemcachedDoes) {
  struct Case {
    WriteMode mode;
    WriteStatus on_miss;
    WriteStatus on_hit;
    std::string after_hit;
  };
  for (const Case& c : std::vector<Case>{
           {WriteMode::kSet, WriteStatus::kStored, WriteStatus::kStored, "new"},
           {WriteMode::kAdd, WriteStatus::kStored, WriteStatus::kNotStored, "old"},
           {WriteMode::kReplace, WriteStatus::kNotStored, WriteStatus::kStored, "new"},
           {WriteMode::kAppend, WriteStatus::kNotStored, WriteStatus::kStored, "oldnew"},
           {WriteMode::kPrepend, WriteStatus::kNotStored, WriteStatus::kStored, "newold"}}) {
    const std::string miss = "miss" + std::to_string(static_cast<int>(c.mode));
    EXPECT_EQ(Ms(miss, "new", Mode(c.mode)).status, c.on_miss) << miss;
    Ms("k", "old", WriteOptions(), 3);
    const WriteResult w = Ms("k", "new", Mode(c.mode), 9);
    EXPECT_EQ(w.status, c.on_hit) << miss;
    ItemRef item = Mg("k").item;
    EXPECT_EQ(item.value(), c.after_hit) << miss;
    EXPECT_EQ(item.client_flags(), c.after_hit == "new" ? 9u : 3u) << miss;
  }
}

// memcached 1.6.18: "ms k 1 ME C99" on a miss answers HD; "ms k 1 C5" answers NF.
TEST_F(StoreMetaTest, OnAMissAddModeIgnoresACasAndSetModeIsNotFound) {
  EXPECT_EQ(Ms("k", "v", CompareCas(99, WriteMode::kAdd)).status, WriteStatus::kStored);
  EXPECT_EQ(Mg("k").item.value(), "v");
  EXPECT_EQ(Ms("j", "v", CompareCas(5)).status, WriteStatus::kNotFound);
  EXPECT_FALSE(Mg("j").item);
}

// memcached turns ms MR C into a cas (NREAD_CAS), which answers NF on a miss.
// Regression: the store answers kNotStored.
TEST_F(StoreMetaTest, ReplaceModeWithACasOnAMissIsNotFound) {
  EXPECT_EQ(Ms("k", "v", CompareCas(5, WriteMode::kReplace)).status, WriteStatus::kNotFound);
}

TEST_F(StoreMetaTest, AppendModeChecksACas) {
  const uint64_t cas = Ms("k", "a").cas;
  EXPECT_EQ(Ms("k", "x", CompareCas(cas + 1, WriteMode::kAppend)).status, WriteStatus::kExists);
  EXPECT_EQ(Ms("k", "b", CompareCas(cas, WriteMode::kAppend)).status, WriteStatus::kStored);
  EXPECT_EQ(Mg("k").item.value(), "ab");
}

// memcached 1.6.18 answers "ms k 1 MA N30" with NS (it predates append vivify); the protocol
// text and later releases (NREAD_APPENDVIV) create the item from the data with N's TTL.
TEST_F(StoreMetaTest, AppendModeWithVivifyCreatesAMissingItem) {
  EXPECT_EQ(Ms("k", "v", VivifyingMode(WriteMode::kAppend, 30), 5).status, WriteStatus::kStored);
  ItemRef item = Mg("k").item;
  ASSERT_TRUE(item);
  EXPECT_EQ(item.value(), "v");
  EXPECT_EQ(item.client_flags(), 5u);
  EXPECT_EQ(TtlLeft(item), 30);
}

TEST_F(StoreMetaTest, PrependModeWithVivifyCreatesAMissingItem) {
  EXPECT_EQ(Ms("k", "v", VivifyingMode(WriteMode::kPrepend, 30)).status, WriteStatus::kStored);
  EXPECT_EQ(Mg("k").item.value(), "v");
}

TEST_F(StoreMetaTest, AppendModeWithVivifyOnAHitAppendsAndKeepsTheTtl) {
  Ms("k", "a", VivifyingMode(WriteMode::kAppend, 30));
  now_ += 10;
  Ms("k", "b", VivifyingMode(WriteMode::kAppend, 30));
  ItemRef item = Mg("k").item;
  EXPECT_EQ(item.value(), "ab");
  EXPECT_EQ(TtlLeft(item), 20);
}

TEST_F(StoreMetaTest, ExplicitNewCasIsWhatMsMaAndMdGiveTheNewVersion) {
  WriteOptions ms;
  ms.new_cas = 1000;
  EXPECT_EQ(Ms("k", "5", ms).cas, 1000u);
  EXPECT_EQ(Mg("k").item.cas(), 1000u);
  ArithmeticOptions ma;
  ma.new_cas = 2000;
  EXPECT_EQ(Ma("k", ma).item.cas(), 2000u);
  ArithmeticOptions create = AutoCreate(0, 1);
  create.new_cas = 3000;
  EXPECT_EQ(Ma("fresh", create).item.cas(), 3000u);
  DeleteOptions md = Invalidate();
  md.new_cas = 4000;
  Md("k", md);
  EXPECT_EQ(Mg("k").item.cas(), 4000u);
}

// ---- ma

// memcached 1.6.18: "ma k N0 J10 v" twice answers 10, then 11.
TEST_F(StoreMetaTest, AutoCreateHoldsTheInitialValueWithoutApplyingTheDelta) {
  ArithmeticResult first = Ma("k", AutoCreate(0, 10));
  ASSERT_EQ(first.status, ArithmeticStatus::kOk);
  EXPECT_EQ(first.value, 10u);
  EXPECT_EQ(first.item.value(), "10");
  EXPECT_EQ(TtlLeft(first.item), -1);
  ArithmeticResult second = Ma("k", AutoCreate(0, 10));
  EXPECT_EQ(second.value, 11u);
  EXPECT_NE(second.item.cas(), first.item.cas());
}

// memcached 1.6.18: "ma k N0 J10 MD D3 v" twice answers 10, then 7; mg answers "7 ".
TEST_F(StoreMetaTest, AutoCreateInDecrementModeAlsoSkipsTheDelta) {
  EXPECT_EQ(Ma("k", AutoCreate(0, 10, false, 3)).value, 10u);
  EXPECT_EQ(Ma("k", AutoCreate(0, 10, false, 3)).value, 7u);
  EXPECT_EQ(Mg("k").item.value(), "7 ");
}

TEST_F(StoreMetaTest, AutoCreateUsesTheVivifyTtl) {
  EXPECT_EQ(TtlLeft(Ma("k", AutoCreate(30, 0)).item), 30);
}

// memcached 1.6.18: "ma k J10" answers NF.
TEST_F(StoreMetaTest, InitialWithoutAutoCreateMisses) {
  ArithmeticOptions o;
  o.initial = 10;
  EXPECT_EQ(Ma("k", o).status, ArithmeticStatus::kNotFound);
  EXPECT_FALSE(Mg("k").item);
}

TEST_F(StoreMetaTest, ArithmeticChecksACas) {
  const uint64_t cas = Ms("k", "5").cas;
  ArithmeticOptions o;
  o.compare_cas = cas + 1;
  EXPECT_EQ(Ma("k", o).status, ArithmeticStatus::kExists);
  EXPECT_EQ(Mg("k").item.value(), "5");
  o.compare_cas = cas;
  ArithmeticResult r = Ma("k", o);
  EXPECT_EQ(r.status, ArithmeticStatus::kOk);
  EXPECT_EQ(r.value, 6u);
  EXPECT_NE(r.item.cas(), cas);
}

TEST_F(StoreMetaTest, ArithmeticTouchSetsTheTtlOnlyOnSuccess) {
  const uint64_t cas = MsTtl("k", "5", 100).cas;
  ArithmeticOptions o;
  o.touch = 10;
  o.compare_cas = cas + 1;
  EXPECT_EQ(Ma("k", o).status, ArithmeticStatus::kExists);
  EXPECT_EQ(TtlLeft(Mg("k").item), 100);
  o.compare_cas.reset();
  EXPECT_EQ(TtlLeft(Ma("k", o).item), 10);
}

// ---- md x

TEST_F(StoreMetaTest, DropValueKeepsTheItemWithAnEmptyValue) {
  Ms("k", "value");
  EXPECT_EQ(Md("k", DropValue()), DeleteStatus::kDeleted);
  ReadResult r = Mg("k");
  ASSERT_TRUE(r.item);
  EXPECT_EQ(r.item.value(), "");
  EXPECT_EQ(Flags(r), "");
}

TEST_F(StoreMetaTest, DropValueWithInvalidateLeavesAStaleTombstone) {
  const uint64_t cas = Ms("k", "value").cas;
  DeleteOptions o = DropValue();
  o.invalidate = true;
  EXPECT_EQ(Md("k", o), DeleteStatus::kDeleted);
  ReadResult r = Mg("k");
  EXPECT_EQ(r.item.value(), "");
  EXPECT_NE(r.item.cas(), cas);
  EXPECT_EQ(Flags(r), "XW");
}

// memcached (proto_text.c, md x): the tombstone keeps the item's CAS unless E gives one.
// Regression: the store gives the tombstone a new CAS.
TEST_F(StoreMetaTest, DropValueKeepsTheCas) {
  const uint64_t cas = Ms("k", "value").cas;
  Md("k", DropValue());
  EXPECT_EQ(Mg("k").item.cas(), cas);
}

// ---- h, l, t

TEST_F(StoreMetaTest, IdleSecondsCountFromTheWrite) {
  Ms("k", "v");
  now_ += 5;
  EXPECT_EQ(Mg("k").idle_seconds, 5);
}

// memcached 1.6.18: ms, mg u h, mg h, mg h answers h0, h0, h1.
TEST_F(StoreMetaTest, HitBeforeIsSetByTheFirstBumpingRead) {
  Ms("k", "v");
  EXPECT_FALSE(Mg("k", NoBump()).hit_before);
  EXPECT_FALSE(Mg("k").hit_before);
  EXPECT_TRUE(Mg("k").hit_before);
}

TEST_F(StoreMetaTest, NoBumpReadLeavesTheLastAccessTime) {
  Ms("k", "v");
  now_ += 5;
  EXPECT_EQ(Mg("k", NoBump()).idle_seconds, 5);
  now_ += 3;
  EXPECT_EQ(Mg("k", NoBump()).idle_seconds, 8);
}

TEST_F(StoreMetaTest, OverwriteResetsHitBefore) {
  Ms("k", "v");
  Mg("k");
  Ms("k", "w");
  EXPECT_FALSE(Mg("k").hit_before);
}

TEST_F(StoreMetaTest, TtlLeftFollowsWritesAndTouches) {
  MsTtl("k", "v", 100);
  now_ += 40;
  EXPECT_EQ(TtlLeft(Mg("k").item), 60);
  EXPECT_EQ(TtlLeft(Mg("k", TouchTo(10)).item), 10);
  EXPECT_EQ(TtlLeft(Mg("k").item), 10);
  EXPECT_EQ(TtlLeft(Mg("k", TouchTo(0)).item), -1);
}

}  // namespace
}  // namespace spillway::storage
