#include "tools/bench/values.h"

#include <charconv>
#include <cstring>

#include "tools/bench/keys.h"

namespace spillway::bench {
namespace {

constexpr uint64_t kMaxValueSize = 64ull << 20;

bool ParseU64(std::string_view text, uint64_t* out) {
  const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && end == text.data() + text.size() && !text.empty();
}

// Each version its own stream: Word(stream, i) = Mix64(stream + i), so streams only need to be
// far apart, which mixed 64-bit values are.
uint64_t VersionStream(uint64_t key_stream, uint32_t version) {
  return Mix64(key_stream + version);
}

}  // namespace

bool ParseValueSize(std::string_view text, ValueSize* out) {
  ValueSize size;
  const size_t dash = text.find('-');
  if (dash == std::string_view::npos) {
    if (!ParseU64(text, &size.min)) return false;
    size.max = size.min;
  } else if (!ParseU64(text.substr(0, dash), &size.min) ||
             !ParseU64(text.substr(dash + 1), &size.max)) {
    return false;
  }
  if (size.min < 1 || size.min > size.max || size.max > kMaxValueSize) return false;
  *out = size;
  return true;
}

uint64_t ValueModel::KeyStream(uint64_t key) const { return Mix64(Mix64(seed_) ^ key); }

uint64_t ValueModel::Word(uint64_t stream, uint64_t i) const {
  // Printable bytes ('0'..'o'), so a value reads well in a packet capture: each byte keeps 6 of
  // the mixed bits.
  const uint64_t x = Mix64(stream + i);
  return (x & 0x3f3f3f3f3f3f3f3fULL) + 0x3030303030303030ULL;
}

uint64_t ValueModel::SizeOf(uint64_t key) const {
  const uint64_t span = size_.max - size_.min + 1;
  return size_.min + Mix64(KeyStream(key) ^ 0x5157) % span;
}

void ValueModel::AppendValue(uint64_t key, uint32_t version, std::string* out) const {
  const uint64_t stream = VersionStream(KeyStream(key), version);
  const uint64_t size = SizeOf(key);
  const size_t start = out->size();
  out->resize(start + size);
  char* p = out->data() + start;
  for (uint64_t i = 0; i * 8 < size; ++i) {
    const uint64_t w = Word(stream, i);
    std::memcpy(p + i * 8, &w, size - i * 8 < 8 ? size - i * 8 : 8);
  }
}

bool ValueModel::Matches(uint64_t key, uint32_t version, std::string_view value) const {
  const uint64_t stream = VersionStream(KeyStream(key), version);
  if (value.size() != SizeOf(key)) return false;
  for (uint64_t i = 0; i * 8 < value.size(); ++i) {
    const uint64_t w = Word(stream, i);
    const size_t n = value.size() - i * 8 < 8 ? value.size() - i * 8 : 8;
    if (std::memcmp(value.data() + i * 8, &w, n) != 0) return false;
  }
  return true;
}

}  // namespace spillway::bench
