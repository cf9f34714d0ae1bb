// The value of every key is a pure function of (key index, seed): its size is drawn from
// [min_size, max_size] and its bytes from a per-key stream. A get hit can then be checked byte for
// byte without storing anything, and a value from another run (another seed), another key, a
// torn write or a flipped byte is caught.
//
// Every set of a key in one run writes the same bytes, so "the bytes last written for the key by
// this run" is exactly ValueOf(key); a lost update between two sets of one key is not detectable
// this way (versions would be: a later step).

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
  // Appends the value of `key` to `out`.
  void AppendValue(uint64_t key, std::string* out) const;
  // Whether `value` is exactly the value of `key`. Generates and compares 8 bytes at a time
  // without materialising the expected value.
  bool Matches(uint64_t key, std::string_view value) const;

 private:
  uint64_t Word(uint64_t stream, uint64_t i) const;
  uint64_t Stream(uint64_t key) const;

  ValueSize size_;
  uint64_t seed_;
};

}  // namespace spillway::bench

#endif  // SPILLWAY_TOOLS_BENCH_VALUES_H_
