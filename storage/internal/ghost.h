// S3-FIFO's ghost queue, approximated: a direct-mapped table of hash fingerprints of items
// recently evicted from the small queue. A newer entry overwrites an older one in its slot, which
// ages entries out roughly in FIFO order without any list. Internal to the storage module.

#ifndef SPILLWAY_STORAGE_INTERNAL_GHOST_H_
#define SPILLWAY_STORAGE_INTERNAL_GHOST_H_

#include <cstddef>
#include <cstdint>

#include "storage/internal/mapped.h"

namespace spillway::storage {

class Ghost {
 public:
  Ghost() = default;
  explicit Ghost(size_t slots) : memory_(slots * sizeof(uint32_t)) {
    if (memory_.data() != nullptr) {
      slots_ = reinterpret_cast<uint32_t*>(memory_.data());
      count_ = slots;
    }
  }
  size_t bytes() const { return memory_.size(); }

  void Insert(uint64_t hash) {
    if (slots_ != nullptr) slots_[Slot(hash)] = Fingerprint(hash);
  }
  // True, forgetting the entry, when `hash` was inserted and not overwritten since.
  bool Take(uint64_t hash) {
    if (slots_ == nullptr || slots_[Slot(hash)] != Fingerprint(hash)) return false;
    slots_[Slot(hash)] = 0;
    return true;
  }

 private:
  // The whole hash, remixed, scaled to the table: a shard's keys share some hash bits (store.h),
  // which must not leave part of the table unused.
  size_t Slot(uint64_t hash) const { return (((hash * 0x9e3779b97f4a7c15u) >> 32) * count_) >> 32; }
  static uint32_t Fingerprint(uint64_t hash) { return static_cast<uint32_t>(hash >> 32) | 1; }

  Mapped memory_;
  uint32_t* slots_ = nullptr;
  size_t count_ = 0;
};

}  // namespace spillway::storage

#endif  // SPILLWAY_STORAGE_INTERNAL_GHOST_H_
