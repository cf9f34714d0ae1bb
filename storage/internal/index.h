// The store's hash index: the keyspace split over many small Robin Hood tables (partitions), so
// that growing the index never needs a second copy of all of it. A partition that fills up is
// rebuilt one size larger; its entries move a few per call (each move rehashes the key from item
// memory), and while they do, lookups see both its old and its new table. Only one partition is
// rebuilt at a time, so the extra memory is one partition's table. Internal to the storage module.
//
// A position names a slot: [old table:1][partition:31][slot:32]. Inserts and erases move other
// entries, so a position is good only until the next of them.

#ifndef SPILLWAY_STORAGE_INTERNAL_INDEX_H_
#define SPILLWAY_STORAGE_INTERNAL_INDEX_H_

#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "storage/internal/hash_index.h"

namespace spillway::storage {

class Index {
 public:
  static constexpr size_t kNotFound = HashIndex::kNotFound;
  static constexpr size_t kNoPartition = SIZE_MAX;

  // `partitions` tables of `slots` slots each. Check valid().
  Index(size_t partitions, size_t slots);

  bool valid() const { return valid_; }
  size_t partitions() const { return parts_.size(); }
  size_t size() const { return size_; }
  size_t capacity() const { return capacity_; }
  // Bytes of every table mapped, the old table of a rebuild included, and the partition list.
  size_t bytes() const {
    return bytes_ + (old_ ? old_->bytes() : 0) + parts_.capacity() * sizeof(HashIndex);
  }
  // Old-table slots the rebuild in progress has yet to look at.
  size_t migration_pending() const { return old_ ? old_->capacity() - cursor_ : 0; }
  bool migrating() const { return old_.has_value(); }

  size_t PartitionOf(uint64_t hash) const {
    // Remixed so that the partition does not follow the bits the table slot comes from.
    return (((hash * 0x9e3779b97f4a7c15u) >> 32) * parts_.size()) >> 32;
  }
  const HashIndex& partition(size_t part) const { return parts_[part]; }

  template <typename Match>
  size_t Find(uint64_t hash, Match&& match) const {
    const size_t part = PartitionOf(hash);
    const size_t slot = parts_[part].Find(hash, match);
    if (slot != kNotFound) return Pos(part, slot, false);
    if (!old_ || part != migrating_) return kNotFound;
    const size_t old_slot = old_->Find(hash, match);
    return old_slot == kNotFound ? kNotFound : Pos(part, old_slot, true);
  }
  // Hints (no effect on contents). A rebuild's old table is left out: it is one partition.
  void Prefetch(uint64_t hash) const { parts_[PartitionOf(hash)].Prefetch(hash); }
  // The first entry with `hash`'s home and tag, keys not compared (a guess, for a hint).
  std::optional<Location> Candidate(uint64_t hash) const {
    const HashIndex& table = parts_[PartitionOf(hash)];
    const size_t slot = table.Find(hash, [](Location) { return true; });
    if (slot == kNotFound) return std::nullopt;
    return table.At(slot);
  }
  Location At(size_t pos) const { return Table(pos).At(Slot(pos)); }
  uint8_t Freq(size_t pos) const { return Table(pos).Freq(Slot(pos)); }
  void SetFreq(size_t pos, uint8_t freq) { Table(pos).SetFreq(Slot(pos), freq); }
  void SetLocation(size_t pos, Location at) { Table(pos).SetLocation(Slot(pos), at); }
  void Erase(size_t pos);
  // Adds an entry for a key that has none; kNotFound when its partition has no room.
  size_t Insert(uint64_t hash, Location at, uint8_t freq);

  // Starts moving partition `part` into a new table of `capacity` slots. False when the memory
  // could not be mapped or a rebuild is already under way.
  bool StartRebuild(size_t part, size_t capacity);
  // Moves up to `slots` old-table slots of the rebuild in progress. `rehash(at)` returns the hash
  // of the item at `at`, or nullopt to drop the entry; `lost(at)` is told of an entry the new
  // table refused (too far from home: practically never), which is dropped as well.
  template <typename Rehash, typename Lost>
  void MigrateSome(size_t slots, Rehash&& rehash, Lost&& lost);

 private:
  static size_t Pos(size_t part, size_t slot, bool old) {
    return (old ? size_t{1} << 63 : 0) | (part << 32) | slot;
  }
  static size_t Slot(size_t pos) { return pos & 0xffffffffu; }
  static size_t Part(size_t pos) { return (pos >> 32) & 0x7fffffffu; }
  static bool Old(size_t pos) { return (pos >> 63) != 0; }
  HashIndex& Table(size_t pos) { return Old(pos) ? *old_ : parts_[Part(pos)]; }
  const HashIndex& Table(size_t pos) const { return Old(pos) ? *old_ : parts_[Part(pos)]; }
  void FinishRebuild();

  std::vector<HashIndex> parts_;
  bool valid_ = true;
  size_t size_ = 0;
  size_t capacity_ = 0;
  size_t bytes_ = 0;
  // The rebuild in progress: the partition, its old table, and the next old slot to move.
  std::optional<HashIndex> old_;
  size_t migrating_ = kNoPartition;
  size_t cursor_ = 0;
};

template <typename Rehash, typename Lost>
void Index::MigrateSome(size_t slots, Rehash&& rehash, Lost&& lost) {
  if (!old_) return;
  HashIndex& old = *old_;
  // Erasing an old slot shifts the next entries back into it, so the cursor moves on only past
  // an empty slot. Slots before the cursor stay empty: nothing is inserted into the old table.
  for (size_t n = 0; n < slots && cursor_ < old.capacity(); ++n) {
    if (!old.Occupied(cursor_)) {
      ++cursor_;
      continue;
    }
    const Location at = old.At(cursor_);
    const uint8_t freq = old.Freq(cursor_);
    old.Erase(cursor_);
    --size_;
    const std::optional<uint64_t> hash = rehash(at);
    if (hash && Insert(*hash, at, freq) == kNotFound) lost(at);
  }
  if (cursor_ == old.capacity()) FinishRebuild();
}

}  // namespace spillway::storage

#endif  // SPILLWAY_STORAGE_INTERNAL_INDEX_H_
