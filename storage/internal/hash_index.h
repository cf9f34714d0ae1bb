// One table of the store's hash index: Robin Hood hashing with linear probing over 8-byte slots.
// Internal to the storage module; Index (index.h) splits the keyspace over many of them.
//
// A slot packs [tag:9][distance:7][freq:2][segment:22][offset:24]; 0 is an empty slot, which is
// why segment ids start at 1. The probe starts at a home slot picked from the hash's low 32 bits
// (by multiplication, so any capacity works) and `distance` is how far the entry sits from its
// home. Robin Hood keeps entries in home order, so a lookup stops as soon as it meets an entry
// closer to its home than the probe is, compares keys only for entries with its own home and tag,
// and a delete shifts the following entries back by one: no tombstones, and the table runs at a
// high load. The distance has 7 bits; an insert that would push any entry past it is refused
// (the owner grows the table), which at the loads used here does not happen by chance.

#ifndef SPILLWAY_STORAGE_INTERNAL_HASH_INDEX_H_
#define SPILLWAY_STORAGE_INTERNAL_HASH_INDEX_H_

#include <cstddef>
#include <cstdint>
#include <utility>

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
  static constexpr uint32_t kMaxDistance = 127;
  static constexpr size_t kNotFound = SIZE_MAX;

  HashIndex() = default;
  // Maps zero-filled memory for at least `capacity` slots (all of its pages). Check valid().
  explicit HashIndex(size_t capacity);

  // A moved-from table is empty and not valid.
  HashIndex(HashIndex&& o) noexcept { *this = std::move(o); }
  HashIndex& operator=(HashIndex&& o) noexcept {
    memory_ = std::exchange(o.memory_, Mapped());
    slots_ = std::exchange(o.slots_, nullptr);
    capacity_ = std::exchange(o.capacity_, 0);
    size_ = std::exchange(o.size_, 0);
    return *this;
  }

  bool valid() const { return slots_ != nullptr; }
  size_t capacity() const { return capacity_; }
  size_t size() const { return size_; }
  bool Occupied(size_t pos) const { return slots_[pos] != kEmpty; }
  size_t bytes() const { return memory_.size(); }

  // The position of the entry with `hash`'s home and tag for which match(Location) is true, or
  // kNotFound.
  template <typename Match>
  size_t Find(uint64_t hash, Match&& match) const {
    const uint64_t tag = Tag(hash);
    size_t pos = Home(hash);
    for (uint64_t distance = 0; distance <= kMaxDistance; ++distance, pos = Next(pos)) {
      const uint64_t slot = slots_[pos];
      if (slot == kEmpty) return kNotFound;
      const uint64_t d = Distance(slot);
      if (d < distance) return kNotFound;
      if (d == distance && (slot >> kTagShift) == tag && match(At(pos))) return pos;
    }
    return kNotFound;
  }

  // Starts loading the slot where a probe for `hash` begins (a hint: no effect on contents).
  void Prefetch(uint64_t hash) const { __builtin_prefetch(&slots_[Home(hash)]); }

  Location At(size_t pos) const {
    const uint64_t slot = slots_[pos];
    return {static_cast<uint32_t>((slot >> 24) & kMaxSegments),
            static_cast<uint32_t>(slot & kMaxOffset)};
  }
  uint8_t Freq(size_t pos) const { return (slots_[pos] >> kFreqShift) & 3; }
  void SetFreq(size_t pos, uint8_t freq) {
    slots_[pos] = (slots_[pos] & ~(uint64_t{3} << kFreqShift)) | (uint64_t{freq} << kFreqShift);
  }
  void SetLocation(size_t pos, Location at) {
    slots_[pos] = (slots_[pos] & ~kLocationMask) | Pack(at);
  }

  // Adds an entry for a key that has none and returns its position, or kNotFound when the table
  // is full or an entry would end up too far from its home. Moves other entries.
  size_t Insert(uint64_t hash, Location at, uint8_t freq);
  // Removes the entry at `pos`. Moves other entries.
  void Erase(size_t pos);

 private:
  static constexpr uint64_t kEmpty = 0;
  static constexpr int kTagShift = 55;
  static constexpr int kDistanceShift = 48;
  static constexpr int kFreqShift = 46;
  static constexpr uint64_t kLocationMask = (uint64_t{1} << kFreqShift) - 1;
  static uint64_t Tag(uint64_t hash) { return hash >> kTagShift; }
  static uint64_t Distance(uint64_t slot) { return (slot >> kDistanceShift) & kMaxDistance; }
  size_t Home(uint64_t hash) const { return ((hash & 0xffffffffu) * capacity_) >> 32; }
  size_t Next(size_t pos) const { return pos + 1 == capacity_ ? 0 : pos + 1; }
  static uint64_t Pack(Location at) { return (uint64_t{at.segment} << 24) | at.offset; }

  Mapped memory_;
  uint64_t* slots_ = nullptr;
  size_t capacity_ = 0;
  size_t size_ = 0;
};

}  // namespace spillway::storage

#endif  // SPILLWAY_STORAGE_INTERNAL_HASH_INDEX_H_
