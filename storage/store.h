// The per-shard cache engine: items under a hard memory budget, memcached's semantics for every
// classic and meta operation, S3-FIFO eviction over log-structured segments (docs/storage.md).
//
// Threading: a Store belongs to one shard thread. Nothing here is thread-safe, and nothing
// blocks: no locks, no I/O, no clock (every call takes `now`).
//
// Time: `now` is Unix seconds from the caller's clock. Exptimes follow memcached: 0 never
// expires, up to 30 days is relative to `now`, larger is an absolute Unix time, negative is
// already expired.

#ifndef SPILLWAY_STORAGE_STORE_H_
#define SPILLWAY_STORAGE_STORE_H_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string_view>

namespace spillway::storage {

class Segments;

// An item as eviction (or a walk of the store) hands it out; the views are valid only during
// the call.
struct ItemCopy {
  std::string_view key;
  std::string_view value;
  uint32_t client_flags = 0;
  int64_t exptime = 0;  // absolute Unix seconds; 0 = never
  uint64_t cas = 0;
  bool binary_key = false;
  bool on_disk = false;  // written with WriteOptions::on_disk
};

// Told about every live item that eviction drops (not deleted, expired, flushed or invalidated
// ones), and about every flush_all as it takes effect. The spill tier implements it. Called from
// inside the store's operations: it must not call the store back.
class EvictionSink {
 public:
  virtual ~EvictionSink() = default;
  virtual void Evicted(const ItemCopy& item) = 0;
  virtual void Flushed() {}
};

struct Options {
  // Everything the store allocates (segments, index, ghost set) stays within this.
  size_t memory_limit_bytes = 64 << 20;
  // Size of one segment, and so of the largest item (header + key + value). Shrunk, if need be,
  // so that the budget holds at least eight segments.
  size_t segment_size = 1 << 20;
  // CAS values are first, first + stride, first + 2 * stride, ...: the shards of one process
  // share the stride and start at different values, so their CAS values never collide.
  uint64_t cas_first = 1;
  uint64_t cas_stride = 1;
  // Not owned; must outlive the store. Null drops evicted items.
  EvictionSink* eviction_sink = nullptr;
};

// A key and its XXH3-64 hash (seed 0). The server hashes once, picks the shard from bits 32..47
// (the store's index uses bits 0..31 for the slot and 48..63 for the tag, so keys of one shard
// still spread over the whole table) and passes the hash along.
struct Key {
  explicit Key(std::string_view bytes);
  Key(std::string_view bytes, uint64_t hash) : bytes(bytes), hash(hash) {}
  std::string_view bytes;
  uint64_t hash;
};

// A pinned item: its key, value and client flags stay valid and unchanged until the ItemRef is
// destroyed, even if the key is overwritten, deleted, flushed or evicted meanwhile, so a send can
// point straight at them; so does its CAS. The exptime may change under it (touch sets it in
// place): read it at once if it matters. Must not outlive its Store.
class ItemRef {
 public:
  ItemRef() = default;
  ~ItemRef() { Release(); }
  ItemRef(ItemRef&& o) noexcept;
  ItemRef& operator=(ItemRef&& o) noexcept;
  ItemRef(const ItemRef&) = delete;
  ItemRef& operator=(const ItemRef&) = delete;

  explicit operator bool() const { return item_ != nullptr; }
  std::string_view key() const;
  std::string_view value() const;
  uint32_t client_flags() const;
  uint64_t cas() const { return cas_; }
  int64_t exptime() const;  // absolute Unix seconds; 0 = never
  bool binary_key() const;  // stored with the meta b flag

 private:
  friend class Store;
  ItemRef(Segments* segments, uint32_t segment, char* item, uint64_t cas);
  void Release();

  Segments* segments_ = nullptr;
  uint32_t segment_ = 0;
  char* item_ = nullptr;
  uint64_t cas_ = 0;
};

// ---- Reads: get, gets, gat, gats, mg, me, touch.

struct ReadOptions {
  bool bump = true;                 // count as an access (false: mg u, me)
  std::optional<int64_t> touch;     // set this exptime on a hit (gat, mg T, touch)
  std::optional<int64_t> vivify;    // mg N: on a miss, create an empty item with this exptime
  std::optional<int64_t> recache;   // mg R: win the recache if the TTL left is below this
  std::optional<uint64_t> new_cas;  // mg E: the CAS of an item that vivify creates
};

struct ReadResult {
  ItemRef item;              // empty on a miss
  bool hit_before = false;   // h: the item had been read before this read
  int64_t idle_seconds = 0;  // l: seconds since the previous access
  bool won = false;          // W: this client should recache (vivified, stale, or R)
  bool win_taken = false;    // Z: another client already won
  bool stale = false;        // X: invalidated by md I / ms I
};

// ---- Writes: set, add, replace, append, prepend, cas, ms.

enum class WriteMode : uint8_t { kSet, kAdd, kReplace, kAppend, kPrepend };

struct WriteOptions {
  WriteMode mode = WriteMode::kSet;
  std::optional<uint64_t> compare_cas;  // cas, ms C: store only if the item's CAS is this
  std::optional<uint64_t> new_cas;      // ms E: give the new version this CAS
  bool invalidate = false;        // ms I: a compare_cas below the item's still stores, marked stale
  std::optional<int64_t> vivify;  // ms MA/MP with N: create on a miss with this exptime
  bool binary_key = false;        // meta b: remember to echo the key base64-encoded
  // The spill tier's promotion: the same version is on disk (ItemCopy::on_disk when evicted,
  // for as long as nothing changes the item in place).
  bool on_disk = false;
};

enum class WriteStatus : uint8_t { kStored, kNotStored, kExists, kNotFound, kTooLarge, kNoMemory };

struct WriteResult {
  WriteStatus status = WriteStatus::kNotStored;
  uint64_t cas = 0;  // of the stored version
  size_t size = 0;   // value bytes of the stored version (ms s)
};

// ---- delete, md.

struct DeleteOptions {
  std::optional<uint64_t> compare_cas;  // md C
  std::optional<uint64_t> new_cas;      // md E
  bool invalidate = false;              // md I: keep the item, mark it stale, new CAS
  std::optional<int64_t> touch;         // md T (with I): new exptime
  bool drop_value = false;              // md x: keep the item with an empty value
};

enum class DeleteStatus : uint8_t { kDeleted, kNotFound, kExists };

// ---- incr, decr, ma.

struct ArithmeticOptions {
  bool increment = true;
  uint64_t delta = 1;
  std::optional<uint64_t> compare_cas;  // ma C
  std::optional<uint64_t> new_cas;      // ma E
  std::optional<int64_t> vivify;        // ma N: create on a miss with this exptime...
  uint64_t initial = 0;                 // ...holding this value (ma J)
  std::optional<int64_t> touch;         // ma T: new exptime on success
};

enum class ArithmeticStatus : uint8_t { kOk, kNotFound, kNonNumeric, kExists, kNoMemory };

struct ArithmeticResult {
  ArithmeticStatus status = ArithmeticStatus::kNotFound;
  uint64_t value = 0;
  ItemRef item;  // kOk: the new version (value text, CAS, TTL for ma's return flags)
};

struct StoreStats {
  uint64_t items = 0;            // live entries in the index
  uint64_t item_bytes = 0;       // header + key + value of live items
  uint64_t allocated_bytes = 0;  // everything the budget counts
  uint64_t limit_bytes = 0;
  uint64_t segments = 0;  // mapped
  uint64_t segment_size = 0;
  uint64_t evictions = 0;  // live items dropped for space
  uint64_t expired_unfetched = 0;
  uint64_t reclaimed = 0;  // expired or flushed items found and dropped
  uint64_t moved = 0;      // items copied forward by eviction (S3-FIFO reinsertion)
  uint64_t index_capacity = 0;
  uint64_t index_migration_pending = 0;  // old-table slots a rebuild in progress has yet to move
  uint64_t eviction_pending_bytes = 0;   // of the segment being emptied, yet to be looked at
  uint64_t charged_bytes = 0;            // memory of others counted in the budget (Charge)
};

class Store {
 public:
  explicit Store(const Options& options);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // The largest value a key of `key_length` bytes with these flags can have.
  size_t MaxValueSize(size_t key_length, uint32_t client_flags) const;

  ReadResult Read(const Key& key, int64_t now, const ReadOptions& options = ReadOptions());
  // Whether the key has a live item. Counts no access.
  bool Contains(const Key& key, int64_t now);
  // Hints for a batch of operations (they change nothing): call PrefetchIndex for every key of
  // the batch, then PrefetchItem for every key, then run the operations. The batch's loads from
  // memory then overlap instead of waiting one after another, which is most of a hit's cost.
  void PrefetchIndex(uint64_t hash) const;
  void PrefetchItem(uint64_t hash) const;
  WriteResult Write(const Key& key, std::string_view value, uint32_t client_flags, int64_t exptime,
                    int64_t now, const WriteOptions& options = WriteOptions());
  DeleteStatus Delete(const Key& key, int64_t now, const DeleteOptions& options = DeleteOptions());
  ArithmeticResult Arithmetic(const Key& key, int64_t now, const ArithmeticOptions& options);
  // flush_all: every item written before now + delay stops being served from then on.
  void FlushAll(int64_t now, int64_t delay = 0);
  // Drops expired items, looking at no more than `max_items` items (live, expired or
  // superseded). Returns how many it looked at: 0 only when there is no segment to look at.
  // Call it a little at a time; it never stalls the thread for long.
  size_t Sweep(int64_t now, size_t max_items);

  // Counts `bytes` of memory kept elsewhere (the spill tier's index) against the budget, evicting
  // to make room; negative gives it back. False (nothing counted) when eviction cannot make room.
  bool Charge(int64_t bytes, int64_t now);
  // Calls `f` for every live item (warm restart writes them out). Changes nothing.
  void ForEachLive(int64_t now, const std::function<void(const ItemCopy&)>& f);

  StoreStats stats() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace spillway::storage

#endif  // SPILLWAY_STORAGE_STORE_H_
