// One load-generating thread: its own EventLoop over its own connections, kept for the whole run
// (prefill, warmup and the measured phase use the same ones). A closed loop keeps `pipeline`
// requests in flight on each connection (an open loop sends at scheduled times instead, see
// BenchOptions::rate); every reply is parsed strictly and checked. Requests queued during a loop
// turn go out in one Send per connection at the turn's end.
//
// With several servers the worker has `connections` connections to each, and every request goes
// to its key's server (route.h) on the next connection there with room; a request that finds none
// waits, and the requests after it wait behind it, as a client thread waits for a connection of
// its pool (closed loop: timed from when it is sent; open loop: from when it was due).
//
// Thread safety: Connect and every Run on one thread, the worker's own (an io_uring loop belongs
// to the thread that first runs it); backend() after Connect on any thread; completed() and
// LatestLatency() from any thread at any time (the progress line).

#ifndef SPILLWAY_TOOLS_BENCH_WORKER_H_
#define SPILLWAY_TOOLS_BENCH_WORKER_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "tools/bench/histogram.h"
#include "tools/bench/keys.h"
#include "tools/bench/options.h"
#include "tools/bench/route.h"
#include "tools/bench/versions.h"

namespace spillway::bench {

struct Stats {
  // With several servers: what went to each (index into BenchOptions::servers).
  struct ServerLoad {
    uint64_t requests = 0;  // sent to it: a get split over k servers counts once at each
    uint64_t keys = 0;      // the keys of those requests
  };

  uint64_t gets = 0;     // get requests answered (an mget of N keys is one, however split)
  uint64_t sets = 0;     // sets acknowledged
  uint64_t hits = 0;     // keys found, over all gets
  uint64_t misses = 0;   // keys asked for and not found
  Histogram latency_ns;  // completed gets and sets, from queueing to the last byte of the reply
  std::map<std::string, uint64_t> errors;  // by kind; see worker.cc for the kinds
  std::vector<ServerLoad> servers;         // empty with one server

  uint64_t completed() const { return gets + sets; }
  uint64_t keys() const { return hits + misses; }
  uint64_t error_count() const;
  void Merge(const Stats& other);
};

struct Phase {
  // kPrefill sets every key once; kWarmup and kMeasure run the workload (warmup's stats are
  // thrown away by the caller).
  enum Kind { kPrefill, kWarmup, kMeasure } kind = kMeasure;
  uint64_t quota = 0;       // requests this thread issues; 0: until the deadline
  int64_t deadline_ns = 0;  // steady-clock time to stop issuing (quota == 0)
  uint64_t first_key = 0;   // kPrefill: sets of keys [first_key, end_key)
  uint64_t end_key = 0;
};

class Worker {
 public:
  // `versions` is shared by all workers; null when options.validate is kNone (every set then
  // writes version 0). `router` too; null with one server, else it places every key.
  Worker(const BenchOptions& options, int index, std::shared_ptr<const ZipfTable> zipf,
         VersionTable* versions, const Router* router);
  ~Worker();

  // Makes the event loop and the connections. Empty on success, else why the run cannot start
  // (no usable backend, the first connection failed); other failed connections are counted in
  // *stats as connect_failed and the run goes on without them.
  std::string Connect(Stats* stats);
  // Runs `phase` to its end (every request answered, or dropped with its connection) on the
  // connections Connect made. Errors are counted in *stats.
  void Run(const Phase& phase, Stats* stats);

  std::string_view backend() const { return backend_; }
  uint64_t completed() const { return completed_.load(std::memory_order_relaxed); }
  // The latency histogram of the measured phase as the worker last published it: every 200 ms
  // or so from its own loop, when options.progress (nothing is locked per request).
  void LatestLatency(Histogram* out) const;

 private:
  class Impl;
  const BenchOptions& options_;
  const int index_;
  std::shared_ptr<const ZipfTable> zipf_;
  VersionTable* const versions_;
  const Router* const router_;
  std::unique_ptr<Impl> impl_;
  std::string backend_;
  std::atomic<uint64_t> completed_{0};
  mutable std::mutex latest_mu_;
  Histogram latest_;  // guarded by latest_mu_
};

int64_t NowNs();

}  // namespace spillway::bench

#endif  // SPILLWAY_TOOLS_BENCH_WORKER_H_
