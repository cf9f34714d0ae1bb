// One load-generating thread: its own EventLoop over its own connections, a closed loop that keeps
// `pipeline` requests in flight on each connection, every response parsed strictly and checked.
// Requests queued during a loop turn go out in one Send per connection at the turn's end.
//
// Thread safety: construct, Run and read stats() on one thread; completed() may be read from any
// thread (the progress line).

#ifndef SPILLWAY_TOOLS_BENCH_WORKER_H_
#define SPILLWAY_TOOLS_BENCH_WORKER_H_

#include <atomic>
#include <cstdint>
#include <map>
#include <memory>
#include <string>

#include "tools/bench/histogram.h"
#include "tools/bench/keys.h"
#include "tools/bench/options.h"
#include "tools/bench/values.h"

namespace spillway::bench {

struct Stats {
  uint64_t gets = 0;
  uint64_t sets = 0;
  uint64_t hits = 0;
  uint64_t misses = 0;
  Histogram latency_ns;  // completed gets and sets, from queueing to the last byte of the reply
  std::map<std::string, uint64_t> errors;  // by kind; see worker.cc for the kinds

  uint64_t completed() const { return gets + sets; }
  uint64_t error_count() const;
  void Merge(const Stats& other);
};

struct Phase {
  enum Kind { kPrefill, kMeasure } kind = kMeasure;
  uint64_t quota = 0;       // requests this thread issues; 0: until the deadline
  int64_t deadline_ns = 0;  // steady-clock time to stop issuing (quota == 0)
  uint64_t first_key = 0;   // kPrefill: sets of keys [first_key, end_key)
  uint64_t end_key = 0;
};

class Worker {
 public:
  Worker(const BenchOptions& options, int index, std::shared_ptr<const ZipfTable> zipf);
  ~Worker();

  // Connects, runs the phase to its end and closes. Empty on success, else why it could not start
  // (no backend, connect failed); errors during the run are counted in *stats instead.
  std::string Run(const Phase& phase, Stats* stats);
  std::string_view backend() const { return backend_; }
  uint64_t completed() const { return completed_.load(std::memory_order_relaxed); }

 private:
  class Impl;
  const BenchOptions& options_;
  const int index_;
  std::shared_ptr<const ZipfTable> zipf_;
  std::string backend_;
  std::atomic<uint64_t> completed_{0};
};

int64_t NowNs();

}  // namespace spillway::bench

#endif  // SPILLWAY_TOOLS_BENCH_WORKER_H_
