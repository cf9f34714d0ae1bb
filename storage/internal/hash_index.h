// The store's hash index: open addressing with linear probing over 8-byte slots. Internal to the
// storage module.
//
// A slot packs [tag:16][freq:2][segment:22][offset:24]; 0 is an empty slot and 1 a tombstone,
// which is why segment ids start at 1. The tag is the hash's top 16 bits and the probe starts at
// a slot picked from its low 32 bits (by multiplication, so any capacity works and the table can
// grow in small steps), so a key is compared only when its tag matches. Slots do not hold the whole
// hash, so an entry's home slot cannot be recomputed from the table alone: deletion leaves a
// tombstone (trimmed when it ends a run), and the owner moves the entries to a new table, rehashing
// each key from its item, when tombstones pile up or the table must grow (Store::Impl does that a
// few entries at a time).

#ifndef SPILLWAY_STORAGE_INTERNAL_HASH_INDEX_H_
#define SPILLWAY_STORAGE_INTERNAL_HASH_INDEX_H_

#include <cstddef>
#include <cstdint>

#include "storage/internal/mapped.h"

namespace spillway::storage {

struct Location {
  uint32_t segment = 0;
  uint32_t offset = 0;
  bool operator==(const Location&) const = default;
};

class HashIndex {
 public:
  static constexpr uint32_t kMaxSegments = (1u << 22) - 1;
  static constexpr uint32_t kMaxOffset = (1u << 24) - 1;
  static constexpr uint8_t kMaxFreq = 3;
  static constexpr size_t kNotFound = SIZE_MAX;

  // Maps zero-filled memory for `capacity` (at least 2) slots. Check valid().
  explicit HashIndex(size_t capacity);

  bool valid() const { return slots_ != nullptr; }
  size_t capacity() const { return capacity_; }
  size_t size() const { return size_; }
  size_t tombstones() const { return tombstones_; }
  bool Occupied(size_t pos) const { return slots_[pos] > kTombstone; }
  size_t bytes() const { return memory_.size(); }

  // The position of the first slot with `hash`'s tag for which match(Location) is true, or
  // kNotFound.
  template <typename Match>
  size_t Find(uint64_t hash, Match&& match) const {
    const uint64_t tag = Tag(hash);
    for (size_t pos = Home(hash);; pos = Next(pos)) {
      const uint64_t slot = slots_[pos];
      if (slot == kEmpty) return kNotFound;
      if (slot != kTombstone && (slot >> 48) == tag && match(At(pos))) return pos;
    }
  }

  Location At(size_t pos) const {
    const uint64_t slot = slots_[pos];
    return {static_cast<uint32_t>((slot >> 24) & kMaxSegments),
            static_cast<uint32_t>(slot & kMaxOffset)};
  }
  uint8_t Freq(size_t pos) const { return (slots_[pos] >> 46) & 3; }
  void SetFreq(size_t pos, uint8_t freq) {
    slots_[pos] = (slots_[pos] & ~(uint64_t{3} << 46)) | (uint64_t{freq} << 46);
  }
  void SetLocation(size_t pos, Location at) {
    slots_[pos] = (slots_[pos] & ~((uint64_t{1} << 46) - 1)) | Pack(at);
  }

  // Adds an entry and returns its position; the caller made sure there is room (an empty slot
  // stays) and no entry for the key.
  size_t Insert(uint64_t hash, Location at, uint8_t freq);
  // Removes the entry at `pos`.
  void Erase(size_t pos);

 private:
  static constexpr uint64_t kEmpty = 0;
  static constexpr uint64_t kTombstone = 1;
  static uint64_t Tag(uint64_t hash) { return hash >> 48; }
  size_t Home(uint64_t hash) const { return ((hash & 0xffffffffu) * capacity_) >> 32; }
  size_t Next(size_t pos) const { return pos + 1 == capacity_ ? 0 : pos + 1; }
  size_t Prev(size_t pos) const { return pos == 0 ? capacity_ - 1 : pos - 1; }
  static uint64_t Pack(Location at) { return (uint64_t{at.segment} << 24) | at.offset; }

  Mapped memory_;
  uint64_t* slots_ = nullptr;
  size_t capacity_ = 0;
  size_t size_ = 0;
  size_t tombstones_ = 0;
};

}  // namespace spillway::storage

#endif  // SPILLWAY_STORAGE_INTERNAL_HASH_INDEX_H_
