// The spill tier's index of keys on disk, checked against a std::unordered_map model.

#include "storage/spill_index.h"

#include <gtest/gtest.h>

#include <random>
#include <unordered_map>

namespace spillway::storage {
namespace {

TEST(SpillIndex, FindsWhatWasSetAndForgetsWhatWasErased) {
  SpillIndex index;
  EXPECT_EQ(index.Find(42), 0u);
  index.Set(42, 7);
  EXPECT_EQ(index.Find(42), 7u);
  index.Set(42, 9);  // a newer spill of the same key
  EXPECT_EQ(index.Find(42), 9u);
  EXPECT_EQ(index.size(), 1u);
  EXPECT_TRUE(index.Erase(42));
  EXPECT_FALSE(index.Erase(42));
  EXPECT_EQ(index.Find(42), 0u);
  EXPECT_EQ(index.size(), 0u);
}

TEST(SpillIndex, AgreesWithAMapThroughGrowthAndDeletes) {
  SpillIndex index;
  std::unordered_map<uint64_t, uint64_t> model;
  std::mt19937_64 rng(1);
  uint64_t seq = 1;
  for (int op = 0; op < 200'000; ++op) {
    // Few distinct hashes with clustered low bits, so that probe runs are long and wrap.
    const uint64_t hash = (rng() % 20'000) << 40;
    if (rng() % 3 == 0) {
      EXPECT_EQ(index.Erase(hash), model.erase(hash) == 1);
    } else {
      index.Set(hash, seq);
      model[hash] = seq++;
    }
  }
  EXPECT_EQ(index.size(), model.size());
  EXPECT_GT(index.capacity(), 1024u);  // it grew
  for (uint64_t h = 0; h < 20'000; ++h) {
    const auto it = model.find(h << 40);
    EXPECT_EQ(index.Find(h << 40), it == model.end() ? 0 : it->second) << h;
  }
}

TEST(SpillIndex, EraseOlderThanKeepsOnlyNewerSpills) {
  SpillIndex index;
  for (uint64_t i = 1; i <= 5000; ++i) index.Set(i * 0x9e3779b97f4a7c15u, i);
  EXPECT_EQ(index.EraseOlderThan(4001), 4000u);
  EXPECT_EQ(index.size(), 1000u);
  for (uint64_t i = 1; i <= 5000; ++i) {
    EXPECT_EQ(index.Find(i * 0x9e3779b97f4a7c15u), i > 4000 ? i : 0) << i;
  }
}

TEST(SpillIndex, ClearForgetsEverythingAndShrinks) {
  SpillIndex index;
  for (uint64_t i = 1; i <= 10'000; ++i) index.Set(i, i);
  const size_t grown = index.bytes();
  index.Clear();
  EXPECT_EQ(index.size(), 0u);
  EXPECT_LT(index.bytes(), grown);
  for (uint64_t i = 1; i <= 10'000; ++i) EXPECT_EQ(index.Find(i), 0u);
}

}  // namespace
}  // namespace spillway::storage
