// Store::Impl's space management: the budget, segment allocation, S3-FIFO eviction, index
// growth, flush_all and the expiry sweep. See docs/storage.md.

#include <glog/logging.h>
#include <xxhash.h>

#include <algorithm>
#include <cstring>

#include "storage/internal/store_impl.h"

namespace spillway::storage {
namespace {

constexpr size_t kInitialIndexSlots = 4096;
constexpr size_t kMinSegmentSize = 4096;
constexpr size_t kMinSegments = 8;
// Old-table slots a rebuild moves per call: at most a few microseconds of work (each moved entry
// rehashes its key from item memory), and far faster than inserts can fill the new table.
constexpr size_t kMigrateSlotsPerCall = 32;

// The configured segment size, halved until the budget holds kMinSegments of them, or doubled
// until the index can name every segment the budget holds.
size_t ChooseSegmentSize(const Options& options) {
  const size_t limit = options.memory_limit_bytes;
  size_t size = std::min<size_t>(options.segment_size, size_t{HashIndex::kMaxOffset} + 1);
  while (size > kMinSegmentSize && size * kMinSegments > limit) size /= 2;
  size = std::max(kMinSegmentSize, size / kMinSegmentSize * kMinSegmentSize);
  while (limit / size + 2 > HashIndex::kMaxSegments) size *= 2;
  CHECK_LE(size, size_t{HashIndex::kMaxOffset} + 1) << "memory limit too large for one store";
  return size;
}

uint64_t HashOf(std::string_view key) { return XXH3_64bits(key.data(), key.size()); }

// The ghost remembers about as many keys as the index holds at its usual load (a quarter to a
// half of its slots): enough for S3-FIFO's ghost, which tracks about as many keys as main holds.
size_t GhostSlots(size_t index_capacity) { return index_capacity / 4; }

// An index of `capacity` slots and its ghost.
size_t IndexBytes(size_t capacity) {
  return capacity * sizeof(uint64_t) + GhostSlots(capacity) * sizeof(uint32_t);
}

}  // namespace

Store::Impl::Impl(const Options& options)
    : options_(options),
      segments_(ChooseSegmentSize(options), options.memory_limit_bytes),
      index_(kInitialIndexSlots),
      ghost_(GhostSlots(kInitialIndexSlots)),
      next_cas_(options.cas_first) {
  CHECK(index_.valid()) << "cannot map the store's index";
  CHECK_GE(options.memory_limit_bytes, kMinSegments * kMinSegmentSize + AllocatedBytes())
      << "memory limit too small for a store";
  CHECK_GE(options.cas_stride, 1u);
  const size_t segments = options.memory_limit_bytes / segments_.segment_size();
  small_target_ = std::max<size_t>(1, segments / 10);
}

void Store::Impl::Advance(int64_t now) {
  now_ = now;
  if (flush_deadline_ && now_ >= *flush_deadline_) ApplyFlush();
  // A rebuild moves a few entries per call, so that no call rehashes the whole table.
  MigrateSome(kMigrateSlotsPerCall);
}

size_t Store::Impl::AllocatedBytes() const {
  return segments_.mapped_bytes() + segments_.table_bytes() + index_.bytes() +
         (old_index_ ? old_index_->bytes() : 0) + ghost_.bytes();
}

bool Store::Impl::MayMap(size_t extra) const {
  return AllocatedBytes() + segments_.segment_size() + extra <= options_.memory_limit_bytes;
}

bool Store::Impl::MakeRoom(size_t extra) {
  while (AllocatedBytes() + extra > options_.memory_limit_bytes) {
    if (segments_.UnmapOneFree()) continue;
    if (!EvictOne()) return false;
  }
  return true;
}

bool Store::Impl::EnsureIndexRoom() {
  for (;;) {
    const size_t entries = IndexEntries();
    // Rebuild when entries and tombstones would pass 3/4 of the slots; grow by a quarter when
    // the entries alone pass 3/5. Small steps keep the table near its best load (every slot
    // costs 8 bytes of the budget that items could use); the rebuild is incremental, so more
    // frequent rebuilds cost no stall.
    if ((entries + index_.tombstones() + 1) * 4 <= index_.capacity() * 3) return true;
    if (old_index_) {
      // The previous rebuild has not finished moving; finish it (rare: rebuilds are far apart).
      MigrateSome(SIZE_MAX);
      continue;
    }
    // Once the budget is spent, every slot added is an item evicted: let the table fill to
    // 13/20 before growing then (still leaving a rebuild's worth of churn below 3/4).
    const bool budget_spent = !MayMap();
    const bool grow = budget_spent ? (entries + 1) * 20 > index_.capacity() * 13
                                   : (entries + 1) * 5 > index_.capacity() * 3;
    const size_t capacity = grow ? index_.capacity() + index_.capacity() / 4 : index_.capacity();
    // The index (and the ghost sized after it) may not crowd out the items: past half the
    // budget, hold fewer items instead of growing.
    if (grow && IndexBytes(capacity) > options_.memory_limit_bytes / 2) {
      if (!EvictOne()) return false;
      continue;
    }
    if (!StartRebuild(capacity)) return false;
  }
}

bool Store::Impl::StartRebuild(size_t capacity) {
  // Old and new tables exist side by side until every entry has moved; the ghost is dropped to
  // make room and made anew, no larger than the old table was, when the old table goes.
  ghost_ = Ghost();
  if (!MakeRoom(capacity * sizeof(uint64_t))) return false;
  HashIndex fresh(capacity);
  if (!fresh.valid()) return false;
  old_index_.emplace(std::move(index_));
  index_ = std::move(fresh);
  migrate_pos_ = 0;
  return true;
}

void Store::Impl::MigrateSome(size_t slots) {
  if (!old_index_) return;
  HashIndex& old = *old_index_;
  for (size_t n = 0; n < slots && migrate_pos_ < old.capacity(); ++n, ++migrate_pos_) {
    if (!old.Occupied(migrate_pos_)) continue;
    const Location at = old.At(migrate_pos_);
    const uint8_t freq = old.Freq(migrate_pos_);
    old.Erase(migrate_pos_);
    ItemView item = ItemAt(at);
    Segment& s = segments_[at.segment];
    if (s.queue == Queue::kFlushed) {
      Forget(s, item.size());  // dead since the flush: no need to carry it over
      continue;
    }
    index_.Insert(HashOf(item.key()), at, freq);
  }
  if (migrate_pos_ < old.capacity()) return;
  old_index_.reset();
  ghost_ = Ghost(GhostSlots(index_.capacity()));
}

char* Store::Impl::Allocate(Queue queue, size_t size, Location* at, bool may_evict) {
  uint32_t& open = queue == Queue::kSmall ? open_small_ : open_main_;
  int rounds = 0;
  // Eviction may itself open a segment of this queue (moving items to main), so look again after
  // each round.
  while (open == 0 || segments_[open].used + size > segments_.segment_size()) {
    // Ordinary writes leave one free segment for eviction, which may need to move items.
    const bool may_map = MayMap();
    const bool take = !may_evict || may_map || segments_.free_mapped() > 1;
    if (const uint32_t id = take ? segments_.TakeFree(may_map) : 0) {
      segments_.PushBack(queue, id);
      open = id;
      break;
    }
    // Only the first round of one allocation may move items: if every item were hot, moving
    // would free nothing and the loop would copy the whole main queue (measured: 233 ms for a
    // 1 GiB store). Later rounds evict outright, so one write copies at most one segment.
    if (!may_evict || !EvictOne(rounds++ == 0 ? Moves::kAllowed : Moves::kNone)) return nullptr;
  }
  Segment& s = segments_[open];
  *at = Location{open, s.used};
  char* p = s.memory.data() + s.used;
  s.used += static_cast<uint32_t>(size);
  return p;
}

bool Store::Impl::EvictOne(Moves moves) {
  Queue from = Queue::kFlushed;
  if (segments_.Count(Queue::kFlushed) == 0) {
    const size_t small = segments_.Count(Queue::kSmall);
    const size_t main = segments_.Count(Queue::kMain);
    if (small == 0 && main == 0) return false;
    from = small > 0 && (small > small_target_ || main == 0) ? Queue::kSmall : Queue::kMain;
  }
  const uint32_t id = segments_.PopFront(from);
  if (id == open_small_) open_small_ = 0;
  if (id == open_main_) open_main_ = 0;
  EmptySegment(id, from, moves);
  return true;
}

void Store::Impl::EmptySegment(uint32_t id, Queue from, Moves moves) {
  if (id == sweep_segment_) {
    // The sweep's cursor must not point into a segment that is about to be reused.
    ++sweep_segment_;
    sweep_offset_ = 0;
  }
  const uint32_t used = segments_[id].used;
  for (uint32_t offset = 0; offset < used;) {
    ItemView item(segments_[id].memory.data() + offset);
    const Location here{id, offset};
    const size_t size = item.size();
    offset += static_cast<uint32_t>(size);
    const uint64_t hash = HashOf(item.key());
    const size_t pos = Locate(hash, [&](Location at) { return at == here; });
    if (pos == HashIndex::kNotFound) continue;  // a newer version or a delete superseded it
    const Entry e{pos, here, item};
    const ItemHeader h = item.header();
    if (from == Queue::kFlushed || Expired(h)) {
      ++counters_.reclaimed;
      Unlink(e);
      continue;
    }
    // S3-FIFO: an item read since it was written moves on (small -> main, or back to main's
    // head with one access spent); the rest are evicted.
    const uint8_t freq = index_.Freq(pos);
    if (freq > 0 && moves == Moves::kAllowed) {
      Location to;
      if (char* p = Allocate(Queue::kMain, size, &to, /*may_evict=*/false)) {
        std::memcpy(p, item.data(), size);
        segments_[to.segment].live_bytes += static_cast<uint32_t>(size);
        ++segments_[to.segment].live_items;
        segments_[id].live_bytes -= static_cast<uint32_t>(size);
        --segments_[id].live_items;
        index_.SetLocation(pos, to);
        index_.SetFreq(pos, from == Queue::kSmall ? 0 : freq - 1);
        ++counters_.moved;
        continue;
      }
    }
    if (options_.eviction_sink != nullptr) {
      options_.eviction_sink->Evicted(item.key(), item.value(), item.client_flags(), h.exptime,
                                      h.cas);
    }
    if (from == Queue::kSmall) ghost_.Insert(hash);
    ++counters_.evictions;
    Unlink(e);
  }
  if (segments_[id].refs == 0) {
    segments_.Free(id);
  } else {
    segments_.PushBack(Queue::kDraining, id);
  }
}

void Store::Impl::FlushAll(int64_t delay) {
  const uint32_t deadline = Deadline(delay);
  if (delay <= 0 || deadline <= now_) {
    ApplyFlush();
  } else {
    flush_deadline_ = deadline;
  }
}

void Store::Impl::ApplyFlush() {
  // Everything written so far is dead for reads at once (Find checks the queue); the segments are
  // reclaimed before any live data is evicted.
  for (Queue q : {Queue::kSmall, Queue::kMain}) {
    for (uint32_t id = segments_.Front(q); id != 0; id = segments_[id].next) {
      flushed_items_ += segments_[id].live_items;
      flushed_bytes_ += segments_[id].live_bytes;
    }
    segments_.MoveAll(q, Queue::kFlushed);
  }
  open_small_ = 0;
  open_main_ = 0;
  flush_deadline_.reset();
}

size_t Store::Impl::Sweep(size_t max_items) {
  size_t looked = 0;
  // Bounded: at most max_items items, and one step past each segment.
  for (size_t steps = 0; looked < max_items && steps < max_items + segments_.ids(); ++steps) {
    if (sweep_segment_ >= segments_.ids()) {
      sweep_segment_ = 1;
      sweep_offset_ = 0;
      if (looked == 0 && steps > segments_.ids()) break;
      continue;
    }
    const Segment& s = segments_[sweep_segment_];
    const bool live = s.queue == Queue::kSmall || s.queue == Queue::kMain;
    if (!live || sweep_offset_ >= s.used) {
      ++sweep_segment_;
      sweep_offset_ = 0;
      continue;
    }
    ItemView item(s.memory.data() + sweep_offset_);
    const Location here{sweep_segment_, sweep_offset_};
    sweep_offset_ += static_cast<uint32_t>(item.size());
    ++looked;
    if (!Expired(item.header())) continue;
    const size_t pos = Locate(HashOf(item.key()), [&](Location at) { return at == here; });
    if (pos == HashIndex::kNotFound) continue;
    if ((item.header().bits & kItemFetched) == 0) ++counters_.expired_unfetched;
    ++counters_.reclaimed;
    Unlink(Entry{pos, here, item});
  }
  return looked;
}

}  // namespace spillway::storage
