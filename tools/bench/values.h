// The value of every key is a pure function of (key index, seed, version): its size is drawn
// from [min_size, max_size] per key and its bytes from a per-(key, version) stream. The version
// travels in the item's client flags, so a get hit is checked byte for byte without storing
// anything, and a value from another run (another seed), another key, another version than its
// flags claim, a torn write or a flipped byte is caught. Whether the version itself is recent
// enough is VersionTable's business (versions.h).

#ifndef SPILLWAY_TOOLS_BENCH_VALUES_H_
#define SPILLWAY_TOOLS_BENCH_VALUES_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace spillway::bench {

struct ValueSize {
  uint64_t min = 32;
  uint64_t max = 32;
};

// "N" or "MIN-MAX" (1 <= MIN <= MAX <= 64 MiB); false on anything else.
bool ParseValueSize(std::string_view text, ValueSize* out);

class ValueModel {
 public:
  ValueModel(ValueSize size, uint64_t seed) : size_(size), seed_(seed) {}

  uint64_t SizeOf(uint64_t key) const;
  // Appends the value of (`key`, `version`) to `out`.
  void AppendValue(uint64_t key, uint32_t version, std::string* out) const;
  // Whether `value` is exactly the value of (`key`, `version`). Generates and compares 8 bytes
  // at a time without materialising the expected value.
  bool Matches(uint64_t key, uint32_t version, std::string_view value) const;

  // Version 0: what a key holds when it was written once (and what the first cut wrote).
  void AppendValue(uint64_t key, std::string* out) const { AppendValue(key, 0, out); }
  bool Matches(uint64_t key, std::string_view value) const { return Matches(key, 0, value); }

 private:
  uint64_t Word(uint64_t stream, uint64_t i) const;
  uint64_t KeyStream(uint64_t key) const;

  ValueSize size_;
  uint64_t seed_;
};

}  // namespace spillway::bench

#endif  // SPILLWAY_TOOLS_BENCH_VALUES_H_
