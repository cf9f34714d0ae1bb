#include "tools/eviction-sim/traces.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>

namespace spillway::eviction_sim {

uint64_t Mix64(uint64_t x) {
  x ^= x >> 30;
  x *= 0xbf58476d1ce4e5b9ULL;
  x ^= x >> 27;
  x *= 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}
namespace {

uint64_t SplitMix64(uint64_t& state) {
  state += 0x9e3779b97f4a7c15ULL;
  return Mix64(state);
}

uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

}  // namespace

Rng::Rng(uint64_t seed) {
  for (uint64_t& s : s_) s = SplitMix64(seed);
}

uint64_t Rng::Next() {
  const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = Rotl(s_[3], 45);
  return result;
}

double Rng::Uniform() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

ZipfSampler::ZipfSampler(uint64_t n, double alpha) {
  n = std::clamp<uint64_t>(n, 1, std::numeric_limits<uint32_t>::max());
  cdf_.resize(n);
  double total = 0;
  for (uint64_t r = 0; r < n; ++r) {
    total += std::pow(static_cast<double>(r + 1), -alpha);
    cdf_[r] = total;
  }
  for (double& c : cdf_) c /= total;
  cdf_.back() = 1.0;  // so that the search in Sample always stops

  guide_.resize(n);
  uint64_t r = 0;
  for (uint64_t j = 0; j < n; ++j) {
    const double threshold = static_cast<double>(j) / static_cast<double>(n);
    while (cdf_[r] <= threshold) ++r;
    guide_[j] = static_cast<uint32_t>(r);
  }
}

uint64_t ZipfSampler::Sample(Rng& rng) const {
  const double u = rng.Uniform();
  const uint64_t n = cdf_.size();
  const uint64_t j = std::min<uint64_t>(static_cast<uint64_t>(u * static_cast<double>(n)), n - 1);
  uint64_t r = guide_[j];
  // u * n can round up across an integer; step back so the answer is exactly the first rank
  // whose cumulative probability exceeds u.
  while (r > 0 && cdf_[r - 1] > u) --r;
  while (cdf_[r] <= u) ++r;
  return r;
}

double ZipfSampler::Pmf(uint64_t rank) const {
  if (rank >= cdf_.size()) return 0;
  return cdf_[rank] - (rank == 0 ? 0.0 : cdf_[rank - 1]);
}

uint64_t ScrambleKey(uint64_t id, uint64_t seed) {
  return Mix64(id + Mix64(seed ^ 0x5eed5eed5eed5eedULL));
}

std::vector<uint64_t> MakeZipfTrace(const ZipfTraceOptions& options) {
  const ZipfSampler zipf(options.keys, options.alpha);
  Rng rng(options.seed);
  std::vector<uint64_t> trace(options.requests);
  for (uint64_t& key : trace) key = ScrambleKey(zipf.Sample(rng), options.seed);
  return trace;
}

std::vector<uint64_t> MakeScanTrace(const ScanTraceOptions& options) {
  const ZipfSampler zipf(options.keys, options.alpha);
  Rng rng(options.seed);
  const uint64_t length = std::max<uint64_t>(options.scan_length, 1);
  uint64_t scans = static_cast<uint64_t>(
      std::llround(static_cast<double>(options.requests) * options.scan_share / length));
  scans = std::min(scans, options.requests / length);
  const uint64_t background = options.requests - scans * length;

  std::vector<uint64_t> trace;
  trace.reserve(options.requests);
  uint64_t emitted = 0;  // background requests so far
  auto emit_background_until = [&](uint64_t target) {
    for (; emitted < target; ++emitted) {
      trace.push_back(ScrambleKey(zipf.Sample(rng), options.seed));
    }
  };
  for (uint64_t i = 0; i < scans; ++i) {
    emit_background_until(background * (i + 1) / (scans + 1));
    const uint64_t first_id = options.keys + i * length;  // above every Zipf rank
    for (uint64_t j = 0; j < length; ++j) {
      trace.push_back(ScrambleKey(first_id + j, options.seed));
    }
  }
  emit_background_until(background);
  return trace;
}

size_t CountDistinct(std::span<const uint64_t> trace) {
  std::vector<uint64_t> sorted(trace.begin(), trace.end());
  std::sort(sorted.begin(), sorted.end());
  return static_cast<size_t>(std::unique(sorted.begin(), sorted.end()) - sorted.begin());
}

}  // namespace spillway::eviction_sim
