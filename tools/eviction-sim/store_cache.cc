#include "tools/eviction-sim/store_cache.h"

#include <algorithm>
#include <cstdio>

namespace spillway::eviction_sim {
namespace {

constexpr int64_t kNow = 1'700'000'000;
// The smallest budget a store accepts comfortably (eight 4 KiB segments, index, ghost).
constexpr size_t kMinLimit = 128 << 10;

// How many distinct items a store with this budget holds in steady state: every key is read
// once after it is written, so eviction moves it to main (where it stores its CAS, 8 bytes more
// than a fresh item), as the traces' hot keys are; counted once evictions have replaced the
// store's contents twice.
size_t Holds(size_t limit, size_t value_size, const storage::Options& options) {
  storage::Store store(options);
  const std::string value(value_size, 'v');
  char key[24];
  size_t first = 0;
  for (uint64_t i = 0;; ++i) {
    // Keys as long as the traces' (scrambled 64-bit ids, in decimal).
    const int n =
        std::snprintf(key, sizeof key, "%lu", static_cast<unsigned long>(i * 0x9e3779b97f4a7c15u));
    const storage::Key k(std::string_view(key, static_cast<size_t>(n)));
    store.Write(k, value, 0, 0, kNow);
    store.Read(k, kNow);
    const storage::StoreStats s = store.stats();
    if (first == 0 && s.evictions > 0) first = s.items;
    if ((first != 0 && s.evictions > 2 * first) || i > limit) return s.items;
  }
}

}  // namespace

storage::Options StoreCache::OptionsFor(size_t limit) {
  storage::Options o;
  o.memory_limit_bytes = std::max(limit, kMinLimit);
  size_t segment = 1 << 20;
  while (segment > 4096 && segment * 64 > o.memory_limit_bytes) segment /= 2;
  o.segment_size = segment;
  return o;
}

StoreCache::StoreCache(size_t objects, size_t value_size)
    : objects_(objects), value_(value_size, 'v') {
  // Start from a guess of the footprint per item and correct it twice by measurement.
  size_t limit = objects * (value_size + 64);
  for (int round = 0; round < 3; ++round) {
    const size_t held = std::max<size_t>(1, Holds(limit, value_size, OptionsFor(limit)));
    limit = std::max(kMinLimit, static_cast<size_t>(static_cast<double>(limit) * objects / held));
  }
  store_ = std::make_unique<storage::Store>(OptionsFor(limit));
}

StoreCache::~StoreCache() = default;

std::string StoreCache::KeyText(uint64_t key) const { return std::to_string(key); }

bool StoreCache::Access(uint64_t key) {
  const std::string text = KeyText(key);
  const storage::Key k(text);
  if (store_->Read(k, kNow).item) return true;
  store_->Write(k, value_, 0, 0, kNow);
  return false;
}

size_t StoreCache::size() const { return store_->stats().items; }

size_t StoreCache::segment_size() const { return store_->stats().segment_size; }

}  // namespace spillway::eviction_sim
