// Key generators (zipf shape, uniform coverage, sequential order) and the value model (a
// corrupted, truncated or foreign value is caught).

#include <gtest/gtest.h>

#include <cmath>
#include <memory>
#include <string>
#include <vector>

#include "tools/bench/keys.h"
#include "tools/bench/values.h"

namespace spillway::bench {
namespace {

TEST(BenchKeysTest, ParsesPatterns) {
  KeyPattern p;
  EXPECT_TRUE(ParseKeyPattern("uniform", &p));
  EXPECT_EQ(p.kind, KeyPattern::kUniform);
  EXPECT_TRUE(ParseKeyPattern("zipf:0.99", &p));
  EXPECT_EQ(p.kind, KeyPattern::kZipf);
  EXPECT_DOUBLE_EQ(p.alpha, 0.99);
  EXPECT_FALSE(ParseKeyPattern("zipf:", &p));
  EXPECT_FALSE(ParseKeyPattern("zipf:-1", &p));
  EXPECT_FALSE(ParseKeyPattern("zipf:1x", &p));
  EXPECT_FALSE(ParseKeyPattern("gaussian", &p));
}

TEST(BenchKeysTest, ZipfFollowsItsLaw) {
  constexpr uint64_t kKeys = 1000;
  constexpr int kSamples = 1'000'000;
  const double alpha = 1.0;
  auto table = std::make_shared<ZipfTable>(kKeys, alpha);
  KeyGenerator gen({KeyPattern::kZipf, alpha}, kKeys, table, 42, 0);
  std::vector<int> counts(kKeys);
  for (int i = 0; i < kSamples; ++i) {
    const uint64_t k = gen.Next();
    ASSERT_LT(k, kKeys);
    ++counts[k];
  }
  double norm = 0;
  for (uint64_t i = 1; i <= kKeys; ++i) norm += 1.0 / std::pow(static_cast<double>(i), alpha);
  for (uint64_t rank : {0, 1, 9, 99}) {
    const double expected = kSamples / std::pow(static_cast<double>(rank + 1), alpha) / norm;
    EXPECT_NEAR(counts[rank], expected, 5 * std::sqrt(expected) + 1) << "rank " << rank;
  }
  EXPECT_GT(counts[0], 10 * counts[99]);
}

TEST(BenchKeysTest, UniformCoversAndSequentialWraps) {
  KeyGenerator uniform({KeyPattern::kUniform, 1}, 100, nullptr, 1, 0);
  std::vector<int> seen(100);
  for (int i = 0; i < 100000; ++i) ++seen[uniform.Next()];
  for (int c : seen) EXPECT_NEAR(c, 1000, 200);
  KeyGenerator sequential({KeyPattern::kSequential, 1}, 5, nullptr, 1, 3);
  std::vector<uint64_t> order;
  for (int i = 0; i < 6; ++i) order.push_back(sequential.Next());
  EXPECT_EQ(order, (std::vector<uint64_t>{3, 4, 0, 1, 2, 3}));
  std::string key;
  AppendKey("p:", 1234, &key);
  EXPECT_EQ(key, "p:1234");
}

TEST(BenchValuesTest, ParsesSizes) {
  ValueSize s;
  EXPECT_TRUE(ParseValueSize("32", &s));
  EXPECT_EQ(s.min, 32u);
  EXPECT_EQ(s.max, 32u);
  EXPECT_TRUE(ParseValueSize("10-100", &s));
  EXPECT_EQ(s.min, 10u);
  EXPECT_EQ(s.max, 100u);
  EXPECT_FALSE(ParseValueSize("0", &s));
  EXPECT_FALSE(ParseValueSize("100-10", &s));
  EXPECT_FALSE(ParseValueSize("", &s));
  EXPECT_FALSE(ParseValueSize("1-", &s));
}

TEST(BenchValuesTest, ValuesAreDeterministicAndEveryCorruptionIsCaught) {
  const ValueModel model({1, 300}, 9);
  for (uint64_t key = 0; key < 200; ++key) {
    std::string v;
    model.AppendValue(key, &v);
    ASSERT_EQ(v.size(), model.SizeOf(key));
    ASSERT_GE(v.size(), 1u);
    ASSERT_LE(v.size(), 300u);
    EXPECT_TRUE(model.Matches(key, v));
    std::string again;
    model.AppendValue(key, &again);
    EXPECT_EQ(v, again);
    for (size_t i = 0; i < v.size(); ++i) {  // every single flipped byte
      std::string bad = v;
      bad[i] ^= 0x01;
      EXPECT_FALSE(model.Matches(key, bad)) << "key " << key << " byte " << i;
    }
    EXPECT_FALSE(model.Matches(key, std::string_view(v).substr(0, v.size() - 1)));
    EXPECT_FALSE(model.Matches(key, v + "x"));
    EXPECT_FALSE(model.Matches(key + 1, v)) << "another key's value";
    EXPECT_FALSE(ValueModel({1, 300}, 10).Matches(key, v)) << "another seed's value";
  }
}

}  // namespace
}  // namespace spillway::bench
