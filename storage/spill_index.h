// Which keys of a shard are on disk, and the seq of each one's newest spill: the in-memory filter
// that spares a read that misses memory a disk read, unless the key was spilled, and the check
// that no older version on disk is ever served. Internal to the spill tier; one shard's thread.
//
// Keyed by the key's 64-bit hash (storage::Key). Two keys with the same hash share one entry: the
// later spill wins, and the other key's record no longer matches (it reads as a miss, never as a
// wrong value). Open addressing with linear probing over 16-byte slots, grown twice as large past
// 3/4 full; a delete shifts the following entries back (no tombstones).

#ifndef SPILLWAY_STORAGE_SPILL_INDEX_H_
#define SPILLWAY_STORAGE_SPILL_INDEX_H_

#include <cstddef>
#include <cstdint>
#include <vector>

namespace spillway::storage {

class SpillIndex {
 public:
  SpillIndex();

  // The seq of the key's newest spill, or 0 when it is not on disk.
  uint64_t Find(uint64_t hash) const;
  // Records a spill (seq > 0), replacing an older one of the same hash.
  void Set(uint64_t hash, uint64_t seq);
  // The key's copy on disk is superseded: forget it. False when there was none.
  bool Erase(uint64_t hash);
  void Clear();
  // Forgets every entry whose seq is below `seq`; returns how many.
  size_t EraseOlderThan(uint64_t seq);

  size_t size() const { return size_; }
  size_t capacity() const { return slots_.size(); }
  size_t bytes() const { return slots_.capacity() * sizeof(Slot); }

 private:
  struct Slot {
    uint64_t hash = 0;
    uint64_t seq = 0;  // 0: empty
  };
  size_t Home(uint64_t hash) const { return (hash * 0x9e3779b97f4a7c15u) >> shift_; }
  size_t Next(size_t i) const { return (i + 1) & (slots_.size() - 1); }
  void EraseAt(size_t i);
  void Grow();

  std::vector<Slot> slots_;
  size_t size_ = 0;
  int shift_ = 0;
};

}  // namespace spillway::storage

#endif  // SPILLWAY_STORAGE_SPILL_INDEX_H_
