#include "tools/eviction-sim/policies.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <vector>

#include "tools/eviction-sim/traces.h"

namespace spillway::eviction_sim {
namespace {

constexpr uint32_t kNil = UINT32_MAX;

// Test traces use small sequential keys, which must not probe-cluster.
uint64_t HashKey(uint64_t x) { return Mix64(x); }

// Key -> node index. Open addressing with linear probing and backward-shift deletion (no
// tombstones, so long runs of inserts and erases never degrade it). Sized once, for at most
// `max_entries`, at a load factor of at most 1/2; the caches never exceed their capacity.
class FlatIndex {
 public:
  explicit FlatIndex(size_t max_entries) {
    size_t slots = 16;
    while (slots < 2 * max_entries) slots <<= 1;
    mask_ = slots - 1;
    slots_.assign(slots, Slot{0, kNil});
  }

  uint32_t Find(uint64_t key) const {
    for (size_t i = HashKey(key) & mask_;; i = (i + 1) & mask_) {
      if (slots_[i].value == kNil) return kNil;
      if (slots_[i].key == key) return slots_[i].value;
    }
  }

  // `key` must be absent.
  void Insert(uint64_t key, uint32_t value) {
    size_t i = HashKey(key) & mask_;
    while (slots_[i].value != kNil) i = (i + 1) & mask_;
    slots_[i] = Slot{key, value};
  }

  // `key` must be present.
  void Erase(uint64_t key) {
    size_t hole = HashKey(key) & mask_;
    while (slots_[hole].key != key || slots_[hole].value == kNil) hole = (hole + 1) & mask_;
    // Pull back every later entry of the run whose home slot does not lie between the hole and
    // itself, so that lookups never stop early at the hole.
    for (size_t j = (hole + 1) & mask_; slots_[j].value != kNil; j = (j + 1) & mask_) {
      size_t home = HashKey(slots_[j].key) & mask_;
      if (((j - home) & mask_) >= ((j - hole) & mask_)) {
        slots_[hole] = slots_[j];
        hole = j;
      }
    }
    slots_[hole].value = kNil;
  }

 private:
  struct Slot {
    uint64_t key;
    uint32_t value;  // kNil marks an empty slot, so every key value is usable
  };
  size_t mask_;
  std::vector<Slot> slots_;
};

struct Node {
  uint64_t key;
  uint32_t prev;
  uint32_t next;
  uint8_t queue;  // which List the node is on (policy-defined)
  uint8_t bits;   // frequency (S3-FIFO) or FETCHED/ACTIVE flags (SLRU)
};

// Fixed array of nodes with a free list; all the lists of one cache thread through it.
class NodePool {
 public:
  explicit NodePool(size_t capacity) : nodes(capacity) { free_.reserve(capacity); }
  uint32_t Alloc() {
    if (free_.empty()) return static_cast<uint32_t>(used_++);
    uint32_t i = free_.back();
    free_.pop_back();
    return i;
  }
  void Free(uint32_t i) { free_.push_back(i); }

  std::vector<Node> nodes;

 private:
  size_t used_ = 0;
  std::vector<uint32_t> free_;
};

// Intrusive doubly linked list over a NodePool. Head = newest, tail = oldest.
struct List {
  uint32_t head = kNil;
  uint32_t tail = kNil;
  size_t size = 0;

  void PushHead(std::vector<Node>& nodes, uint32_t i) {
    nodes[i].prev = kNil;
    nodes[i].next = head;
    if (head != kNil) nodes[head].prev = i;
    head = i;
    if (tail == kNil) tail = i;
    ++size;
  }
  void Unlink(std::vector<Node>& nodes, uint32_t i) {
    Node& n = nodes[i];
    (n.prev != kNil ? nodes[n.prev].next : head) = n.next;
    (n.next != kNil ? nodes[n.next].prev : tail) = n.prev;
    --size;
  }
};

}  // namespace

// ---- LRU ----

struct LruCache::State {
  explicit State(size_t capacity) : index(capacity), pool(capacity) {}
  FlatIndex index;
  NodePool pool;
  List list;
};

LruCache::LruCache(size_t capacity)
    : capacity_(std::max<size_t>(capacity, 1)), state_(std::make_unique<State>(capacity_)) {}
LruCache::~LruCache() = default;
size_t LruCache::size() const { return state_->list.size; }
bool LruCache::Contains(uint64_t key) const { return state_->index.Find(key) != kNil; }

bool LruCache::Access(uint64_t key) {
  State& s = *state_;
  std::vector<Node>& nodes = s.pool.nodes;
  uint32_t i = s.index.Find(key);
  if (i != kNil) {
    if (s.list.head != i) {
      s.list.Unlink(nodes, i);
      s.list.PushHead(nodes, i);
    }
    return true;
  }
  if (s.list.size == capacity_) {
    uint32_t victim = s.list.tail;
    s.list.Unlink(nodes, victim);
    s.index.Erase(nodes[victim].key);
    s.pool.Free(victim);
  }
  i = s.pool.Alloc();
  nodes[i].key = key;
  s.index.Insert(key, i);
  s.list.PushHead(nodes, i);
  return false;
}

// ---- S3-FIFO ----

namespace {
constexpr uint8_t kSmallQueue = 0;
constexpr uint8_t kMainQueue = 1;
constexpr uint8_t kMaxFreq = 3;
}  // namespace

struct S3FifoCache::State {
  State(size_t capacity, size_t ghost_capacity)
      : index(capacity), pool(capacity), ghost_index(ghost_capacity), ghost_pool(ghost_capacity) {}
  FlatIndex index;
  NodePool pool;
  List small;
  List main;
  FlatIndex ghost_index;
  NodePool ghost_pool;  // only key/prev/next are used
  List ghost;
};

S3FifoCache::S3FifoCache(size_t capacity, S3FifoOptions options)
    : capacity_(std::max<size_t>(capacity, 1)), options_(options) {
  options_.move_to_main_hits = std::max<uint8_t>(options_.move_to_main_hits, 1);
  small_target_ = std::clamp<size_t>(
      static_cast<size_t>(std::llround(capacity_ * options_.small_fraction)), 1, capacity_);
  main_target_ = capacity_ - small_target_;
  ghost_capacity_ = main_target_;
  state_ = std::make_unique<State>(capacity_, ghost_capacity_);
}
S3FifoCache::~S3FifoCache() = default;
size_t S3FifoCache::size() const { return state_->small.size + state_->main.size; }
size_t S3FifoCache::small_size() const { return state_->small.size; }
size_t S3FifoCache::main_size() const { return state_->main.size; }
size_t S3FifoCache::ghost_size() const { return state_->ghost.size; }

S3FifoCache::Where S3FifoCache::Find(uint64_t key) const {
  uint32_t i = state_->index.Find(key);
  if (i != kNil) {
    return state_->pool.nodes[i].queue == kSmallQueue ? Where::kSmall : Where::kMain;
  }
  if (ghost_capacity_ > 0 && state_->ghost_index.Find(key) != kNil) return Where::kGhost;
  return Where::kAbsent;
}

bool S3FifoCache::Access(uint64_t key) {
  State& s = *state_;
  uint32_t i = s.index.Find(key);
  if (i != kNil) {
    uint8_t& freq = s.pool.nodes[i].bits;
    if (freq < kMaxFreq) ++freq;
    return true;
  }
  bool ghost_hit = false;
  if (ghost_capacity_ > 0) {
    uint32_t g = s.ghost_index.Find(key);
    if (g != kNil) {
      s.ghost.Unlink(s.ghost_pool.nodes, g);
      s.ghost_index.Erase(key);
      s.ghost_pool.Free(g);
      ghost_hit = true;
    }
  }
  if (size() == capacity_) EvictOne();
  i = s.pool.Alloc();
  Node& n = s.pool.nodes[i];
  n.key = key;
  n.bits = 0;
  n.queue = ghost_hit ? kMainQueue : kSmallQueue;
  s.index.Insert(key, i);
  (ghost_hit ? s.main : s.small).PushHead(s.pool.nodes, i);
  return false;
}

void S3FifoCache::EvictOne() {
  State& s = *state_;
  std::vector<Node>& nodes = s.pool.nodes;
  // While M is still empty (the cache has just filled), S is all there is to evict from.
  if (s.small.size >= small_target_ || s.main.size == 0) {
    while (s.small.size > 0) {
      uint32_t t = s.small.tail;
      s.small.Unlink(nodes, t);
      Node& n = nodes[t];
      if (n.bits >= options_.move_to_main_hits) {
        n.bits = 0;
        n.queue = kMainQueue;
        s.main.PushHead(nodes, t);
        if (s.main.size > main_target_) break;  // M overflowed: its eviction frees the slot
        continue;
      }
      AddGhost(n.key);
      s.index.Erase(n.key);
      s.pool.Free(t);
      return;
    }
  }
  EvictMain();  // S is under its share, emptied into M, or M overflowed
}

void S3FifoCache::EvictMain() {
  State& s = *state_;
  std::vector<Node>& nodes = s.pool.nodes;
  for (;;) {  // ends: every reinsertion lowers a frequency
    uint32_t t = s.main.tail;
    s.main.Unlink(nodes, t);
    if (nodes[t].bits > 0) {
      --nodes[t].bits;
      s.main.PushHead(nodes, t);
      continue;
    }
    s.index.Erase(nodes[t].key);
    s.pool.Free(t);
    return;
  }
}

void S3FifoCache::AddGhost(uint64_t key) {
  if (ghost_capacity_ == 0) return;
  State& s = *state_;
  std::vector<Node>& ghosts = s.ghost_pool.nodes;
  if (s.ghost.size == ghost_capacity_) {
    uint32_t oldest = s.ghost.tail;
    s.ghost.Unlink(ghosts, oldest);
    s.ghost_index.Erase(ghosts[oldest].key);
    s.ghost_pool.Free(oldest);
  }
  uint32_t g = s.ghost_pool.Alloc();
  ghosts[g].key = key;
  s.ghost_index.Insert(key, g);
  s.ghost.PushHead(ghosts, g);
}

// ---- Segmented LRU ----

namespace {
constexpr uint8_t kHotQueue = 0;
constexpr uint8_t kWarmQueue = 1;
constexpr uint8_t kColdQueue = 2;
constexpr uint8_t kFetched = 1;
constexpr uint8_t kActive = 2;
}  // namespace

struct SegmentedLruCache::State {
  explicit State(size_t capacity) : index(capacity), pool(capacity) {}
  FlatIndex index;
  NodePool pool;
  List lists[3];  // indexed by kHotQueue, kWarmQueue, kColdQueue
};

SegmentedLruCache::SegmentedLruCache(size_t capacity, SegmentedLruOptions options)
    : capacity_(std::max<size_t>(capacity, 1)),
      hot_limit_(capacity_ * static_cast<size_t>(options.hot_percent) / 100),
      warm_limit_(capacity_ * static_cast<size_t>(options.warm_percent) / 100),
      options_(options),
      state_(std::make_unique<State>(capacity_)) {}
SegmentedLruCache::~SegmentedLruCache() = default;
size_t SegmentedLruCache::hot_size() const { return state_->lists[kHotQueue].size; }
size_t SegmentedLruCache::warm_size() const { return state_->lists[kWarmQueue].size; }
size_t SegmentedLruCache::cold_size() const { return state_->lists[kColdQueue].size; }
size_t SegmentedLruCache::size() const { return hot_size() + warm_size() + cold_size(); }

SegmentedLruCache::Where SegmentedLruCache::Find(uint64_t key) const {
  uint32_t i = state_->index.Find(key);
  if (i == kNil) return Where::kAbsent;
  switch (state_->pool.nodes[i].queue) {
    case kHotQueue:
      return Where::kHot;
    case kWarmQueue:
      return Where::kWarm;
    default:
      return Where::kCold;
  }
}

bool SegmentedLruCache::Access(uint64_t key) {
  State& s = *state_;
  std::vector<Node>& nodes = s.pool.nodes;
  uint32_t i = s.index.Find(key);
  if (i != kNil) {
    Node& n = nodes[i];
    if (n.bits & kActive) return true;
    if (!(n.bits & kFetched) && options_.hits_to_activate >= 2) {
      n.bits |= kFetched;
      return true;
    }
    n.bits |= kFetched | kActive;
    if (n.queue == kColdQueue) {  // memcached's do_item_update: COLD hits go to WARM at once
      s.lists[kColdQueue].Unlink(nodes, i);
      n.bits &= static_cast<uint8_t>(~kActive);
      n.queue = kWarmQueue;
      s.lists[kWarmQueue].PushHead(nodes, i);
      Juggle();
    }
    return true;
  }
  if (size() == capacity_) {
    // COLD is never empty when the cache is full (HOT + WARM caps < 100%), but a tiny capacity
    // rounds the caps down, so fall back rather than assume.
    List* from = &s.lists[kColdQueue];
    if (from->size == 0)
      from = s.lists[kHotQueue].size > 0 ? &s.lists[kHotQueue] : &s.lists[kWarmQueue];
    uint32_t victim = from->tail;
    from->Unlink(nodes, victim);
    s.index.Erase(nodes[victim].key);
    s.pool.Free(victim);
  }
  i = s.pool.Alloc();
  nodes[i].key = key;
  nodes[i].bits = 0;
  nodes[i].queue = kHotQueue;
  s.index.Insert(key, i);
  s.lists[kHotQueue].PushHead(nodes, i);
  Juggle();
  return false;
}

void SegmentedLruCache::Juggle() {
  State& s = *state_;
  std::vector<Node>& nodes = s.pool.nodes;
  auto move_tail = [&](uint8_t from, uint8_t active_to) {
    uint32_t t = s.lists[from].tail;
    s.lists[from].Unlink(nodes, t);
    uint8_t to = (nodes[t].bits & kActive) ? active_to : kColdQueue;
    nodes[t].bits &= static_cast<uint8_t>(~kActive);
    nodes[t].queue = to;
    s.lists[to].PushHead(nodes, t);
  };
  while (s.lists[kHotQueue].size > hot_limit_) move_tail(kHotQueue, kWarmQueue);
  // Ends: each pass either shrinks WARM or clears one ACTIVE flag.
  while (s.lists[kWarmQueue].size > warm_limit_) move_tail(kWarmQueue, kWarmQueue);
}

}  // namespace spillway::eviction_sim
