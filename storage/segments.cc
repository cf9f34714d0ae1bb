#include "storage/internal/segments.h"

#include <glog/logging.h>

namespace spillway::storage {

Segments::Segments(size_t segment_size, size_t memory_limit)
    : segment_size_(segment_size),
      map_group_(segment_size < Mapped::kHugePage ? Mapped::kHugePage / segment_size : 1) {
  // Never reallocated, so a Segment& stays valid while more segments are mapped.
  segments_.reserve(memory_limit / segment_size + 2);
  free_.reserve(segments_.capacity());
  segments_.emplace_back();
}

uint32_t Segments::TakeFree(size_t may_map) {
  uint32_t id = TakeMapped();
  if (id == 0 && may_map > 0) {
    const size_t count = may_map >= map_group_ ? map_group_ : 1;
    if (MapGroup(count).first == nullptr) return 0;
    may_map -= count;
    id = TakeMapped();
  }
  // Nothing else is ready now: map the next group too, and have it faulted in off this thread
  // while this segment fills, so that the writes after it do not stall on fresh pages.
  if (id != 0 && free_mapped_ == 0 && may_map >= map_group_) {
    const auto [data, bytes] = MapGroup(map_group_);
    if (data != nullptr) prefaulter_.Add(data, bytes);
  }
  return id;
}

uint32_t Segments::TakeMapped() {
  // Prefer a free segment that still has memory.
  for (size_t i = free_.size(); i-- > 0;) {
    const uint32_t id = free_[i];
    if (segments_[id].memory.data() == nullptr) continue;
    free_[i] = free_.back();
    free_.pop_back();
    --free_mapped_;
    return id;
  }
  return 0;
}

std::pair<char*, size_t> Segments::MapGroup(size_t count) {
  std::vector<Mapped> pieces = Mapped::MapHuge(segment_size_, count);
  if (pieces.empty()) return {nullptr, 0};
  const std::pair<char*, size_t> range{pieces[0].data(), pieces[0].size() * pieces.size()};
  for (Mapped& piece : pieces) Adopt(std::move(piece));
  return range;
}

void Segments::Adopt(Mapped memory) {
  // An id whose memory was unmapped is reused before a new one is made.
  uint32_t id = 0;
  for (size_t i = free_.size(); i-- > 0;) {
    if (segments_[free_[i]].memory.data() != nullptr) continue;
    id = free_[i];
    free_[i] = free_.back();
    free_.pop_back();
    break;
  }
  if (id == 0) {
    CHECK_LT(segments_.size(), segments_.capacity()) << "more segments than the budget allows";
    id = static_cast<uint32_t>(segments_.size());
    segments_.emplace_back();
  }
  segments_[id].memory = std::move(memory);
  ++mapped_;
  Free(id);
}

void Segments::Free(uint32_t id) {
  Segment& s = segments_[id];
  DCHECK_EQ(s.refs, 0u);
  s.used = 0;
  s.live_bytes = 0;
  s.live_items = 0;
  s.queue = Queue::kFree;
  s.next = 0;
  free_.push_back(id);
  if (s.memory.data() != nullptr) ++free_mapped_;
}

bool Segments::UnmapOneFree() {
  for (uint32_t id : free_) {
    if (segments_[id].memory.data() == nullptr) continue;
    segments_[id].memory = Mapped();
    --mapped_;
    --free_mapped_;
    return true;
  }
  return false;
}

void Segments::Unpin(uint32_t id) {
  Segment& s = segments_[id];
  DCHECK_GT(s.refs, 0u);
  if (--s.refs == 0 && s.queue == Queue::kDraining) {
    // Unlink from the draining queue: it is short (only pinned, emptied segments), so a walk is
    // fine.
    Fifo& q = queues_[static_cast<int>(Queue::kDraining)];
    uint32_t prev = 0;
    for (uint32_t cur = q.head; cur != 0; prev = cur, cur = segments_[cur].next) {
      if (cur != id) continue;
      (prev == 0 ? q.head : segments_[prev].next) = s.next;
      if (q.tail == id) q.tail = prev;
      --q.count;
      break;
    }
    Free(id);
  }
}

void Segments::PushBack(Queue q, uint32_t id) {
  Fifo& f = queues_[static_cast<int>(q)];
  Segment& s = segments_[id];
  s.queue = q;
  s.next = 0;
  (f.tail == 0 ? f.head : segments_[f.tail].next) = id;
  f.tail = id;
  ++f.count;
}

uint32_t Segments::PopFront(Queue q) {
  Fifo& f = queues_[static_cast<int>(q)];
  const uint32_t id = f.head;
  if (id == 0) return 0;
  f.head = segments_[id].next;
  if (f.head == 0) f.tail = 0;
  --f.count;
  segments_[id].next = 0;
  return id;
}

void Segments::MoveAll(Queue from, Queue to) {
  while (const uint32_t id = PopFront(from)) PushBack(to, id);
}

}  // namespace spillway::storage
