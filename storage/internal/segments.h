// The segment pool: equal-sized mapped segments, their FIFO queues and pin counts. Internal to
// the storage module.

#ifndef SPILLWAY_STORAGE_INTERNAL_SEGMENTS_H_
#define SPILLWAY_STORAGE_INTERNAL_SEGMENTS_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "storage/internal/mapped.h"
#include "storage/internal/prefault.h"

namespace spillway::storage {

enum class Queue : uint8_t {
  kFree,      // ready for reuse (possibly unmapped)
  kSmall,     // S3-FIFO's small queue: new items
  kMain,      // S3-FIFO's main queue
  kFlushed,   // written before a flush_all: nothing in it is served; reclaimed first
  kDraining,  // emptied, but pinned by an ItemRef: freed when the last one goes
};
inline constexpr int kQueueCount = 5;

struct Segment {
  Mapped memory;
  uint32_t used = 0;        // bytes appended so far
  uint32_t live_bytes = 0;  // bytes of the items the index points at
  uint32_t live_items = 0;  // how many items the index points at
  uint32_t refs = 0;        // ItemRefs pinning it
  Queue queue = Queue::kFree;
  uint32_t next = 0;  // the next (newer) segment of its queue; 0: none
  uint64_t base = 0;  // the store's log position of its first byte, set when it is opened
};

class Segments {
 public:
  // `memory_limit` bounds how many segments can ever be mapped at once.
  Segments(size_t segment_size, size_t memory_limit);

  size_t segment_size() const { return segment_size_; }
  Segment& operator[](uint32_t id) { return segments_[id]; }
  const Segment& operator[](uint32_t id) const { return segments_[id]; }
  size_t mapped() const { return mapped_; }
  // One past the largest id handed out so far.
  uint32_t ids() const { return static_cast<uint32_t>(segments_.size()); }
  size_t mapped_bytes() const { return mapped_ * segment_size_; }
  // The heap the pool's own bookkeeping takes (reserved once, never grows).
  size_t table_bytes() const {
    return segments_.capacity() * sizeof(Segment) + free_.capacity() * sizeof(uint32_t);
  }

  // A free segment with memory, mapping if the budget lets `may_map` more segments be mapped;
  // 0 when there is none. Segments smaller than a huge page are mapped a huge page's worth at a
  // time when the budget allows it (the others go on the free list), and when the free list has
  // run dry, the next group is mapped ahead and faulted in on another thread (prefault.h).
  uint32_t TakeFree(size_t may_map);
  // Returns an empty, unpinned segment to the free list (keeping its memory).
  void Free(uint32_t id);
  // Segments mapped together when the budget allows (a huge page's worth).
  size_t map_group() const { return map_group_; }
  // Returns once the memory mapped ahead so far is faulted in (tests).
  void WaitPrefaulted() { prefaulter_.WaitIdle(); }
  // Unmaps one free segment that has memory. Returns false when there is none.
  bool UnmapOneFree();
  size_t free_mapped() const { return free_mapped_; }

  void Pin(uint32_t id) { ++segments_[id].refs; }
  void Unpin(uint32_t id);

  // FIFO queues, oldest first.
  uint32_t Front(Queue q) const { return queues_[static_cast<int>(q)].head; }
  size_t Count(Queue q) const { return queues_[static_cast<int>(q)].count; }
  void PushBack(Queue q, uint32_t id);
  uint32_t PopFront(Queue q);
  // Moves every segment of `from` to the back of `to`.
  void MoveAll(Queue from, Queue to);

 private:
  struct Fifo {
    uint32_t head = 0;
    uint32_t tail = 0;
    size_t count = 0;
  };
  // A free segment that has memory, or 0.
  uint32_t TakeMapped();
  // Gives `memory` a segment id and puts it on the free list.
  void Adopt(Mapped memory);
  // Maps `count` segments onto the free list; the address of the first and their bytes.
  std::pair<char*, size_t> MapGroup(size_t count);

  size_t segment_size_;
  size_t map_group_;
  size_t mapped_ = 0;
  size_t free_mapped_ = 0;         // free segments that have memory
  std::vector<Segment> segments_;  // [0] is unused: id 0 means "none"
  std::vector<uint32_t> free_;     // ids of free segments
  Fifo queues_[kQueueCount];
  Prefaulter prefaulter_;  // last: its thread stops before the rest goes
};

}  // namespace spillway::storage

#endif  // SPILLWAY_STORAGE_INTERNAL_SEGMENTS_H_
