// Object-level cache simulators for the eviction study (docs/eviction.md). Every object has the
// same size, so capacity is a count of objects. These model policies, not the store: nothing here
// holds values, expires items or is safe to share between threads (each cache belongs to the one
// thread that drives it).
//
// Access() is the look-aside pattern a trace describes: a get, and on a miss the set that fills
// it. It returns true on a hit; on a miss it inserts the key, evicting first when the cache is
// full, so size() never exceeds capacity(). Any uint64_t is a valid key. All memory is allocated
// in the constructor, sized by the capacity; Access() does not allocate.

#ifndef SPILLWAY_TOOLS_EVICTION_SIM_POLICIES_H_
#define SPILLWAY_TOOLS_EVICTION_SIM_POLICIES_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string_view>

namespace spillway::eviction_sim {

class Cache {
 public:
  virtual ~Cache() = default;
  virtual bool Access(uint64_t key) = 0;
  virtual size_t size() const = 0;
  virtual size_t capacity() const = 0;
  virtual std::string_view name() const = 0;
};

// Plain LRU: a hit moves the object to the head, a miss evicts the tail. The baseline.
class LruCache final : public Cache {
 public:
  explicit LruCache(size_t capacity);  // capacity >= 1
  ~LruCache() override;
  bool Access(uint64_t key) override;
  size_t size() const override;
  size_t capacity() const override { return capacity_; }
  std::string_view name() const override { return "LRU"; }

  bool Contains(uint64_t key) const;

 private:
  struct State;
  size_t capacity_;
  std::unique_ptr<State> state_;
};

// S3-FIFO (Yang et al., "FIFO queues are all you need for cache eviction", SOSP '23), as the
// paper's Algorithm 1 describes it: a small FIFO S (10% of capacity), a main FIFO M (the rest)
// and a ghost FIFO G of evicted keys with as many entries as M. A hit only bumps a 2-bit
// frequency (capped at 3); nothing moves on the read path. A miss inserts into S, or into M when
// the key is in G. When the cache is full, S is evicted from if it holds at least its 10% share:
// its oldest object moves to M (frequency cleared) when it was hit at least `move_to_main_hits`
// times, else it leaves the cache and its key enters G. M is FIFO-reinsertion: its oldest object
// goes back to the head with frequency - 1 while the frequency is above 0.
//
// One deliberate difference from the pseudo-code: each insert evicts exactly one object. The
// paper's EVICTS() keeps looping after a move from S overflowed M and forced an EVICTM(), so it
// can free two slots for one insert; here the EVICTM() ends that eviction.
struct S3FifoOptions {
  double small_fraction = 0.10;   // S's share of the capacity; M gets the rest, G as many as M.
  uint8_t move_to_main_hits = 1;  // the paper's text; libCacheSim's current default is 2
};

class S3FifoCache final : public Cache {
 public:
  enum class Where { kAbsent, kSmall, kMain, kGhost };

  explicit S3FifoCache(size_t capacity, S3FifoOptions options = {});  // capacity >= 1
  ~S3FifoCache() override;
  bool Access(uint64_t key) override;
  size_t size() const override;
  size_t capacity() const override { return capacity_; }
  std::string_view name() const override { return "S3-FIFO"; }

  // Introspection for tests; none of these changes any state.
  Where Find(uint64_t key) const;
  size_t small_size() const;
  size_t main_size() const;
  size_t ghost_size() const;
  size_t small_target() const { return small_target_; }
  size_t ghost_capacity() const { return ghost_capacity_; }

 private:
  struct State;
  void EvictOne();
  void EvictMain();
  void AddGhost(uint64_t key);

  size_t capacity_;
  size_t small_target_;
  size_t main_target_;
  size_t ghost_capacity_;
  S3FifoOptions options_;
  std::unique_ptr<State> state_;
};

// memcached's segmented LRU (doc/new_lru.txt, items.c lru_pull_tail with lru_segmented), at
// object granularity. New objects enter HOT. A hit only sets flags: the first hit marks the
// object FETCHED, the second ACTIVE ("hit at least twice"); later hits keep it ACTIVE. An ACTIVE
// object in COLD moves to the head of WARM at once (ACTIVE cleared). HOT is capped at 20% and
// WARM at 40% of the capacity; when one is over its cap its tail is handled: an ACTIVE HOT tail
// flows to WARM, an ACTIVE WARM tail goes back to WARM's head, both with ACTIVE cleared; an
// inactive tail drops to COLD's head. Evictions take COLD's tail.
//
// Simplifications, all forced by having no clock and no threads:
//  - The LRU maintainer thread is replaced by running its juggling synchronously after every
//    insert or move, and only while a segment is over its cap (memcached also rescues ACTIVE
//    tails of segments under their cap; in steady state HOT is always at its cap anyway).
//  - The age caps (HOT and WARM also limited to a fraction of COLD's tail age) are dropped.
//  - The async bump queue is instantaneous; there are no slab classes, TTLs or TEMP LRU.
struct SegmentedLruOptions {
  int hot_percent = 20;   // memcached -o hot_lru_pct
  int warm_percent = 40;  // memcached -o warm_lru_pct
  // memcached needs two hits (FETCHED, then ACTIVE). 1 makes the first hit ACTIVE, which turns
  // this into the textbook "promote on second access" SLRU.
  int hits_to_activate = 2;
};

class SegmentedLruCache final : public Cache {
 public:
  enum class Where { kAbsent, kHot, kWarm, kCold };

  explicit SegmentedLruCache(size_t capacity, SegmentedLruOptions options = {});  // capacity >= 1
  ~SegmentedLruCache() override;
  bool Access(uint64_t key) override;
  size_t size() const override;
  size_t capacity() const override { return capacity_; }
  std::string_view name() const override { return "SLRU"; }

  Where Find(uint64_t key) const;
  size_t hot_size() const;
  size_t warm_size() const;
  size_t cold_size() const;
  size_t hot_limit() const { return hot_limit_; }
  size_t warm_limit() const { return warm_limit_; }

 private:
  struct State;
  void Juggle();

  size_t capacity_;
  size_t hot_limit_;
  size_t warm_limit_;
  SegmentedLruOptions options_;
  std::unique_ptr<State> state_;
};

}  // namespace spillway::eviction_sim

#endif  // SPILLWAY_TOOLS_EVICTION_SIM_POLICIES_H_
