// A latency histogram with log buckets and bounded relative error, in the manner of HdrHistogram:
// every power of two is split into 128 linear sub-buckets, so a recorded value is known to within
// 1/128 of itself (a reported percentile is the middle of its bucket: within 1/256, ~0.4%).
// Values below 128 are exact. Recording is a shift and an increment; nothing allocates after
// construction. One per thread; Merge them at the end.
//
// Thread safety: none. A Histogram belongs to the thread that records into it.

#ifndef SPILLWAY_TOOLS_BENCH_HISTOGRAM_H_
#define SPILLWAY_TOOLS_BENCH_HISTOGRAM_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace spillway::bench {

class Histogram {
 public:
  static constexpr int kSubBucketBits = 7;
  // Relative error bound of Percentile() against the true order statistic.
  static constexpr double kRelativeError = 1.0 / (2 << kSubBucketBits);

  Histogram();

  void Record(uint64_t value);
  void Merge(const Histogram& other);
  // Takes away `earlier`, an earlier copy of this histogram, leaving what was recorded since (the
  // progress line's "p99 now"). min() and max() stay those of the whole, so Percentile clamps
  // more loosely than it would for the interval alone.
  void Subtract(const Histogram& earlier);
  void Reset();

  uint64_t count() const { return count_; }
  uint64_t min() const { return count_ == 0 ? 0 : min_; }
  uint64_t max() const { return max_; }
  double Mean() const;
  // The value at quantile q in [0, 1] (0 when empty): the smallest recorded value v such that at
  // least q of the values are <= v, up to the bucket error, clamped to [min, max].
  uint64_t Percentile(double q) const;

  // Bucket arithmetic, exposed for tests.
  static size_t IndexOf(uint64_t value);
  static uint64_t LowestOf(size_t index);
  static uint64_t HighestOf(size_t index);

 private:
  std::vector<uint64_t> counts_;
  uint64_t count_ = 0;
  uint64_t min_ = UINT64_MAX;
  uint64_t max_ = 0;
  // Exact, and an integer add per Record (a long double add was a visible cost at 2M records/s);
  // it would take centuries of summed nanoseconds to wrap.
  uint64_t sum_ = 0;
};

}  // namespace spillway::bench

#endif  // SPILLWAY_TOOLS_BENCH_HISTOGRAM_H_
