// Versions of every key, shared by all worker threads, so that a lost update is caught: each set
// of a key writes the next version (in the item's client flags; the bytes follow from it, see
// values.h), and a get must not return a version older than one it is known to have replaced.
//
// "Known to have replaced" has to allow for concurrency. Two sets of one key in flight at once
// (on two connections) may be applied in either order, so the higher version being acknowledged
// says nothing about which one the server holds. But a set that was sent when every earlier set
// of its key had been answered is ordered after all of them; once it is acknowledged, no get sent
// later may return anything older. Floor() is the newest such version. A set that is never
// answered (its connection dropped) leaves its key without a new floor for the rest of the run:
// the check only ever errs toward missing a stale read, never toward a false one.
//
// There is no upper bound: a server may still hold versions from an earlier run.
//
// Memory: three 32-bit atomics per key. Thread safety: every method from any thread.

#ifndef SPILLWAY_TOOLS_BENCH_VERSIONS_H_
#define SPILLWAY_TOOLS_BENCH_VERSIONS_H_

#include <atomic>
#include <cstdint>
#include <memory>

namespace spillway::bench {

class VersionTable {
 public:
  explicit VersionTable(uint64_t keys);

  struct Ticket {
    uint32_t version = 0;
    bool alone = false;  // every earlier set of the key had been answered when this one was sent
  };

  // A set of `key` is about to be sent.
  Ticket BeginSet(uint64_t key);
  // The server answered that set; `stored` when it acknowledged it (STORED, HD).
  void EndSet(uint64_t key, Ticket ticket, bool stored);
  // The oldest version that a get of `key` sent now may return.
  uint32_t Floor(uint64_t key) const { return entries_[key].floor.load(std::memory_order_acquire); }

 private:
  struct Entry {
    std::atomic<uint32_t> issued{0};    // versions handed out: the next set's version
    std::atomic<uint32_t> answered{0};  // sets answered, whatever the answer
    std::atomic<uint32_t> floor{0};
  };
  std::unique_ptr<Entry[]> entries_;
};

}  // namespace spillway::bench

#endif  // SPILLWAY_TOOLS_BENCH_VERSIONS_H_
