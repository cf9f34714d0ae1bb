// The operations of Store: memcached's semantics on top of the index and the segments. Space
// (allocation, eviction, flush) lives in space.cc.

#include "storage/store.h"

#include <xxhash.h>

#include <algorithm>
#include <charconv>
#include <string>

#include "storage/internal/store_impl.h"

namespace spillway::storage {
namespace {

// memcached: up to 30 days an exptime is relative, beyond it is an absolute Unix time.
constexpr int64_t kMaxRelativeExptime = 60 * 60 * 24 * 30;

bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

// An item's value as incr/decr reads it: memcached runs strtoull over the data (followed by its
// "\r\n"), so leading whitespace and a sign are accepted, the digits must be followed by
// whitespace or the end, 20+ digit overflow fails, and a negative number fails.
bool ParseCounter(std::string_view s, uint64_t* out) {
  size_t i = 0;
  while (i < s.size() && IsSpace(s[i])) ++i;
  bool negative = false;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) negative = s[i++] == '-';
  const size_t digits = i;
  uint64_t value = 0;
  for (; i < s.size() && s[i] >= '0' && s[i] <= '9'; ++i) {
    const uint64_t d = static_cast<uint64_t>(s[i] - '0');
    if (value > (UINT64_MAX - d) / 10) return false;
    value = value * 10 + d;
  }
  if (i == digits || (i < s.size() && !IsSpace(s[i]))) return false;
  if (negative && value != 0) return false;
  *out = value;
  return true;
}

}  // namespace

Key::Key(std::string_view bytes) : bytes(bytes), hash(XXH3_64bits(bytes.data(), bytes.size())) {}

// ---- ItemRef

ItemRef::ItemRef(Segments* segments, uint32_t segment, char* item, uint64_t cas)
    : segments_(segments), segment_(segment), item_(item), cas_(cas) {
  segments_->Pin(segment_);
}

ItemRef::ItemRef(ItemRef&& o) noexcept
    : segments_(o.segments_),
      segment_(o.segment_),
      item_(std::exchange(o.item_, nullptr)),
      cas_(o.cas_) {}

ItemRef& ItemRef::operator=(ItemRef&& o) noexcept {
  if (this != &o) {
    Release();
    segments_ = o.segments_;
    segment_ = o.segment_;
    item_ = std::exchange(o.item_, nullptr);
    cas_ = o.cas_;
  }
  return *this;
}

void ItemRef::Release() {
  if (item_ != nullptr) segments_->Unpin(segment_);
  item_ = nullptr;
}

std::string_view ItemRef::key() const { return ItemView(item_).key(); }
std::string_view ItemRef::value() const { return ItemView(item_).value(); }
uint32_t ItemRef::client_flags() const { return ItemView(item_).client_flags(); }
int64_t ItemRef::exptime() const { return ItemView(item_).exptime(); }
bool ItemRef::binary_key() const { return (ItemView(item_).bits() & kItemBinaryKey) != 0; }

// ---- Store

Store::Store(const Options& options) : impl_(std::make_unique<Impl>(options)) {}
Store::~Store() = default;

size_t Store::MaxValueSize(size_t key_length, uint32_t client_flags) const {
  const size_t overhead = LargestItemSize(key_length, 0, client_flags);
  return impl_->MaxItemSize() > overhead ? impl_->MaxItemSize() - overhead : 0;
}

void Store::PrefetchIndex(uint64_t hash) const { impl_->index().Prefetch(hash); }

void Store::PrefetchItem(uint64_t hash) const {
  // (The prefetch stays outside the index's probe loop: GCC dropped a loop whose only effect
  // was a prefetch.)
  if (const std::optional<Location> at = impl_->index().Candidate(hash)) impl_->PrefetchItem(*at);
}

ReadResult Store::Read(const Key& key, int64_t now, const ReadOptions& options) {
  impl_->Advance(now);
  return impl_->Read(key, options);
}

bool Store::Contains(const Key& key, int64_t now) {
  impl_->Advance(now);
  return impl_->Contains(key);
}

WriteResult Store::Write(const Key& key, std::string_view value, uint32_t client_flags,
                         int64_t exptime, int64_t now, const WriteOptions& options) {
  impl_->Advance(now);
  return impl_->Write(key, value, client_flags, exptime, options);
}

DeleteStatus Store::Delete(const Key& key, int64_t now, const DeleteOptions& options) {
  impl_->Advance(now);
  return impl_->Delete(key, options);
}

ArithmeticResult Store::Arithmetic(const Key& key, int64_t now, const ArithmeticOptions& options) {
  impl_->Advance(now);
  return impl_->Arithmetic(key, options);
}

void Store::FlushAll(int64_t now, int64_t delay) {
  impl_->Advance(now);
  impl_->FlushAll(delay);
}

size_t Store::Sweep(int64_t now, size_t max_items) {
  impl_->Advance(now);
  return impl_->Sweep(max_items);
}

bool Store::Charge(int64_t bytes, int64_t now) {
  impl_->Advance(now);
  return impl_->Charge(bytes);
}

void Store::ForEachLive(int64_t now, const std::function<void(const ItemCopy&)>& f) {
  impl_->Advance(now);
  impl_->ForEachLive(f);
}

StoreStats Store::stats() const { return impl_->stats(); }

// ---- Store::Impl: lookups and versions

uint32_t Store::Impl::Deadline(int64_t exptime) const {
  if (exptime == 0) return 0;
  // Already expired: any instant in the past will do; 1 is never "never".
  if (exptime < 0) return 1;
  const int64_t at = exptime <= kMaxRelativeExptime ? now_ + exptime : exptime;
  return static_cast<uint32_t>(std::clamp<int64_t>(at, 1, UINT32_MAX));
}

uint64_t Store::Impl::CasOf(Location at, ItemView item) const {
  if (const std::optional<uint64_t> cas = item.stored_cas()) return *cas;
  // Where the version was first written: a log position no other version of any key ever had
  // (segments_[id].base grows by a segment each time one is opened).
  return options_.cas_first + options_.cas_stride * (segments_[at.segment].base + at.offset);
}

ItemRef Store::Impl::Pin(Location at) {
  char* item = segments_[at.segment].memory.data() + at.offset;
  return ItemRef(&segments_, at.segment, item, CasOf(at, ItemView(item)));
}

std::optional<Store::Impl::Entry> Store::Impl::Find(const Key& key) {
  const size_t pos =
      index_.Find(key.hash, [&](Location at) { return ItemAt(at).key() == key.bytes; });
  if (pos == Index::kNotFound) return std::nullopt;
  Entry e{pos, index_.At(pos), ItemAt(index_.At(pos))};
  const uint32_t exptime = e.item.exptime();
  const bool expired = exptime != 0 && exptime <= now_;
  // A flushed segment's entries are dead; so are expired items. Drop them as they are met.
  if (segments_[e.at.segment].queue == Queue::kFlushed || expired) {
    if ((e.item.bits() & kItemFetched) == 0 && expired) ++counters_.expired_unfetched;
    ++counters_.reclaimed;
    Unlink(e);
    return std::nullopt;
  }
  return e;
}

void Store::Impl::Unlink(const Entry& e) {
  Forget(segments_[e.at.segment], e.item.size());
  index_.Erase(e.pos);
}

void Store::Impl::Forget(Segment& s, size_t size) {
  s.live_bytes -= static_cast<uint32_t>(size);
  --s.live_items;
  item_bytes_ -= size;
  if (s.queue == Queue::kFlushed) {
    --flushed_items_;
    flushed_bytes_ -= size;
  }
}

ItemRef Store::Impl::Put(const NewItem& n, bool to_main) {
  const size_t value_length = n.prefix.size() + n.body.size() + n.suffix.size() + n.pad;
  const size_t size = ItemSize(n.key.size(), value_length, n.client_flags, n.cas.has_value());
  if (LargestItemSize(n.key.size(), value_length, n.client_flags) > MaxItemSize() ||
      !EnsureIndexRoom(n.hash)) {
    return ItemRef();
  }
  // A key the small queue evicted recently is coming back: S3-FIFO admits it to main.
  if (ghost_.Take(n.hash)) to_main = true;
  Location at;
  char* p = Allocate(to_main ? Queue::kMain : Queue::kSmall, size, &at, /*may_evict=*/true);
  if (p == nullptr) return ItemRef();

  ItemHeader h{};
  h.exptime = n.exptime;
  h.atime = static_cast<uint32_t>(now_);
  h.value_length = static_cast<uint32_t>(value_length);
  h.bits = n.bits;
  ItemView item = ItemView::Write(p, h, n.cas, n.client_flags, n.key);
  char* v = item.mutable_value();
  for (std::string_view part : {n.prefix, n.body, n.suffix}) {
    std::copy(part.begin(), part.end(), v);
    v += part.size();
  }
  std::fill_n(v, n.pad, ' ');
  segments_[at.segment].live_bytes += static_cast<uint32_t>(size);
  ++segments_[at.segment].live_items;
  item_bytes_ += size;

  // Allocation may have evicted or moved the old version, so look it up only now.
  uint8_t freq = 0;
  if (const auto old = Find(Key(n.key, n.hash))) {
    freq = index_.Freq(old->pos);
    Unlink(*old);
  }
  if (IndexInsert(n.hash, at, freq) == Index::kNotFound) {
    Forget(segments_[at.segment], size);
    return ItemRef();
  }
  ItemRef stored = Pin(at);
  Reclaim(size);
  return stored;
}

// ---- Store::Impl: operations

ReadResult Store::Impl::Read(const Key& key, const ReadOptions& options) {
  ReadResult r;
  std::optional<Entry> e = Find(key);
  if (!e) {
    if (!options.vivify) return r;
    // mg N: an empty stand-in whose creator wins the right to recache it.
    NewItem n;
    n.key = key.bytes;
    n.hash = key.hash;
    n.exptime = Deadline(*options.vivify);
    n.cas = options.new_cas;
    // memcached counts the vivifying read as the item's first fetch.
    n.bits = kItemWon | kItemFetched;
    r.item = Put(n, /*to_main=*/false);
    r.won = static_cast<bool>(r.item);
    return r;
  }
  const ItemView item = e->item;
  ItemHeader h = item.header();
  r.hit_before = (h.bits & kItemFetched) != 0;
  r.idle_seconds = std::max<int64_t>(0, now_ - h.atime);
  if (options.touch) h.exptime = Deadline(*options.touch);
  if (options.recache && (h.bits & kItemWon) == 0 && h.exptime != 0 &&
      h.exptime < Deadline(*options.recache)) {
    r.won = true;
  }
  r.win_taken = (h.bits & kItemWon) != 0;
  r.stale = (h.bits & kItemStale) != 0;
  if (r.stale && !r.win_taken) r.won = true;
  if (r.won) h.bits |= kItemWon;
  if (options.bump) {
    h.bits |= kItemFetched;
    h.atime = static_cast<uint32_t>(now_);
    const uint8_t freq = index_.Freq(e->pos);
    if (freq < HashIndex::kMaxFreq) index_.SetFreq(e->pos, freq + 1);
  }
  // A touch changes the item: the copy on disk no longer matches it.
  if (h.exptime != item.exptime()) h.bits &= ~kItemOnDisk;
  // Only what changed is written: a hot item's reads then leave its memory clean.
  if (h.exptime != item.exptime()) item.set_exptime(h.exptime);
  if (h.atime != item.atime()) item.set_atime(h.atime);
  if (h.bits != item.bits()) item.set_bits(h.bits);
  r.item = Pin(e->at);
  return r;
}

WriteResult Store::Impl::Write(const Key& key, std::string_view value, uint32_t client_flags,
                               int64_t exptime, const WriteOptions& options) {
  WriteResult r;
  std::optional<Entry> old = Find(key);
  const WriteMode mode = options.mode;
  const bool concat = mode == WriteMode::kAppend || mode == WriteMode::kPrepend;
  if (LargestItemSize(key.bytes.size(), value.size(), client_flags) > MaxItemSize()) {
    // memcached drops the old value of a set that is too large, so no stale value survives (a
    // cas, an add, a replace or a concatenation keeps it).
    if (old && mode == WriteMode::kSet && !options.compare_cas) Unlink(*old);
    r.status = WriteStatus::kTooLarge;
    return r;
  }
  if (mode == WriteMode::kAdd && old) {
    index_.SetFreq(old->pos, std::min<uint8_t>(HashIndex::kMaxFreq, index_.Freq(old->pos) + 1));
    return r;  // kNotStored
  }
  // With a CAS, set and replace act as memcached's cas (a miss is kNotFound); an add ignores it;
  // append and prepend check it only against an item they found.
  const bool cas_semantics =
      options.compare_cas && (mode == WriteMode::kSet || mode == WriteMode::kReplace);
  if (!old && cas_semantics) {
    r.status = WriteStatus::kNotFound;
    return r;
  }
  if ((mode == WriteMode::kReplace || concat) && !old && !(concat && options.vivify)) return r;
  bool stale = false;
  if (old && options.compare_cas && mode != WriteMode::kAdd) {
    const uint64_t current = CasOf(old->at, old->item);
    // ms I: an older CAS still stores a set, marked stale.
    stale = cas_semantics && options.invalidate && *options.compare_cas < current;
    if (*options.compare_cas != current && !stale) {
      r.status = WriteStatus::kExists;
      return r;
    }
  }

  NewItem n;
  n.key = key.bytes;
  n.hash = key.hash;
  n.body = value;
  n.client_flags = client_flags;
  n.exptime = Deadline(exptime);
  n.cas = options.new_cas;
  n.bits =
      static_cast<uint8_t>((stale ? kItemStale : 0) | (options.binary_key ? kItemBinaryKey : 0) |
                           (options.on_disk ? kItemOnDisk : 0));
  ItemRef keep;  // pins the old value while the new version is written
  bool to_main = false;
  if (old) {
    to_main = segments_[old->at.segment].queue == Queue::kMain;
    if (stale) {
      // A stale write keeps the item's TTL and any recache win already handed out.
      const ItemHeader h = old->item.header();
      n.exptime = h.exptime;
      n.bits |= h.bits & kItemWon;
    }
    if (concat) {
      keep = Pin(old->at);
      const ItemHeader h = old->item.header();
      n.client_flags = old->item.client_flags();
      n.exptime = h.exptime;
      n.bits |= h.bits & kItemBinaryKey;
      (mode == WriteMode::kAppend ? n.prefix : n.suffix) = keep.value();
    }
  } else if (concat) {
    n.exptime = Deadline(*options.vivify);
  }
  if (LargestItemSize(n.key.size(), n.prefix.size() + n.body.size() + n.suffix.size(),
                      n.client_flags) > MaxItemSize()) {
    return r;  // append/prepend past the item size: memcached answers NOT_STORED
  }
  ItemRef stored = Put(n, to_main);
  if (!stored) {
    r.status = WriteStatus::kNoMemory;
    return r;
  }
  r.status = WriteStatus::kStored;
  r.cas = stored.cas();
  r.size = stored.value().size();
  return r;
}

DeleteStatus Store::Impl::Delete(const Key& key, const DeleteOptions& options) {
  std::optional<Entry> e = Find(key);
  if (!e) return DeleteStatus::kNotFound;
  const ItemHeader h = e->item.header();
  const uint64_t current = CasOf(e->at, e->item);
  if (options.compare_cas && *options.compare_cas != current) return DeleteStatus::kExists;
  if (!options.invalidate && !options.drop_value) {
    Unlink(*e);
    return DeleteStatus::kDeleted;
  }
  // md I and md x write a new version: md I keeps the value and gets a new CAS; md x alone
  // drops the value and keeps the CAS (unless E names one).
  NewItem n;
  n.key = key.bytes;
  n.hash = key.hash;
  n.client_flags = e->item.client_flags();
  n.exptime = h.exptime;
  n.bits = h.bits;
  n.cas = options.new_cas      ? options.new_cas
          : options.invalidate ? std::nullopt
                               : std::optional<uint64_t>(current);
  if (options.invalidate) {
    // Stale, and up for a new recache win.
    n.bits = static_cast<uint8_t>((n.bits | kItemStale) & ~kItemWon);
    if (options.touch) n.exptime = Deadline(*options.touch);
  }
  ItemRef keep = Pin(e->at);  // the old value, while the new version is written
  if (!options.drop_value) n.body = keep.value();
  const bool to_main = segments_[e->at.segment].queue == Queue::kMain;
  // Without memory for the new version the item still goes: nothing stale remains.
  if (!Put(n, to_main)) {
    if (auto again = Find(key)) Unlink(*again);
  }
  return DeleteStatus::kDeleted;
}

ArithmeticResult Store::Impl::Arithmetic(const Key& key, const ArithmeticOptions& options) {
  ArithmeticResult r;
  std::optional<Entry> e = Find(key);
  char digits[24];
  NewItem n;
  n.key = key.bytes;
  n.hash = key.hash;
  bool to_main = false;
  ItemRef keep;
  if (!e) {
    if (!options.vivify) return r;  // kNotFound
    // ma N: created holding the initial value; the delta is not applied (memcached 1.6).
    r.value = options.initial;
    n.exptime = Deadline(*options.vivify);
  } else {
    const ItemHeader h = e->item.header();
    if (options.compare_cas && *options.compare_cas != CasOf(e->at, e->item)) {
      r.status = ArithmeticStatus::kExists;
      return r;
    }
    uint64_t value = 0;
    if (!ParseCounter(e->item.value(), &value)) {
      r.status = ArithmeticStatus::kNonNumeric;
      return r;
    }
    if (options.increment) {
      value += options.delta;  // wraps at 2^64, as memcached does
    } else {
      value = options.delta > value ? 0 : value - options.delta;
    }
    r.value = value;
    keep = Pin(e->at);
    n.client_flags = e->item.client_flags();
    n.exptime = options.touch ? Deadline(*options.touch) : h.exptime;
    n.bits = h.bits & kItemBinaryKey;
    to_main = segments_[e->at.segment].queue == Queue::kMain;
  }
  const size_t length =
      static_cast<size_t>(std::to_chars(digits, digits + 20, r.value).ptr - digits);
  n.body = std::string_view(digits, length);
  // memcached rewrites a shorter number in place, padded with spaces to the old length.
  if (keep && length < keep.value().size()) n.pad = keep.value().size() - length;
  n.cas = options.new_cas;
  r.item = Put(n, to_main);
  r.status = r.item ? ArithmeticStatus::kOk : ArithmeticStatus::kNoMemory;
  return r;
}

StoreStats Store::Impl::stats() const {
  StoreStats s = counters_;
  s.items = index_.size() - flushed_items_;
  s.item_bytes = item_bytes_ - flushed_bytes_;
  s.allocated_bytes = AllocatedBytes();
  s.limit_bytes = options_.memory_limit_bytes;
  s.segments = segments_.mapped();
  s.segment_size = segments_.segment_size();
  s.index_capacity = index_.capacity();
  s.index_migration_pending = index_.migration_pending();
  s.eviction_pending_bytes = victim_ != 0 ? segments_[victim_].used - victim_offset_ : 0;
  s.charged_bytes = charged_bytes_;
  return s;
}

}  // namespace spillway::storage
