// Store::Impl's space management: the budget, segment allocation, S3-FIFO eviction, index
// growth, flush_all and the expiry sweep. See docs/storage.md.

#include <glog/logging.h>
#include <xxhash.h>

#include <algorithm>
#include <cstring>

#include "storage/internal/store_impl.h"

namespace spillway::storage {
namespace {

constexpr size_t kMinSegmentSize = 4096;
constexpr size_t kMinSegments = 8;
// The index is split into one partition per this much budget (at most kMaxPartitions), so that
// a partition rebuild moves a few thousand entries and its second table costs little.
constexpr size_t kBudgetPerPartition = 1 << 20;
constexpr size_t kMaxPartitions = 4096;
// A new partition table: one page.
constexpr size_t kInitialPartitionSlots = Mapped::kPage / sizeof(uint64_t);
// Old-table slots a rebuild moves per call: at most a few microseconds of work (each moved entry
// rehashes its key from item memory), and far faster than inserts can fill the new table.
constexpr size_t kMigrateSlotsPerCall = 32;
// Victim items looked at per write at least (a few microseconds), and the bytes looked at per
// byte written: enough that free segments stay ahead of writes.
constexpr size_t kCleanItemsPerWrite = 16;
constexpr size_t kCleanBytesPerByte = 2;
// Free segments kept ready: one for the items eviction moves, and one for each queue head (small
// and main may both need a new segment while a victim is being emptied).
constexpr size_t kSegmentsAhead = 3;

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

// The ghost remembers a quarter as many keys as the index has slots: S3-FIFO's ghost tracks
// about as many keys as main holds, most of the items.
size_t GhostSlots(size_t index_capacity) { return index_capacity / 4; }

size_t Partitions(const Options& options) {
  return std::clamp<size_t>(options.memory_limit_bytes / kBudgetPerPartition, 1, kMaxPartitions);
}

}  // namespace

Store::Impl::Impl(const Options& options)
    : options_(options),
      segments_(ChooseSegmentSize(options), options.memory_limit_bytes),
      index_(Partitions(options), kInitialPartitionSlots),
      ghost_(GhostSlots(index_.capacity())),
      ghost_sized_for_(index_.capacity()) {
  CHECK(index_.valid()) << "cannot map the store's index";
  CHECK_GE(options.memory_limit_bytes, kMinSegments * kMinSegmentSize + AllocatedBytes())
      << "memory limit too small for a store";
  CHECK_GE(options.cas_first, 1u) << "CAS 0 means none";
  CHECK_GE(options.cas_stride, 1u);
  const size_t segments = options.memory_limit_bytes / segments_.segment_size();
  small_target_ = std::max<size_t>(1, segments / 10);
}

void Store::Impl::Advance(int64_t now) {
  now_ = now;
  if (flush_deadline_ && now_ >= *flush_deadline_) ApplyFlush();
  // A rebuild moves a few entries per call, so that no call rehashes a whole partition.
  MigrateSome(kMigrateSlotsPerCall);
  ResizeGhost();
}

size_t Store::Impl::AllocatedBytes() const {
  return segments_.mapped_bytes() + segments_.table_bytes() + index_.bytes() + ghost_.bytes() +
         charged_bytes_;
}

bool Store::Impl::MayMap(size_t extra) const {
  return AllocatedBytes() + segments_.segment_size() + extra <= options_.memory_limit_bytes;
}

size_t Store::Impl::MappableSegments() const {
  const size_t allocated = AllocatedBytes();
  if (allocated >= options_.memory_limit_bytes) return 0;
  return (options_.memory_limit_bytes - allocated) / segments_.segment_size();
}

bool Store::Impl::MakeRoom(size_t extra) {
  while (AllocatedBytes() + extra > options_.memory_limit_bytes) {
    if (segments_.UnmapOneFree()) continue;
    if (!EvictOne()) return false;
  }
  return true;
}

bool Store::Impl::EnsureIndexRoom(uint64_t hash) {
  for (;;) {
    const size_t part = index_.PartitionOf(hash);
    const HashIndex& table = index_.partition(part);
    // A partition is rebuilt a quarter larger when an insert would pass 7/8 of its slots (Robin
    // Hood probes stay short there), so partitions run between 7/10 and 7/8 full.
    const size_t entries = table.size() + 1;
    if (entries * 8 <= table.capacity() * 7) return true;
    if (index_.migrating()) {
      // Another partition is being rebuilt: this one may fill to 15/16 while it waits, and
      // finishes the other rebuild first only past that.
      if (entries * 16 <= table.capacity() * 15) return true;
      MigrateSome(SIZE_MAX);
      continue;
    }
    const size_t capacity =
        table.capacity() + std::max(table.capacity() / 4, kInitialPartitionSlots);
    const size_t bytes = capacity * sizeof(uint64_t);
    // The index may not crowd out the items: past half the budget, hold fewer items instead.
    if (index_.bytes() + bytes > options_.memory_limit_bytes / 2) {
      if (!EvictOne()) return false;
      continue;
    }
    if (!MakeRoom(bytes) || !index_.StartRebuild(part, capacity)) return false;
  }
}

size_t Store::Impl::IndexInsert(uint64_t hash, Location at, uint8_t freq) {
  size_t pos = index_.Insert(hash, at, freq);
  if (pos != Index::kNotFound) return pos;
  // Refused: the entry would sit too far from its home. Rebuild the partition larger now if the
  // budget allows without evicting (the item just written is not in the index yet, so nothing
  // may be evicted here). Rare: the loads above keep probes far shorter.
  MigrateSome(SIZE_MAX);
  const size_t part = index_.PartitionOf(hash);
  const size_t capacity = index_.partition(part).capacity() * 2;
  if (AllocatedBytes() + capacity * sizeof(uint64_t) > options_.memory_limit_bytes ||
      !index_.StartRebuild(part, capacity)) {
    return Index::kNotFound;
  }
  return index_.Insert(hash, at, freq);
}

void Store::Impl::MigrateSome(size_t slots) {
  if (!index_.migrating()) return;
  index_.MigrateSome(
      slots,
      [&](Location at) -> std::optional<uint64_t> {
        ItemView item = ItemAt(at);
        Segment& s = segments_[at.segment];
        if (s.queue == Queue::kFlushed) {
          Forget(s, item.size());  // dead since the flush: no need to carry it over
          return std::nullopt;
        }
        return HashOf(item.key());
      },
      [&](Location at) {
        ++counters_.evictions;
        Forget(segments_[at.segment], ItemAt(at).size());
      });
}

void Store::Impl::ResizeGhost() {
  // Sized anew only when the index has doubled since, as that forgets what the ghost held.
  if (index_.capacity() < 2 * ghost_sized_for_) return;
  ghost_ = Ghost();
  const size_t slots = GhostSlots(index_.capacity());
  if (MakeRoom(slots * sizeof(uint32_t))) ghost_ = Ghost(slots);
  ghost_sized_for_ = index_.capacity();
}

char* Store::Impl::Allocate(Queue queue, size_t size, Location* at, bool may_evict) {
  uint32_t& open = queue == Queue::kSmall ? open_small_ : open_main_;
  int rounds = 0;
  // Eviction may itself open a segment of this queue (moving items to main), so look again after
  // each round.
  while (open == 0 || segments_[open].used + size > segments_.segment_size()) {
    // Ordinary writes leave one free segment for eviction, which may need to move items.
    const size_t may_map = MappableSegments();
    const bool take = !may_evict || may_map > 0 || segments_.free_mapped() > 1;
    if (const uint32_t id = take ? segments_.TakeFree(may_map) : 0) {
      segments_.PushBack(queue, id);
      segments_[id].base = log_bytes_;  // derived CAS values start here (CasOf)
      log_bytes_ += segments_.segment_size();
      open = id;
      break;
    }
    // Writes outran the victim: empty segments now. Only the first round of one allocation may
    // move items: if every item were hot, moving would free nothing and the loop would copy the
    // whole main queue (measured: 233 ms for a 1 GiB store). Later rounds evict outright, so one
    // write copies at most one segment.
    if (!may_evict || !EvictOne(rounds++ == 0 ? Moves::kAllowed : Moves::kNone)) return nullptr;
  }
  Segment& s = segments_[open];
  *at = Location{open, s.used};
  char* p = s.memory.data() + s.used;
  s.used += static_cast<uint32_t>(size);
  return p;
}

bool Store::Impl::StartVictim(Moves moves) {
  Queue from = Queue::kFlushed;
  if (segments_.Count(Queue::kFlushed) == 0) {
    const size_t small = segments_.Count(Queue::kSmall);
    const size_t main = segments_.Count(Queue::kMain);
    if (small == 0 && main == 0) return false;
    from = small > 0 && (small > small_target_ || main == 0) ? Queue::kSmall : Queue::kMain;
    // S3-FIFO leaves main alone while small is over its share, but main's segments gather dead
    // bytes (overwritten and moved items) that only emptying them reclaims: a main segment
    // that is mostly dead goes first, cheaply (few items to look at).
    const Segment* oldest_main = main > 0 ? &segments_[segments_.Front(Queue::kMain)] : nullptr;
    if (oldest_main != nullptr && oldest_main->live_bytes < oldest_main->used / 2 &&
        segments_.Front(Queue::kMain) != open_main_) {
      from = Queue::kMain;
    }
  }
  // Out of its queue, but its items stay readable (and its queue tag says what they are) until
  // the victim reaches them.
  victim_ = segments_.PopFront(from);
  victim_offset_ = 0;
  victim_moves_ = moves;
  if (victim_ == open_small_) open_small_ = 0;
  if (victim_ == open_main_) open_main_ = 0;
  return true;
}

void Store::Impl::Reclaim(size_t bytes) {
  if (victim_ == 0) {
    // Free segments, and those the budget could still map.
    const size_t ahead =
        segments_.free_mapped() +
        (options_.memory_limit_bytes - AllocatedBytes()) / segments_.segment_size();
    if (ahead >= kSegmentsAhead || !StartVictim(Moves::kAllowed)) return;
  }
  CleanVictim(kCleanItemsPerWrite, kCleanBytesPerByte * bytes);
}

bool Store::Impl::EvictOne(Moves moves) {
  if (victim_ == 0 && !StartVictim(moves)) return false;
  CleanVictim(SIZE_MAX, SIZE_MAX);
  return true;
}

void Store::Impl::CleanVictim(size_t items, size_t bytes) {
  const uint32_t id = victim_;
  size_t seen_items = 0;
  size_t seen_bytes = 0;
  while (victim_offset_ < segments_[id].used && (seen_items < items || seen_bytes < bytes)) {
    ItemView item(segments_[id].memory.data() + victim_offset_);
    const Location here{id, victim_offset_};
    const size_t size = item.size();
    victim_offset_ += static_cast<uint32_t>(size);
    ++seen_items;
    seen_bytes += size;
    const uint64_t hash = HashOf(item.key());
    const size_t pos = index_.Find(hash, [&](Location at) { return at == here; });
    if (pos == Index::kNotFound) continue;  // a newer version or a delete superseded it
    const Entry e{pos, here, item};
    const ItemHeader h = item.header();
    const Queue from = segments_[id].queue;
    if (from == Queue::kFlushed || Expired(h)) {
      ++counters_.reclaimed;
      Unlink(e);
      continue;
    }
    // S3-FIFO: an item read since it was written moves on (small -> main, or back to main's
    // head with one access spent); the rest are evicted.
    const uint8_t freq = index_.Freq(pos);
    if (freq > 0 && victim_moves_ == Moves::kAllowed) {
      // The copy keeps the CAS, which is stored in it if it was derived from the old place.
      const bool stored = item.stored_cas().has_value();
      const size_t new_size = stored ? size : size + sizeof(uint64_t);
      Location to;
      if (char* p = Allocate(Queue::kMain, new_size, &to, /*may_evict=*/false)) {
        if (stored) {
          std::memcpy(p, item.data(), size);
        } else {
          const std::string_view value = item.value();
          ItemView copy = ItemView::Write(p, h, CasOf(here, item), item.client_flags(), item.key());
          std::memcpy(copy.mutable_value(), value.data(), value.size());
        }
        segments_[to.segment].live_bytes += static_cast<uint32_t>(new_size);
        ++segments_[to.segment].live_items;
        segments_[id].live_bytes -= static_cast<uint32_t>(size);
        --segments_[id].live_items;
        item_bytes_ += new_size - size;
        index_.SetLocation(pos, to);
        index_.SetFreq(pos, from == Queue::kSmall ? 0 : freq - 1);
        ++counters_.moved;
        continue;
      }
    }
    // An invalidated item (md I) would come back without its mark: it is dropped instead.
    if (options_.eviction_sink != nullptr && (h.bits & kItemStale) == 0) {
      options_.eviction_sink->Evicted(CopyOf(here, item));
    }
    if (from == Queue::kSmall) ghost_.Insert(hash);
    ++counters_.evictions;
    Unlink(e);
  }
  if (victim_offset_ < segments_[id].used) return;
  victim_ = 0;
  if (id == sweep_segment_) {
    // The sweep's cursor must not point into a segment that is about to be reused.
    ++sweep_segment_;
    sweep_offset_ = 0;
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
  if (victim_ != 0 && segments_[victim_].queue != Queue::kFlushed) {
    // Out of the queues while it is emptied, but flushed all the same.
    flushed_items_ += segments_[victim_].live_items;
    flushed_bytes_ += segments_[victim_].live_bytes;
    segments_[victim_].queue = Queue::kFlushed;
  }
  open_small_ = 0;
  open_main_ = 0;
  flush_deadline_.reset();
  if (options_.eviction_sink != nullptr) options_.eviction_sink->Flushed();
}

ItemCopy Store::Impl::CopyOf(Location at, ItemView item) const {
  const uint8_t bits = item.bits();
  return ItemCopy{.key = item.key(),
                  .value = item.value(),
                  .client_flags = item.client_flags(),
                  .exptime = item.exptime(),
                  .cas = CasOf(at, item),
                  .binary_key = (bits & kItemBinaryKey) != 0,
                  .on_disk = (bits & kItemOnDisk) != 0};
}

bool Store::Impl::Charge(int64_t bytes) {
  if (bytes < 0) {
    charged_bytes_ -= std::min<uint64_t>(charged_bytes_, static_cast<uint64_t>(-bytes));
    return true;
  }
  if (!MakeRoom(static_cast<size_t>(bytes))) return false;
  charged_bytes_ += static_cast<uint64_t>(bytes);
  return true;
}

void Store::Impl::ForEachLive(const std::function<void(const ItemCopy&)>& f) {
  for (uint32_t id = 1; id < segments_.ids(); ++id) {
    const Queue q = segments_[id].queue;
    if (q != Queue::kSmall && q != Queue::kMain) continue;
    for (uint32_t offset = 0; offset < segments_[id].used;) {
      ItemView item(segments_[id].memory.data() + offset);
      const Location here{id, offset};
      offset += static_cast<uint32_t>(item.size());
      const ItemHeader h = item.header();
      if (Expired(h) || (h.bits & kItemStale) != 0) continue;
      const uint64_t hash = HashOf(item.key());
      if (index_.Find(hash, [&](Location at) { return at == here; }) == Index::kNotFound) {
        continue;  // superseded
      }
      f(CopyOf(here, item));
    }
  }
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
    const size_t pos = index_.Find(HashOf(item.key()), [&](Location at) { return at == here; });
    if (pos == Index::kNotFound) continue;
    if ((item.header().bits & kItemFetched) == 0) ++counters_.expired_unfetched;
    ++counters_.reclaimed;
    Unlink(Entry{pos, here, item});
  }
  return looked;
}

}  // namespace spillway::storage
