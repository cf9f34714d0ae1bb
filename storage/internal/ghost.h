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
  // Bits 16..47 of the hash, scaled to the table: independent of the fingerprint's bits 32..63
  // only in part, which is fine for a hint.
  size_t Slot(uint64_t hash) const { return (((hash >> 16) & 0xffffffffu) * count_) >> 32; }
  static uint32_t Fingerprint(uint64_t hash) { return static_cast<uint32_t>(hash >> 32) | 1; }

  Mapped memory_;
  uint32_t* slots_ = nullptr;
  size_t count_ = 0;
};

}  // namespace spillway::storage

#endif  // SPILLWAY_STORAGE_INTERNAL_GHOST_H_
