#include "storage/internal/hash_index.h"

namespace spillway::storage {

HashIndex::HashIndex(size_t capacity) : memory_(capacity * sizeof(uint64_t)) {
  if (memory_.data() == nullptr) return;
  slots_ = reinterpret_cast<uint64_t*>(memory_.data());
  capacity_ = capacity;
}

size_t HashIndex::Insert(uint64_t hash, Location at, uint8_t freq) {
  size_t pos = Home(hash);
  while (slots_[pos] > kTombstone) pos = Next(pos);
  if (slots_[pos] == kTombstone) --tombstones_;
  slots_[pos] = (Tag(hash) << 48) | (uint64_t{freq} << 46) | Pack(at);
  ++size_;
  return pos;
}

void HashIndex::Erase(size_t pos) {
  --size_;
  if (slots_[Next(pos)] != kEmpty) {
    slots_[pos] = kTombstone;
    ++tombstones_;
    return;
  }
  // The run ends here, so this slot and the tombstones just before it can become empty: no probe
  // needs to pass them any more.
  slots_[pos] = kEmpty;
  for (size_t prev = Prev(pos); slots_[prev] == kTombstone; prev = Prev(prev)) {
    slots_[prev] = kEmpty;
    --tombstones_;
  }
}

}  // namespace spillway::storage
