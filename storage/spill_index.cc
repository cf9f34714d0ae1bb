#include "storage/spill_index.h"

#include <bit>
#include <utility>

namespace spillway::storage {
namespace {

constexpr size_t kInitialSlots = 1024;

}  // namespace

SpillIndex::SpillIndex() : slots_(kInitialSlots), shift_(64 - std::countr_zero(kInitialSlots)) {}

uint64_t SpillIndex::Find(uint64_t hash) const {
  for (size_t i = Home(hash);; i = Next(i)) {
    const Slot& s = slots_[i];
    if (s.seq == 0) return 0;
    if (s.hash == hash) return s.seq;
  }
}

void SpillIndex::Set(uint64_t hash, uint64_t seq) {
  for (size_t i = Home(hash);; i = Next(i)) {
    Slot& s = slots_[i];
    if (s.seq != 0 && s.hash != hash) continue;
    if (s.seq == 0) {
      s.hash = hash;
      ++size_;
    }
    s.seq = seq;
    break;
  }
  if (size_ * 4 > slots_.size() * 3) Grow();
}

bool SpillIndex::Erase(uint64_t hash) {
  for (size_t i = Home(hash);; i = Next(i)) {
    const Slot& s = slots_[i];
    if (s.seq == 0) return false;
    if (s.hash == hash) {
      EraseAt(i);
      return true;
    }
  }
}

void SpillIndex::EraseAt(size_t i) {
  // Backward shift: move later entries of the run into the hole while that keeps them at or
  // after their home, so that every lookup still finds them before an empty slot.
  slots_[i] = Slot{};
  --size_;
  for (size_t j = Next(i); slots_[j].seq != 0; j = Next(j)) {
    const size_t home = Home(slots_[j].hash);
    // Does j's probe path (home .. j, cyclically) pass through the hole i?
    const bool passes = i <= j ? (home <= i || home > j) : (home <= i && home > j);
    if (!passes) continue;
    slots_[i] = std::exchange(slots_[j], Slot{});
    i = j;
  }
}

void SpillIndex::Clear() {
  slots_.assign(kInitialSlots, Slot{});
  slots_.shrink_to_fit();
  shift_ = 64 - std::countr_zero(kInitialSlots);
  size_ = 0;
}

size_t SpillIndex::EraseOlderThan(uint64_t seq) {
  std::vector<Slot> old = std::move(slots_);
  const size_t before = size_;
  slots_.assign(old.size(), Slot{});
  size_ = 0;
  for (const Slot& s : old) {
    if (s.seq >= seq) Set(s.hash, s.seq);
  }
  return before - size_;
}

void SpillIndex::Grow() {
  std::vector<Slot> old = std::move(slots_);
  slots_.assign(old.size() * 2, Slot{});
  --shift_;
  size_ = 0;
  for (const Slot& s : old) {
    if (s.seq != 0) Set(s.hash, s.seq);
  }
}

}  // namespace spillway::storage
