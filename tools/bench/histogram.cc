#include "tools/bench/histogram.h"

#include <algorithm>
#include <bit>
#include <cmath>

namespace spillway::bench {
namespace {

constexpr uint64_t kSubBuckets = uint64_t{1} << Histogram::kSubBucketBits;
// Values 0..127 take indexes 0..127; then each power of two 2^e (e >= 7) takes 128 indexes.
constexpr size_t kBuckets = (64 - Histogram::kSubBucketBits + 1) * kSubBuckets;

}  // namespace

Histogram::Histogram() : counts_(kBuckets, 0) {}

size_t Histogram::IndexOf(uint64_t value) {
  if (value < kSubBuckets) return static_cast<size_t>(value);
  const int exponent = 63 - std::countl_zero(value);  // >= kSubBucketBits
  const int shift = exponent - kSubBucketBits;
  const uint64_t mantissa = value >> shift;  // in [128, 256)
  return static_cast<size_t>((shift + 1) * kSubBuckets + (mantissa - kSubBuckets));
}

uint64_t Histogram::LowestOf(size_t index) {
  if (index < kSubBuckets) return index;
  const int shift = static_cast<int>(index / kSubBuckets) - 1;
  const uint64_t mantissa = index % kSubBuckets + kSubBuckets;
  return mantissa << shift;
}

uint64_t Histogram::HighestOf(size_t index) {
  if (index < kSubBuckets) return index;
  const int shift = static_cast<int>(index / kSubBuckets) - 1;
  return LowestOf(index) + ((uint64_t{1} << shift) - 1);
}

void Histogram::Record(uint64_t value) {
  ++counts_[IndexOf(value)];
  ++count_;
  min_ = std::min(min_, value);
  max_ = std::max(max_, value);
  sum_ += value;
}

void Histogram::Merge(const Histogram& other) {
  for (size_t i = 0; i < kBuckets; ++i) counts_[i] += other.counts_[i];
  count_ += other.count_;
  min_ = std::min(min_, other.min_);
  max_ = std::max(max_, other.max_);
  sum_ += other.sum_;
}

void Histogram::Subtract(const Histogram& earlier) {
  for (size_t i = 0; i < kBuckets; ++i) counts_[i] -= earlier.counts_[i];
  count_ -= earlier.count_;
  sum_ -= earlier.sum_;
}

void Histogram::Reset() { *this = Histogram(); }

double Histogram::Mean() const {
  return count_ == 0 ? 0.0 : static_cast<double>(sum_) / static_cast<double>(count_);
}

uint64_t Histogram::Percentile(double q) const {
  if (count_ == 0) return 0;
  q = std::clamp(q, 0.0, 1.0);
  // The rank of the order statistic, 1-based: at least q of the values are at or below it.
  const uint64_t rank =
      std::max<uint64_t>(1, static_cast<uint64_t>(std::ceil(q * static_cast<double>(count_))));
  uint64_t seen = 0;
  for (size_t i = 0; i < kBuckets; ++i) {
    seen += counts_[i];
    if (seen >= rank) {
      const uint64_t middle = LowestOf(i) + (HighestOf(i) - LowestOf(i)) / 2;
      return std::clamp(middle, min_, max_);
    }
  }
  return max_;
}

}  // namespace spillway::bench
