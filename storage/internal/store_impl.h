// Store's implementation, split over store.cc (the operations) and space.cc (allocation,
// eviction, index growth, flush, sweep). Internal to the storage module.

#ifndef SPILLWAY_STORAGE_INTERNAL_STORE_IMPL_H_
#define SPILLWAY_STORAGE_INTERNAL_STORE_IMPL_H_

#include <cstdint>
#include <functional>
#include <optional>
#include <string_view>

#include "storage/internal/ghost.h"
#include "storage/internal/index.h"
#include "storage/internal/item.h"
#include "storage/internal/segments.h"
#include "storage/store.h"

namespace spillway::storage {

class Store::Impl {
 public:
  explicit Impl(const Options& options);

  size_t MaxItemSize() const { return segments_.segment_size(); }
  ReadResult Read(const Key& key, const ReadOptions& options);
  bool Contains(const Key& key) { return Find(key).has_value(); }
  WriteResult Write(const Key& key, std::string_view value, uint32_t client_flags, int64_t exptime,
                    const WriteOptions& options);
  DeleteStatus Delete(const Key& key, const DeleteOptions& options);
  ArithmeticResult Arithmetic(const Key& key, const ArithmeticOptions& options);
  void FlushAll(int64_t delay);
  size_t Sweep(size_t max_items);
  StoreStats stats() const;
  bool Charge(int64_t bytes);
  void ForEachLive(const std::function<void(const ItemCopy&)>& f);

  // Every public call starts here: the clock, and a delayed flush_all that has come due.
  void Advance(int64_t now);

  // Store::PrefetchIndex/PrefetchItem.
  const Index& index() const { return index_; }
  void PrefetchItem(Location at) const {
    // The header and key come first, then the value: two lines cover a small item wherever it
    // starts.
    const char* item = segments_[at.segment].memory.data() + at.offset;
    __builtin_prefetch(item);
    __builtin_prefetch(item + 63);
  }

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
    std::optional<uint64_t> cas;  // none: derived from where the version is written (CasOf)
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
  // The CAS of the item at `at`: stored in the item, or derived from its location.
  uint64_t CasOf(Location at, ItemView item) const;
  // What the eviction sink and ForEachLive are handed.
  ItemCopy CopyOf(Location at, ItemView item) const;
  ItemRef Pin(Location at);
  ItemView ItemAt(Location at) { return ItemView(segments_[at.segment].memory.data() + at.offset); }

  // ---- space.cc
  size_t AllocatedBytes() const;
  bool MayMap(size_t extra = 0) const;
  // How many more segments the budget lets be mapped now.
  size_t MappableSegments() const;
  // Room in `hash`'s index partition for one more entry, starting its rebuild if need be.
  bool EnsureIndexRoom(uint64_t hash);
  // Inserts an entry, rebuilding its partition at once if the table refuses it.
  size_t IndexInsert(uint64_t hash, Location at, uint8_t freq);
  // Moves up to `slots` slots of a partition rebuild in progress.
  void MigrateSome(size_t slots);
  // Sizes the ghost after the index once the index has doubled.
  void ResizeGhost();
  // Frees mapped memory until `extra` more bytes fit in the budget.
  bool MakeRoom(size_t extra);
  // Space for `size` bytes at the head of a queue, evicting if need be; null when none.
  char* Allocate(Queue queue, size_t size, Location* at, bool may_evict);
  // Eviction empties one segment at a time, the victim, a few items per write (Reclaim) so that
  // free segments are ready before they are needed; Allocate finishes it at once only when
  // writes outrun it.
  enum class Moves : uint8_t { kAllowed, kNone };
  // Picks the next victim: the oldest segment of the queue S3-FIFO evicts from. False: none.
  bool StartVictim(Moves moves);
  // Looks at victim items until at least `items` items and `bytes` bytes were seen, or the
  // victim is empty (then frees it).
  void CleanVictim(size_t items, size_t bytes);
  // Keeps free segments ahead of demand after a write of `bytes` bytes.
  void Reclaim(size_t bytes);
  // Empties a whole segment now (the current victim, or a new one). False: nothing to evict.
  bool EvictOne(Moves moves = Moves::kAllowed);
  void ApplyFlush();

  Options options_;
  Segments segments_;
  Index index_;
  Ghost ghost_;
  size_t ghost_sized_for_ = 0;  // the index capacity the ghost was last sized after
  uint32_t victim_ = 0;         // the segment being emptied; 0: none
  uint32_t victim_offset_ = 0;  // its next item
  Moves victim_moves_ = Moves::kAllowed;
  int64_t now_ = 0;
  std::optional<int64_t> flush_deadline_;
  uint32_t open_small_ = 0;
  uint32_t open_main_ = 0;
  size_t small_target_ = 1;  // segments the small queue may hold before it is evicted first
  uint64_t item_bytes_ = 0;
  uint64_t charged_bytes_ = 0;  // Charge
  uint64_t log_bytes_ = 0;      // bytes of every segment opened so far: see CasOf
  // Entries still in the index but in flushed segments: not items any more.
  uint64_t flushed_items_ = 0;
  uint64_t flushed_bytes_ = 0;
  uint32_t sweep_segment_ = 1;
  uint32_t sweep_offset_ = 0;
  StoreStats counters_;
};

}  // namespace spillway::storage

#endif  // SPILLWAY_STORAGE_INTERNAL_STORE_IMPL_H_
