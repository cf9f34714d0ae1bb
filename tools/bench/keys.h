// Which key a request names: uniform, zipf(alpha) or sequential over key indexes [0, keys), and
// the key text (prefix + decimal index). A KeyGenerator belongs to one thread; the zipf table is
// built once and shared read-only.

#ifndef SPILLWAY_TOOLS_BENCH_KEYS_H_
#define SPILLWAY_TOOLS_BENCH_KEYS_H_

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace spillway::bench {

// xoshiro256**: fast, good enough for load generation, deterministic from a seed.
class Rng {
 public:
  explicit Rng(uint64_t seed);
  uint64_t Next();
  uint64_t Below(uint64_t n);  // uniform in [0, n), n > 0
  double Unit();               // uniform in [0, 1)

 private:
  uint64_t s_[4];
};

// SplitMix64's finaliser: a good 64-bit mix, used to derive values and sizes.
uint64_t Mix64(uint64_t x);

struct KeyPattern {
  enum Kind { kUniform, kZipf, kSequential } kind = kUniform;
  double alpha = 1.0;  // kZipf
};

// "uniform", "sequential", "zipf:<alpha>" (alpha > 0); false on anything else.
bool ParseKeyPattern(std::string_view text, KeyPattern* out);

// The cumulative distribution of zipf(alpha) over n ranks; rank 0 is the most popular.
class ZipfTable {
 public:
  ZipfTable(uint64_t n, double alpha);
  // The rank whose CDF interval holds u in [0, 1).
  uint64_t Rank(double u) const;

 private:
  std::vector<double> cdf_;
};

class KeyGenerator {
 public:
  // `start` is where a sequential pattern begins (each thread its own offset).
  KeyGenerator(KeyPattern pattern, uint64_t keys, std::shared_ptr<const ZipfTable> zipf,
               uint64_t seed, uint64_t start);
  uint64_t Next();

 private:
  KeyPattern pattern_;
  uint64_t keys_;
  std::shared_ptr<const ZipfTable> zipf_;
  Rng rng_;
  uint64_t next_;
};

// prefix + decimal index, appended to `out`.
void AppendKey(std::string_view prefix, uint64_t index, std::string* out);

// The inverse of AppendKey: true and the index when `key` is exactly prefix + the canonical
// decimal of an index (no sign, no leading zero, no overflow), so that a key is checked without
// formatting the expected one.
bool ParseKeyIndex(std::string_view prefix, std::string_view key, uint64_t* index);

}  // namespace spillway::bench

#endif  // SPILLWAY_TOOLS_BENCH_KEYS_H_
