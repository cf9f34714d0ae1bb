// Seeded synthetic request traces for the eviction study. A trace is a vector of keys; the same
// options and seed give the same trace on every platform (no std:: distributions, whose output is
// implementation-defined). Nothing here is shared between threads.

#ifndef SPILLWAY_TOOLS_EVICTION_SIM_TRACES_H_
#define SPILLWAY_TOOLS_EVICTION_SIM_TRACES_H_

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace spillway::eviction_sim {

// splitmix64's finalizer: a bijection on 64-bit values (each step, xor-shift or odd multiply, is
// invertible) that spreads nearby inputs apart.
uint64_t Mix64(uint64_t x);

// xoshiro256** seeded through splitmix64.
class Rng {
 public:
  explicit Rng(uint64_t seed);
  uint64_t Next();
  double Uniform();  // in [0, 1), 53 random bits

 private:
  uint64_t s_[4];
};

// Zipf over ranks 0..n-1: P(rank r) = (r + 1)^-alpha / H(n, alpha). Exact inverse-CDF sampling
// (a table of the n cumulative probabilities plus a guide table that makes the search O(1) on
// average), so it is correct for any alpha >= 0, including alpha <= 1 where the usual
// rejection samplers for unbounded Zipf do not apply. Memory: 12 bytes per rank. n >= 1.
class ZipfSampler {
 public:
  ZipfSampler(uint64_t n, double alpha);
  uint64_t Sample(Rng& rng) const;
  double Pmf(uint64_t rank) const;
  uint64_t n() const { return cdf_.size(); }

 private:
  std::vector<double> cdf_;      // cdf_[r] = P(rank <= r); the last entry is exactly 1
  std::vector<uint32_t> guide_;  // guide_[j] = first r with cdf_[r] > j / guide_.size()
};

// A bijection on uint64_t keyed by `seed`: turns ranks and scan ids into keys whose value says
// nothing about popularity (so no policy or hash table can benefit from key order).
uint64_t ScrambleKey(uint64_t id, uint64_t seed);

struct ZipfTraceOptions {
  uint64_t keys = 1'000'000;  // ranks drawn from; not all need appear in the trace
  uint64_t requests = 10'000'000;
  double alpha = 1.0;
  uint64_t seed = 1;
};
std::vector<uint64_t> MakeZipfTrace(const ZipfTraceOptions& options);

// Zipf background with sequential scans spliced in. Scan i reads `scan_length` keys that occur
// nowhere else in the trace (ids keys + i * scan_length .. + scan_length - 1, scrambled) in
// order, each once. The number of scans is round(requests * scan_share / scan_length) and they
// are spread evenly over the trace, with as much background before the first as between two.
// The remaining requests are the Zipf background. requests stays exact.
struct ScanTraceOptions {
  uint64_t keys = 1'000'000;
  uint64_t requests = 10'000'000;
  double alpha = 1.0;
  uint64_t scan_length = 100'000;
  double scan_share = 0.1;  // fraction of all requests that belong to scans
  uint64_t seed = 1;
};
std::vector<uint64_t> MakeScanTrace(const ScanTraceOptions& options);

// Number of distinct keys: the trace's working set.
size_t CountDistinct(std::span<const uint64_t> trace);

}  // namespace spillway::eviction_sim

#endif  // SPILLWAY_TOOLS_EVICTION_SIM_TRACES_H_
