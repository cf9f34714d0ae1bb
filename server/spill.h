// One shard's spill tier: items evicted from memory go to the shard's RocksDB (storage::Disk)
// instead of being lost, and an operation on a key that is only on disk waits for the disk read,
// which promotes the item back to memory, then runs. docs/storage.md, "The spill tier", has the
// design; in short:
// - The shard never blocks on disk: a storage thread per shard applies the batched writes and
//   runs the reads (MultiGet), and its results come back through the loop's Wake().
// - A SpillIndex (key hash -> seq of the newest spill) says which keys are on disk, so a miss
//   costs no disk read, and a record is served only if its seq is that newest one.
// - Any write makes the key's copy on disk unreachable at once (its index entry goes, and a
//   delete follows it to disk for restarts). Operations on a key whose disk read is in flight
//   queue behind it, in order.
//
// Threading: everything runs on the shard's thread except the storage thread's own loop.

#ifndef SPILLWAY_SERVER_SPILL_H_
#define SPILLWAY_SERVER_SPILL_H_

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <unordered_map>
#include <vector>

#include "protocol/request.h"
#include "server/reply.h"
#include "storage/disk.h"
#include "storage/spill_index.h"
#include "storage/store.h"

namespace spillway::server {

class Shard;

struct SpillStats {
  uint64_t items = 0;  // keys the index says are on disk
  uint64_t bytes = 0;  // table files
  uint64_t spills = 0;
  uint64_t spill_bytes = 0;
  uint64_t promotions = 0;
  uint64_t hits = 0;             // disk reads that found a servable record
  uint64_t misses = 0;           // disk reads that did not (expired, gone, superseded)
  uint64_t filter_skips = 0;     // memory misses the index answered without a disk read
  uint64_t reads = 0;            // keys read from disk
  uint64_t inline_reads = 0;     // of them, read on the shard's thread from the page cache
  uint64_t dropped = 0;          // index entries given up (the disk budget dropped their records)
  uint64_t clean_evictions = 0;  // promoted items evicted unchanged: their record still serves
  uint64_t unpromoted = 0;       // disk hits memory had no room for (served from the record)
  uint64_t queue_depth = 0;      // batches waiting for the storage thread
  uint64_t waiting = 0;          // keys whose disk read is in flight
  uint64_t index_bytes = 0;
  // Disk read latency (a batch's, in microseconds): counts per power of two.
  std::vector<uint64_t> latency_log2 = std::vector<uint64_t>(32, 0);

  SpillStats& operator+=(const SpillStats& o);
  // The latency below which `fraction` of the reads finished (microseconds, upper bound).
  uint64_t LatencyPercentile(double fraction) const;
};

class SpillTier : public storage::EvictionSink {
 public:
  // Answers an operation that waited, on the shard's thread.
  using Done = std::function<void(Reply&&)>;

  // `disk` is the shard's open database. Warm (a clean shutdown left it): its records are
  // indexed again, except those below `flushed_below` (flush_all) or expired.
  SpillTier(Shard* shard, std::unique_ptr<storage::Disk> disk, uint64_t limit_bytes, bool warm,
            uint64_t flushed_below, int64_t now);
  ~SpillTier() override;

  // The largest CAS among the records found at a warm start (0: none), so that the store's new
  // CAS values start above it.
  uint64_t max_cas() const { return max_cas_; }
  // The shard's store, which the tier charges for its RAM: the index, and the database's
  // memtables.
  void set_store(storage::Store* store, int64_t now);

  // Before a key operation runs on this shard: true when it must wait (the key's disk read is
  // in flight, or the key is only on disk and the operation needs what it holds).
  bool MustWait(const protocol::Request& request, std::string_view key, uint64_t hash, int64_t now);
  // Queues the operation (`line`: its request bytes) behind the key's disk read, starting one if
  // none is in flight. `done` gets its answer once it has run.
  void Wait(std::string_view key, uint64_t hash, std::string line, Done done);
  // After a key operation ran: a write supersedes the key's copy on disk.
  void AfterOp(const protocol::Request& request, std::string_view key, uint64_t hash);

  // Loop turn end: hands this turn's writes and reads to the storage thread.
  void OnTurnEnd();
  // Loop wake-up: takes the storage thread's results.
  void OnWake();
  void OnTick();
  // Spills queued for the disk, in bytes, are past the cap: connections stop reading until the
  // storage thread catches up.
  bool backlogged() const { return backlog_bytes_ > backlog_cap_; }

  // Clean shutdown, the loop stopped: waits for the storage thread, writes every live item of
  // the memory tier to disk and flushes. The seq below which records are flushed is returned in
  // *flushed_below for the marker. False on a disk error.
  bool Persist(int64_t now, uint64_t* flushed_below);

  SpillStats stats() const;

  // storage::EvictionSink.
  void Evicted(const storage::ItemCopy& item) override;
  void Flushed() override;

 private:
  // A sixteenth of the store's budget, between 1 and 32 MiB: RAM outside the budget, held until
  // the storage thread has written it.
  size_t backlog_cap_ = 1 << 20;
  struct Waiter {
    std::string line;
    Done done;
  };
  struct Fault {
    std::string key;
    std::vector<Waiter> waiters;
  };
  // What one turn hands the storage thread, and what comes back.
  struct Job {
    storage::DiskBatch writes;
    size_t write_bytes = 0;
    std::vector<std::string> keys;
    std::vector<uint64_t> hashes;
    uint64_t max_seq = 0;  // every spill up to this one is in this job or an earlier one
    // Filled by the storage thread.
    std::vector<std::optional<std::string>> records;
    uint64_t read_micros = 0;
  };

  void Run();  // the storage thread
  // Reads what it can of this turn's disk-only keys here, from the page cache, without waiting:
  // the keys whose newest spill the storage thread has already written.
  void ReadInline();
  void Complete(uint64_t hash, const std::optional<std::string>& record);
  void Supersede(std::string_view key, uint64_t hash);
  // The item as a record with the next seq, into scratch_; returns the seq.
  uint64_t Encode(const storage::ItemCopy& item);
  // Keeps the index's memory counted in the store's budget.
  void ChargeIndex();

  Shard* shard_;
  storage::Store* store_ = nullptr;
  std::unique_ptr<storage::Disk> disk_;
  uint64_t limit_bytes_;
  storage::SpillIndex index_;
  uint64_t next_seq_ = 1;
  uint64_t applied_seq_ = 0;  // every spill up to this one is in the database
  uint64_t flushed_below_ = 0;
  uint64_t max_cas_ = 0;
  std::unordered_map<uint64_t, Fault> faults_;
  std::unique_ptr<Job> job_;  // this turn's
  std::string scratch_;
  size_t backlog_bytes_ = 0;  // written to job_ or queued, not yet on disk
  size_t charged_bytes_ = 0;  // of the index
  SpillStats stats_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<std::unique_ptr<Job>> queue_;  // to the storage thread
  std::deque<std::unique_ptr<Job>> done_;   // back from it
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace spillway::server

#endif  // SPILLWAY_SERVER_SPILL_H_
