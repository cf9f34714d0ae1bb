// Store's implementation, split over store.cc (the operations) and space.cc (allocation,
// eviction, index growth, flush, sweep). Internal to the storage module.

#ifndef SPILLWAY_STORAGE_INTERNAL_STORE_IMPL_H_
#define SPILLWAY_STORAGE_INTERNAL_STORE_IMPL_H_

#include <cstdint>
#include <optional>
#include <string_view>

#include "storage/internal/ghost.h"
#include "storage/internal/hash_index.h"
#include "storage/internal/item.h"
#include "storage/internal/segments.h"
#include "storage/store.h"

namespace spillway::storage {

class Store::Impl {
 public:
  explicit Impl(const Options& options);

  size_t MaxItemSize() const { return segments_.segment_size(); }
  ReadResult Read(const Key& key, const ReadOptions& options);
  WriteResult Write(const Key& key, std::string_view value, uint32_t client_flags, int64_t exptime,
                    const WriteOptions& options);
  DeleteStatus Delete(const Key& key, const DeleteOptions& options);
  ArithmeticResult Arithmetic(const Key& key, const ArithmeticOptions& options);
  void FlushAll(int64_t delay);
  size_t Sweep(size_t max_items);
  StoreStats stats() const;

  // Every public call starts here: the clock, and a delayed flush_all that has come due.
  void Advance(int64_t now);

 private:
  // A live index entry and its item.
  struct Entry {
    size_t pos;
    Location at;
    ItemView item;
  };
  // What a new version of an item is made of; value = prefix + body + suffix + `pad` spaces
  // (append/prepend glue the old value on, incr pads), so nothing is assembled in a temporary
  // buffer.
  struct NewItem {
    std::string_view key;
    uint64_t hash = 0;
    std::string_view prefix, body, suffix;
    size_t pad = 0;
    uint32_t client_flags = 0;
    uint32_t exptime = 0;
    uint64_t cas = 0;
    uint8_t bits = 0;
  };

  // ---- store.cc
  std::optional<Entry> Find(const Key& key);
  void Unlink(const Entry& e);
  // Takes an item that the index no longer points at out of the accounting.
  void Forget(Segment& s, size_t size);
  // Writes a new version of `item.key`, replacing whatever version the index has when done.
  // Returns the new version pinned, or an empty ItemRef when memory ran out.
  ItemRef Put(const NewItem& item, bool to_main);
  uint32_t Deadline(int64_t exptime) const;
  bool Expired(const ItemHeader& h) const { return h.exptime != 0 && h.exptime <= now_; }
  uint64_t NextCas();
  ItemRef Pin(Location at);
  ItemView ItemAt(Location at) { return ItemView(segments_[at.segment].memory.data() + at.offset); }

  // ---- space.cc
  size_t AllocatedBytes() const;
  bool MayMap(size_t extra = 0) const;
  // Room for one more index entry, starting a rebuild (a larger or a clean table) if need be.
  bool EnsureIndexRoom();
  bool StartRebuild(size_t capacity);
  // Moves up to `slots` slots of the old table into the new one (a rebuild in progress).
  void MigrateSome(size_t slots);
  size_t IndexEntries() const { return index_.size() + (old_index_ ? old_index_->size() : 0); }
  // The index position of the entry for `hash` that `match` accepts, or HashIndex::kNotFound.
  // During a rebuild an entry still in the old table is moved over first, so positions always
  // refer to index_.
  template <typename Match>
  size_t Locate(uint64_t hash, Match&& match) {
    const size_t pos = index_.Find(hash, match);
    if (pos != HashIndex::kNotFound || !old_index_) return pos;
    const size_t old_pos = old_index_->Find(hash, match);
    if (old_pos == HashIndex::kNotFound) return old_pos;
    const Location at = old_index_->At(old_pos);
    const uint8_t freq = old_index_->Freq(old_pos);
    old_index_->Erase(old_pos);
    return index_.Insert(hash, at, freq);
  }
  // Frees mapped memory until `extra` more bytes fit in the budget.
  bool MakeRoom(size_t extra);
  // Space for `size` bytes at the head of a queue, evicting if need be; null when none.
  char* Allocate(Queue queue, size_t size, Location* at, bool may_evict);
  // Empties the oldest segment of the queue that eviction picks. False: nothing to evict.
  enum class Moves : uint8_t { kAllowed, kNone };
  bool EvictOne(Moves moves = Moves::kAllowed);
  void EmptySegment(uint32_t id, Queue from, Moves moves);
  void ApplyFlush();

  Options options_;
  Segments segments_;
  HashIndex index_;
  // A rebuild in progress: the table being emptied into index_, and how far it has been read.
  std::optional<HashIndex> old_index_;
  size_t migrate_pos_ = 0;
  Ghost ghost_;
  int64_t now_ = 0;
  std::optional<int64_t> flush_deadline_;
  uint64_t next_cas_;
  uint32_t open_small_ = 0;
  uint32_t open_main_ = 0;
  size_t small_target_ = 1;  // segments the small queue may hold before it is evicted first
  uint64_t item_bytes_ = 0;
  // Entries still in the index but in flushed segments: not items any more.
  uint64_t flushed_items_ = 0;
  uint64_t flushed_bytes_ = 0;
  uint32_t sweep_segment_ = 1;
  uint32_t sweep_offset_ = 0;
  StoreStats counters_;
};

}  // namespace spillway::storage

#endif  // SPILLWAY_STORAGE_INTERNAL_STORE_IMPL_H_
