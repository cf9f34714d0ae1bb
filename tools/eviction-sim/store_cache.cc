#include "tools/eviction-sim/store_cache.h"

#include <algorithm>
#include <cstdio>

namespace spillway::eviction_sim {
namespace {

constexpr int64_t kNow = 1'700'000'000;
// The smallest budget a store accepts comfortably (eight 4 KiB segments, index, ghost).
constexpr size_t kMinLimit = 128 << 10;

// How many distinct items a store with this budget holds once full.
size_t Holds(size_t limit, size_t value_size, const storage::Options& options) {
  storage::Store store(options);
  const std::string value(value_size, 'v');
  char key[24];
  for (uint64_t i = 0;; ++i) {
    const int n = std::snprintf(key, sizeof key, "%lu", static_cast<unsigned long>(i));
    store.Write(storage::Key(std::string_view(key, static_cast<size_t>(n))), value, 0, 0, kNow);
    if (store.stats().evictions > 0 || i > limit) return store.stats().items;
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
