#include "storage/internal/hash_index.h"

namespace spillway::storage {

HashIndex::HashIndex(size_t capacity) : memory_(capacity * sizeof(uint64_t)) {
  if (memory_.data() == nullptr) return;
  slots_ = reinterpret_cast<uint64_t*>(memory_.data());
  capacity_ = memory_.size() / sizeof(uint64_t);
}

size_t HashIndex::Insert(uint64_t hash, Location at, uint8_t freq) {
  if (size_ + 1 >= capacity_) return kNotFound;  // keep an empty slot: probes must end
  // The new entry goes where the first entry closer to its home than the probe sits (or the
  // first empty slot); the entries from there to the next empty slot shift one further.
  size_t pos = Home(hash);
  uint64_t distance = 0;
  while (slots_[pos] != kEmpty && Distance(slots_[pos]) >= distance) {
    if (++distance > kMaxDistance) return kNotFound;
    pos = Next(pos);
  }
  size_t end = pos;
  while (slots_[end] != kEmpty) {
    if (Distance(slots_[end]) == kMaxDistance) return kNotFound;
    end = Next(end);
  }
  for (size_t to = end; to != pos;) {
    const size_t from = to == 0 ? capacity_ - 1 : to - 1;
    slots_[to] = slots_[from] + (uint64_t{1} << kDistanceShift);
    to = from;
  }
  slots_[pos] = (Tag(hash) << kTagShift) | (distance << kDistanceShift) |
                (uint64_t{freq} << kFreqShift) | Pack(at);
  ++size_;
  return pos;
}

void HashIndex::Erase(size_t pos) {
  --size_;
  // Backward shift: the entries after it that are not at their home move one slot closer.
  for (size_t next = Next(pos); slots_[next] != kEmpty && Distance(slots_[next]) > 0;
       next = Next(next)) {
    slots_[pos] = slots_[next] - (uint64_t{1} << kDistanceShift);
    pos = next;
  }
  slots_[pos] = kEmpty;
}

}  // namespace spillway::storage
