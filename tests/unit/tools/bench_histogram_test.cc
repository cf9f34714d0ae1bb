// The histogram's percentiles against exact order statistics of known distributions.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <vector>

#include "tools/bench/histogram.h"
#include "tools/bench/keys.h"

namespace spillway::bench {
namespace {

void ExpectWithinBound(std::vector<uint64_t> values) {
  Histogram h;
  for (uint64_t v : values) h.Record(v);
  std::sort(values.begin(), values.end());
  for (double q : {0.0, 0.5, 0.9, 0.99, 0.999, 0.9999, 1.0}) {
    const size_t rank = std::max<size_t>(1, static_cast<size_t>(std::ceil(q * values.size())));
    const double exact = static_cast<double>(values[rank - 1]);
    const double got = static_cast<double>(h.Percentile(q));
    EXPECT_LE(std::abs(got - exact), exact * Histogram::kRelativeError + 0.5)
        << "q=" << q << " exact=" << exact << " got=" << got;
  }
  EXPECT_EQ(h.max(), values.back());
  EXPECT_EQ(h.min(), values.front());
  EXPECT_EQ(h.count(), values.size());
}

TEST(BenchHistogramTest, BucketsCoverEveryValueWithBoundedWidth) {
  for (uint64_t v : {0ull, 1ull, 127ull, 128ull, 255ull, 256ull, 1000ull, 123456789ull,
                     (1ull << 40) + 12345, ~0ull}) {
    const size_t i = Histogram::IndexOf(v);
    EXPECT_LE(Histogram::LowestOf(i), v);
    EXPECT_GE(Histogram::HighestOf(i), v);
    EXPECT_LE(Histogram::HighestOf(i) - Histogram::LowestOf(i),
              static_cast<uint64_t>(static_cast<double>(v) / 128.0))
        << v;
  }
}

TEST(BenchHistogramTest, UniformPercentilesWithinOnePercent) {
  Rng rng(7);
  std::vector<uint64_t> values;
  for (int i = 0; i < 200000; ++i) values.push_back(1000 + rng.Below(10'000'000));
  ExpectWithinBound(values);
}

TEST(BenchHistogramTest, ExponentialAndHeavyTailPercentilesWithinOnePercent) {
  Rng rng(11);
  std::vector<uint64_t> exponential, pareto;
  for (int i = 0; i < 200000; ++i) {
    const double u = 1.0 - rng.Unit();
    exponential.push_back(static_cast<uint64_t>(-std::log(u) * 50'000));
    pareto.push_back(static_cast<uint64_t>(20'000 / std::pow(u, 1.0 / 1.2)));
  }
  ExpectWithinBound(exponential);
  ExpectWithinBound(pareto);
}

TEST(BenchHistogramTest, MergeEqualsRecordingEverythingInOne) {
  Histogram a, b, all;
  Rng rng(3);
  for (int i = 0; i < 10000; ++i) {
    const uint64_t v = rng.Below(1'000'000);
    (i % 2 ? a : b).Record(v);
    all.Record(v);
  }
  a.Merge(b);
  for (double q : {0.5, 0.99, 0.9999}) EXPECT_EQ(a.Percentile(q), all.Percentile(q));
  EXPECT_EQ(a.count(), all.count());
  EXPECT_EQ(Histogram().Percentile(0.5), 0u);
}

}  // namespace
}  // namespace spillway::bench
