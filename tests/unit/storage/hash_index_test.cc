// The index's tables on their own: HashIndex against a model and at its distance limit, and Index
// while one partition is rebuilt. Random tests print their seed; SPILLWAY_TEST_SEED=<n> repeats it.

#include "storage/internal/hash_index.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <iostream>
#include <optional>
#include <random>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <utility>
#include <vector>

#include "storage/internal/index.h"

namespace spillway::storage {

// Internal linkage, found by argument-dependent lookup: gtest prints Locations readably.
static void PrintTo(const Location& at, std::ostream* os) {
  *os << "{" << at.segment << ", " << at.offset << "}";
}

namespace {

constexpr size_t kNotFound = HashIndex::kNotFound;

uint64_t TestSeed(const char* test) {
  const char* env = std::getenv("SPILLWAY_TEST_SEED");
  const uint64_t seed = env != nullptr ? std::strtoull(env, nullptr, 0) : std::random_device{}();
  ::testing::Test::RecordProperty("seed", std::to_string(seed));
  std::cout << "[ seed     ] " << test << ": " << seed << "\n";
  return seed;
}

uint64_t Packed(Location at) { return uint64_t{at.segment} << 24 | at.offset; }
size_t HomeOf(uint64_t hash, size_t capacity) { return ((hash & 0xffffffffu) * capacity) >> 32; }
auto Is(Location want) {
  return [want](Location at) { return at == want; };
}

// The largest distance from home in a table holding entries with these home counts. The layout
// does not depend on the order of operations (every run is sorted by home with no gaps), so it is
// built directly, first come first served; the second lap is exact for runs that wrap the end.
size_t MaxDistance(const std::vector<int>& homes) {
  const size_t capacity = homes.size();
  std::deque<size_t> waiting;
  size_t max = 0;
  for (size_t i = 0; i < 2 * capacity; ++i) {
    waiting.insert(waiting.end(), homes[i % capacity], i);
    if (waiting.empty()) continue;
    if (i >= capacity) max = std::max(max, i - waiting.front());
    waiting.pop_front();
  }
  return max;
}

// What a table must hold. Locations are unique, so a match on one names one entry, and `owner`
// gives the hash back (as item memory does for a rehash).
struct Model {
  struct Entry {
    Location at;
    uint8_t freq;
  };
  std::unordered_map<uint64_t, Entry> entries;      // by hash
  std::unordered_map<uint64_t, uint64_t> owner;     // packed location -> hash
  std::vector<std::pair<uint64_t, Location>> gone;  // erased or dropped: must stay unfound

  void Add(uint64_t hash, Location at, uint8_t freq) {
    entries[hash] = {at, freq};
    owner[Packed(at)] = hash;
  }
  void Remove(uint64_t hash) {
    gone.emplace_back(hash, entries.at(hash).at);
    owner.erase(Packed(entries.at(hash).at));
    entries.erase(hash);
  }
  // Every entry is found with its location and freq, and more(hash, pos) holds for it.
  template <typename Table, typename More>
  void Check(const Table& table, More&& more) const {
    ASSERT_EQ(table.size(), entries.size());
    for (const auto& [hash, e] : entries) {
      const size_t pos = table.Find(hash, Is(e.at));
      ASSERT_NE(pos, kNotFound) << std::hex << hash;
      ASSERT_EQ(table.At(pos), e.at);
      ASSERT_EQ(table.Freq(pos), e.freq);
      ASSERT_NO_FATAL_FAILURE(more(hash, pos));
    }
    for (const auto& [hash, at] : gone) ASSERT_EQ(table.Find(hash, Is(at)), kNotFound);
  }
};

TEST(HashIndex, RandomOperationsMatchAModel) {
  const uint64_t seed = TestSeed("HashIndex.RandomOperationsMatchAModel");
  SCOPED_TRACE("seed " + std::to_string(seed) + " (SPILLWAY_TEST_SEED repeats it)");
  std::mt19937_64 rng(seed);
  auto percent = [&] { return static_cast<int>(rng() % 100); };
  HashIndex table(500);
  ASSERT_EQ(table.capacity(), 512u) << "not rounded up to a whole page";
  const size_t cap = table.capacity();
  Model model;
  std::vector<uint64_t> keys;  // the model's hashes, to pick from
  std::vector<int> homes(cap, 0);
  // Crowd homes 509, 511 and 0 (either side of the table end) and use three tags, so that runs
  // are long, wrap, and hold entries with the same home and tag that only the match tells apart.
  auto new_hash = [&] {
    uint64_t hash;
    do {
      const int r = percent();
      uint64_t low = rng() & 0xffffffff;
      if (r < 14) low = 0xffffffff - (rng() & 0xffff);
      if (r >= 14 && r < 20) low = rng() & 0xffff;
      if (r >= 20 && r < 26) low = (uint64_t{509} << 23) | (rng() & 0xffff);
      const uint64_t tags[] = {0, 1, 511};
      hash = tags[rng() % 3] << 55 | (rng() & 0x007fffff00000000) | low;
    } while (model.entries.contains(hash));
    return hash;
  };
  auto new_location = [&] {
    Location at;
    do
      at = {1 + static_cast<uint32_t>(rng() % HashIndex::kMaxSegments),
            static_cast<uint32_t>(rng() & HashIndex::kMaxOffset)};
    while (model.owner.contains(Packed(at)));
    return at;
  };
  auto near_home = [&](uint64_t hash, size_t pos) {
    ASSERT_LE((pos + cap - HomeOf(hash, cap)) % cap, HashIndex::kMaxDistance);
  };
  int refused = 0, wrapped = 0;
  for (int step = 0; step < 20000; ++step) {
    SCOPED_TRACE("step " + std::to_string(step) + ", size " + std::to_string(keys.size()));
    const int op = percent();
    if (op < (keys.size() < cap * 7 / 8 ? 60 : 35)) {
      const uint64_t hash = new_hash();
      const Location at = new_location();
      const uint8_t freq = rng() % 4;
      ++homes[HomeOf(hash, cap)];
      const bool fits = keys.size() + 1 < cap && MaxDistance(homes) <= HashIndex::kMaxDistance;
      const size_t pos = table.Insert(hash, at, freq);
      ASSERT_EQ(pos != kNotFound, fits) << "insert " << std::hex << hash;
      if (fits) {
        model.Add(hash, at, freq);
        keys.push_back(hash);
        wrapped += pos < HomeOf(hash, cap);
      } else {  // and the check below finds the table unchanged
        --homes[HomeOf(hash, cap)];
        ++refused;
      }
    } else if (op < 70 && !keys.empty()) {
      const size_t k = rng() % keys.size();
      const size_t pos = table.Find(keys[k], Is(model.entries.at(keys[k]).at));
      ASSERT_NE(pos, kNotFound);
      table.Erase(pos);
      model.gone.clear();  // checking the last erased entry is enough
      model.Remove(keys[k]);
      --homes[HomeOf(keys[k], cap)];
      keys[k] = keys.back();
      keys.pop_back();
    } else if (op < 85 && !keys.empty()) {
      const uint64_t hash = keys[rng() % keys.size()];
      const Model::Entry e = model.entries.at(hash);
      const size_t pos = table.Find(hash, Is(e.at));
      ASSERT_NE(pos, kNotFound);
      const Location at = op % 2 == 0 ? e.at : new_location();
      const uint8_t freq = op % 2 == 0 ? rng() % 4 : e.freq;
      table.SetFreq(pos, freq);
      table.SetLocation(pos, at);
      model.Remove(hash);
      model.gone.pop_back();
      model.Add(hash, at, freq);
    } else {
      // A miss must offer the match exactly the entries with the probe's home and tag.
      const uint64_t hash = new_hash();
      auto alike = [&](uint64_t h) {
        return HomeOf(h, cap) == HomeOf(hash, cap) && h >> 55 == hash >> 55;
      };
      size_t expected = 0, offered = 0;
      for (const uint64_t h : keys) expected += alike(h);
      const size_t pos = table.Find(hash, [&](Location at) {
        EXPECT_TRUE(alike(model.owner.at(Packed(at))));
        ++offered;
        return false;
      });
      ASSERT_EQ(pos, kNotFound);
      ASSERT_EQ(offered, expected) << std::hex << hash;
    }
    size_t occupied = 0;
    for (size_t i = 0; i < cap; ++i) occupied += table.Occupied(i);
    ASSERT_EQ(occupied, keys.size());
    ASSERT_NO_FATAL_FAILURE(model.Check(table, near_home));
  }
  EXPECT_GT(refused, 0);
  EXPECT_GT(wrapped, 100);
}

TEST(HashIndex, FreqAndLocationMoveWithShiftedEntries) {
  HashIndex table(512);
  const uint64_t a = uint64_t{5} << 55 | 0xffffffff;  // home 511
  const uint64_t b = uint64_t{6} << 55 | 0x10;        // home 0
  // Every bit of the old location and freq set, so that a setter that clears too little shows.
  ASSERT_EQ(table.Insert(a, {HashIndex::kMaxSegments, HashIndex::kMaxOffset}, 3), 511u);
  ASSERT_EQ(table.Insert(b, {HashIndex::kMaxSegments, 0}, 2), 0u);
  table.SetFreq(511, 1);
  table.SetLocation(511, {7, 70});
  table.SetLocation(0, {8, 80});
  table.SetFreq(0, 0);
  // b stays right after a, and a sits at its home or right after the pushers below.
  auto expect_kept = [&](size_t pushers_left) {
    const size_t a_pos = std::max<size_t>(511, 510 + pushers_left) % 512, b_pos = (a_pos + 1) % 512;
    ASSERT_EQ(table.Find(a, Is({7, 70})), a_pos);
    ASSERT_EQ(table.Find(b, Is({8, 80})), b_pos);
    EXPECT_EQ(table.Freq(a_pos), 1);
    EXPECT_EQ(table.Freq(b_pos), 0);
  };
  // Entries homed at 510 come first in the run, pushing a and b on across the table end.
  std::vector<uint64_t> pushers;
  for (uint32_t i = 0; i < 5; ++i) {
    pushers.push_back(uint64_t{i} << 55 | uint64_t{510} << 23);
    ASSERT_NE(table.Insert(pushers.back(), {100 + i, i}, 0), kNotFound);
    ASSERT_NO_FATAL_FAILURE(expect_kept(i + 1));
  }
  // Erasing them (middle first) shifts a and b back.
  for (const uint32_t i : {2u, 0u, 4u, 1u, 3u}) {
    table.Erase(table.Find(pushers[i], Is({100 + i, i})));
    ASSERT_NO_FATAL_FAILURE(expect_kept(table.size() - 2));
  }
}

TEST(HashIndex, InsertRefusesPastTheMaxDistanceAndChangesNothing) {
  HashIndex table(3585);
  const size_t cap = table.capacity();
  ASSERT_EQ(cap, 4096u) << "not rounded up to whole pages";
  auto hash = [](uint64_t i) { return i << 32 | 0xffffffff; };  // all homed at the last slot
  auto at = [](uint32_t i) { return Location{1 + i, i}; };
  auto expect_all = [&](uint32_t from, uint32_t to) {
    for (uint32_t i = from; i < to; ++i) ASSERT_NE(table.Find(hash(i), Is(at(i))), kNotFound) << i;
  };
  // The run fills the last slot and the next n - 1 (across the end), and no more.
  auto expect_run = [&](size_t n) {
    for (size_t i = 0; i < 256; ++i) ASSERT_EQ(table.Occupied((cap - 1 + i) % cap), i < n) << i;
  };
  for (uint32_t i = 0; i < 200; ++i) {
    const size_t pos = table.Insert(hash(i), at(i), 0);
    if (i <= HashIndex::kMaxDistance) {
      ASSERT_NE(pos, kNotFound) << i;
      ASSERT_EQ(table.At(pos), at(i));
    } else {
      ASSERT_EQ(pos, kNotFound) << i;
      ASSERT_EQ(table.Find(hash(i), Is(at(i))), kNotFound);
      ASSERT_EQ(table.size(), 128u);
      ASSERT_NO_FATAL_FAILURE(expect_all(0, 128));
      ASSERT_NO_FATAL_FAILURE(expect_run(128));
    }
  }
  // An entry homed one slot earlier fits in front of the run, but a second one would push the
  // run's last entry past the limit.
  const uint64_t before = uint64_t{1} << 60 | uint64_t{cap - 2} << 20;
  ASSERT_EQ(table.Insert(before, {9000, 0}, 0), cap - 2);
  ASSERT_EQ(table.Insert(before + 1, {9001, 0}, 0), kNotFound);
  ASSERT_EQ(table.Find(before, Is({9000, 0})), cap - 2);
  ASSERT_EQ(table.size(), 129u);
  ASSERT_NO_FATAL_FAILURE(expect_all(0, 128));
  ASSERT_NO_FATAL_FAILURE(expect_run(128));
  // Erasing one entry of the run shifts the rest back across the table end and makes room.
  table.Erase(table.Find(hash(0), Is(at(0))));
  ASSERT_NO_FATAL_FAILURE(expect_all(1, 128));
  ASSERT_NO_FATAL_FAILURE(expect_run(127));
  ASSERT_NE(table.Insert(hash(128), at(128), 0), kNotFound);
  ASSERT_NO_FATAL_FAILURE(expect_all(1, 129));
  ASSERT_NO_FATAL_FAILURE(expect_run(128));
}

TEST(Index, EntriesStayFindableWhileAPartitionIsRebuilt) {
  const uint64_t seed = TestSeed("Index.EntriesStayFindableWhileAPartitionIsRebuilt");
  SCOPED_TRACE("seed " + std::to_string(seed) + " (SPILLWAY_TEST_SEED repeats it)");
  std::mt19937_64 rng(seed);
  Index index(4, 512);
  ASSERT_TRUE(index.valid());
  constexpr size_t kPart = 1;
  Model model;
  auto insert = [&](uint64_t hash) {
    const uint32_t n = model.owner.size() + model.gone.size();
    const size_t pos = index.Insert(hash, {1 + n, n}, n % 4);
    ASSERT_NE(pos, kNotFound);
    ASSERT_EQ(pos >> 63, 0u) << "inserted into the old table";
    model.Add(hash, {1 + n, n}, n % 4);
  };
  for (int i = 0; i < 1200; ++i) ASSERT_NO_FATAL_FAILURE(insert(rng()));
  // Counts the entries found in the old table, which only the rebuilt partition has.
  size_t in_old = 0;
  auto check = [&] {
    const size_t was_in_old = std::exchange(in_old, 0);
    ASSERT_NO_FATAL_FAILURE(model.Check(index, [&](uint64_t hash, size_t pos) {
      ASSERT_TRUE(pos >> 63 == 0 || index.PartitionOf(hash) == kPart);
      in_old += pos >> 63;
    }));
    ASSERT_LE(in_old, was_in_old) << "an entry went back to the old table";
  };
  std::unordered_set<uint64_t> drop;  // packed locations that rehash drops: every tenth entry
  size_t in_part = 0;
  for (const auto& [hash, e] : model.entries) {
    if (index.PartitionOf(hash) == kPart && in_part++ % 10 == 0) drop.insert(Packed(e.at));
  }
  ASSERT_GT(in_part, 200u);
  ASSERT_TRUE(index.StartRebuild(kPart, 2048));
  ASSERT_FALSE(index.StartRebuild(0, 2048)) << "a second rebuild started";
  EXPECT_EQ(index.capacity(), 3 * 512 + 2048u);
  EXPECT_EQ(index.migration_pending(), 512u);
  in_old = SIZE_MAX;
  ASSERT_NO_FATAL_FAILURE(check());
  ASSERT_EQ(in_old, in_part) << "not all of the partition is in the old table";

  size_t rehashed = 0, dropped = 0;
  auto rehash = [&](Location at) -> std::optional<uint64_t> {
    ++rehashed;
    const uint64_t hash = model.owner.at(Packed(at));
    EXPECT_EQ(index.PartitionOf(hash), kPart) << at.segment;
    if (!drop.contains(Packed(at))) return hash;
    ++dropped;
    model.Remove(hash);
    return std::nullopt;
  };
  auto lost = [&](Location at) { ADD_FAILURE() << "lost " << at.segment; };
  for (size_t pending = 512; index.migrating(); pending = index.migration_pending()) {
    SCOPED_TRACE("pending " + std::to_string(pending));
    const size_t before = rehashed;
    index.MigrateSome(7, rehash, lost);
    // Each slot looked at is either moved (rehashed) or passed (no longer pending).
    const size_t looked_at = rehashed - before + pending - index.migration_pending();
    ASSERT_LE(index.migration_pending(), pending);
    ASSERT_LE(looked_at, 7u);
    ASSERT_GT(looked_at, 0u);
    ASSERT_NO_FATAL_FAILURE(check());
    if (pending <= 300 || index.migration_pending() > 300) continue;
    // Midway: erase an entry still in the old table and one already moved; add new ones.
    for (const bool old : {true, false}) {
      const auto it = std::find_if(model.entries.begin(), model.entries.end(), [&](auto& kv) {
        return index.PartitionOf(kv.first) == kPart && !drop.contains(Packed(kv.second.at)) &&
               (index.Find(kv.first, Is(kv.second.at)) >> 63 != 0) == old;
      });
      ASSERT_NE(it, model.entries.end()) << old;
      index.Erase(index.Find(it->first, Is(it->second.at)));
      model.Remove(it->first);
    }
    for (int added = 0; added < 20;) {
      const uint64_t hash = rng();
      if (index.PartitionOf(hash) != kPart) continue;
      ASSERT_NO_FATAL_FAILURE(insert(hash));
      ++added;
    }
    ASSERT_NO_FATAL_FAILURE(check());
  }
  EXPECT_EQ(index.migration_pending(), 0u);
  EXPECT_EQ(in_old, 0u);
  EXPECT_EQ(rehashed, in_part - 1) << "the entry erased from the old table was not skipped";
  EXPECT_EQ(dropped, drop.size());
  EXPECT_EQ(index.size(), 1200 - 2 - drop.size() + 20);
}

}  // namespace
}  // namespace spillway::storage
