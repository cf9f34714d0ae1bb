// spillway-bench: a memcached load generator (closed or open loop, text or meta protocol) that
// checks every reply. See docs/benchmarks.md ("spillway-bench") for what it does.
//
// Exit status: 0 when the run had no errors, 3 when it counted any, 2 on bad flags or when it
// could not start.

#include <gflags/gflags.h>
#include <glog/logging.h>
#include <unistd.h>

#include <algorithm>
#include <barrier>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "tools/bench/net.h"
#include "tools/bench/report.h"
#include "tools/bench/route.h"
#include "tools/bench/versions.h"
#include "tools/bench/worker.h"

DEFINE_string(servers, "127.0.0.1:11211",
              "host:port[:weight][,host:port[:weight]...] ([v6]:port for IPv6). With several, "
              "each key goes to the server ketama picks for it (libmemcached's placement, weights "
              "included), every thread has --connections connections to each server, and a "
              "request waits for room on one to its key's server.");
DEFINE_int32(threads, 1, "Load threads, each with its own event loop.");
DEFINE_int32(connections, 50, "Connections per thread (to each server).");
DEFINE_int32(pipeline, 1, "Requests in flight per connection at most.");
DEFINE_double(rate, 0,
              "Open loop: requests per second over all threads, sent at their scheduled times "
              "with latency measured from those times (0: closed loop).");
DEFINE_string(ratio, "1:10", "set:get ratio.");
DEFINE_uint64(keys, 100000, "Key space: key indexes [0, keys).");
DEFINE_string(key_pattern, "uniform", "uniform, zipf:<alpha> or sequential.");
DEFINE_string(key_prefix, "key:", "Prefix of every key.");
DEFINE_string(value_size, "32", "Value bytes: N or MIN-MAX (per key, fixed by --seed).");
DEFINE_double(duration, 10, "Seconds to run (when --requests is 0).");
DEFINE_uint64(requests, 0, "Total requests over all threads (0: run for --duration).");
DEFINE_uint32(mget, 1,
              "Keys per get request: one get line of N keys (text), or N quiet mg lines and an "
              "mn (meta). Keys are drawn independently; keys/s is reported besides requests/s. "
              "With several servers a get is split as libmemcached's mget splits it: one get of "
              "its keys per server involved, sent together; it counts as one get, timed until "
              "the last server has answered.");
DEFINE_string(protocol, "text", "text (get/set) or meta (mg/ms).");
DEFINE_string(validate, "full",
              "full: check every hit's bytes against its version (client flags) and that the "
              "version is not older than one acknowledged before the get; none: parse every "
              "reply strictly but compare no values (a null server's made-up values).");
DEFINE_bool(prefill, false, "Set every key once before the measured run.");
DEFINE_double(warmup, 0,
              "Seconds to run the workload first, on the same connections, without counting it.");
DEFINE_uint64(seed, 1, "Seed of keys, operations and values.");
DEFINE_string(io, "auto", "Event loop: auto (io_uring, else epoll), uring or epoll.");
DEFINE_string(json, "", "Also write the results as JSON to this file.");

namespace spillway::bench {
namespace {

bool ParseRatio(const std::string& text, uint32_t* set, uint32_t* get) {
  unsigned s = 0, g = 0;
  char tail = 0;
  if (std::sscanf(text.c_str(), "%u:%u%c", &s, &g, &tail) != 2 || s + g == 0) return false;
  *set = s;
  *get = g;
  return true;
}

bool BuildOptions(BenchOptions* o) {
  bool ok = true;
  auto fail = [&](const char* what) {
    std::fprintf(stderr, "spillway-bench: bad %s\n", what);
    ok = false;
  };
  if (std::string error; !ParseServers(FLAGS_servers, &o->servers, &error)) {
    fail(("--servers: " + error).c_str());
  }
  o->threads = FLAGS_threads;
  o->connections = FLAGS_connections;
  o->pipeline = FLAGS_pipeline;
  o->rate = FLAGS_rate;
  if (o->rate < 0) fail("--rate (requests per second, 0 for a closed loop)");
  if (o->threads < 1 || o->connections < 1 || o->pipeline < 1) {
    fail("--threads/--connections/--pipeline (each at least 1)");
  }
  if (!ParseRatio(FLAGS_ratio, &o->set_ratio, &o->get_ratio)) fail("--ratio (set:get)");
  o->keys = FLAGS_keys;
  if (o->keys == 0) fail("--keys");
  if (!ParseKeyPattern(FLAGS_key_pattern, &o->key_pattern)) fail("--key-pattern");
  o->key_prefix = FLAGS_key_prefix;
  if (o->key_prefix.find_first_of(" \r\n\t") != std::string::npos) fail("--key-prefix");
  if (!ParseValueSize(FLAGS_value_size, &o->value_size)) fail("--value-size");
  o->duration_s = FLAGS_duration;
  o->requests = FLAGS_requests;
  if (o->requests == 0 && !(o->duration_s > 0)) fail("--duration");
  o->mget = FLAGS_mget;
  if (o->mget < 1 || o->mget > 10000) fail("--mget (1 to 10000 keys per get)");
  if (FLAGS_protocol == "text") {
    o->protocol = Protocol::kText;
  } else if (FLAGS_protocol == "meta") {
    o->protocol = Protocol::kMeta;
  } else {
    fail("--protocol (text or meta)");
  }
  if (FLAGS_validate == "full") {
    o->validate = Validate::kFull;
  } else if (FLAGS_validate == "none") {
    o->validate = Validate::kNone;
  } else {
    fail("--validate (full or none)");
  }
  o->prefill = FLAGS_prefill;
  o->warmup_s = FLAGS_warmup;
  if (!(o->warmup_s >= 0)) fail("--warmup");
  o->progress = isatty(STDERR_FILENO) != 0;
  o->seed = FLAGS_seed;
  o->io = FLAGS_io;
  if (o->io != "auto" && o->io != "uring" && o->io != "epoll") fail("--io");
  return ok;
}

// The progress line (stderr, a terminal only) while the measured phase runs: each second the
// operations completed and the p99 of the latencies recorded in that second, from the histograms
// the workers publish (see Worker::LatestLatency), elapsed time and what remains.
class Progress {
 public:
  Progress(const BenchOptions& o, const std::vector<std::unique_ptr<Worker>>& workers)
      : options_(o), workers_(workers), start_ns_(NowNs()), thread_([this] { Loop(); }) {}
  ~Progress() {
    {
      std::lock_guard lock(mu_);
      done_ = true;
    }
    cv_.notify_one();
    thread_.join();
  }

 private:
  void Loop() {
    uint64_t last_done = 0;
    int64_t last_ns = start_ns_;
    Histogram last;
    std::unique_lock lock(mu_);
    while (!cv_.wait_for(lock, std::chrono::seconds(1), [this] { return done_; })) {
      const int64_t now = NowNs();
      uint64_t done = 0;
      Histogram total;
      Histogram one;
      for (const auto& w : workers_) {
        done += w->completed();
        w->LatestLatency(&one);
        total.Merge(one);
      }
      Histogram interval = total;
      interval.Subtract(last);
      const double elapsed = static_cast<double>(now - start_ns_) / 1e9;
      std::string left;
      if (options_.requests != 0) {
        left = std::to_string(options_.requests - std::min(done, options_.requests)) +
               " requests left";
      } else {
        char buffer[32];
        std::snprintf(buffer, sizeof buffer, "%.0f s left",
                      std::max(0.0, options_.duration_s - elapsed));
        left = buffer;
      }
      std::fprintf(stderr, "\r%.0f s, %s: %.0f ops/s now, p99 now %.1f us   ", elapsed,
                   left.c_str(),
                   static_cast<double>(done - last_done) * 1e9 / static_cast<double>(now - last_ns),
                   static_cast<double>(interval.Percentile(0.99)) / 1000.0);
      last_done = done;
      last_ns = now;
      last = std::move(total);
    }
    std::fputc('\n', stderr);
  }

  const BenchOptions& options_;
  const std::vector<std::unique_ptr<Worker>>& workers_;
  const int64_t start_ns_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool done_ = false;  // guarded by mu_
  std::thread thread_;
};

// Thread i's part of a phase of kind `kind` that starts at `start`.
Phase PlanPhase(const BenchOptions& o, Phase::Kind kind, size_t i, size_t n, int64_t start) {
  Phase p;
  p.kind = kind;
  if (kind == Phase::kPrefill) {
    p.first_key = o.keys * i / n;
    p.end_key = o.keys * (i + 1) / n;
  } else if (kind == Phase::kWarmup) {
    p.deadline_ns = start + static_cast<int64_t>(o.warmup_s * 1e9);
  } else if (o.requests != 0) {
    p.quota = o.requests / n + (i < o.requests % n ? 1 : 0);
  } else {
    p.deadline_ns = start + static_cast<int64_t>(o.duration_s * 1e9);
  }
  return p;
}

// Whether thread i has anything to do in the phase (a quota may leave it none).
bool HasWork(const Phase& p) {
  return p.kind == Phase::kPrefill || p.quota != 0 || p.deadline_ns != 0;
}

// Each worker thread connects once, then runs every phase on the same connections; the phases
// start together (two barriers: all ready, then the plan for the phase is published), so that
// the measured phase has one start for everyone and one elapsed time.
int Run(const BenchOptions& o, RunResult* result) {
  std::shared_ptr<const ZipfTable> zipf;
  if (o.key_pattern.kind == KeyPattern::kZipf) {
    zipf = std::make_shared<ZipfTable>(o.keys, o.key_pattern.alpha);
  }
  std::unique_ptr<VersionTable> versions;
  if (o.validate == Validate::kFull) versions = std::make_unique<VersionTable>(o.keys);
  std::unique_ptr<Router> router;
  if (o.servers.size() > 1) router = std::make_unique<Router>(o.servers, o.key_prefix, o.keys);
  const size_t n = static_cast<size_t>(o.threads);
  std::vector<std::unique_ptr<Worker>> workers;
  for (size_t i = 0; i < n; ++i) {
    workers.push_back(
        std::make_unique<Worker>(o, static_cast<int>(i), zipf, versions.get(), router.get()));
  }
  std::vector<Phase::Kind> kinds;
  if (o.prefill) kinds.push_back(Phase::kPrefill);
  if (o.warmup_s > 0) kinds.push_back(Phase::kWarmup);
  kinds.push_back(Phase::kMeasure);

  std::vector<std::string> failures(n);
  std::vector<Stats> connect_stats(n);
  std::vector<Phase> plan(n);
  std::vector<Stats> stats(n);
  bool abort = false;
  std::barrier sync(static_cast<std::ptrdiff_t>(n + 1));
  std::vector<std::thread> threads;
  for (size_t i = 0; i < n; ++i) {
    threads.emplace_back([&, i] {
      failures[i] = workers[i]->Connect(&connect_stats[i]);
      for (size_t k = 0; k < kinds.size(); ++k) {
        sync.arrive_and_wait();  // ready
        sync.arrive_and_wait();  // the plan is out
        if (abort) return;
        if (HasWork(plan[i])) workers[i]->Run(plan[i], &stats[i]);
      }
      sync.arrive_and_wait();
    });
  }
  std::string failure;
  int64_t start = 0;
  std::unique_ptr<Progress> progress;
  for (size_t k = 0; k < kinds.size() && !abort; ++k) {
    sync.arrive_and_wait();
    for (const std::string& f : failures) {
      if (!f.empty() && failure.empty()) failure = f;
    }
    abort = !failure.empty();
    if (k > 0 && kinds[k - 1] == Phase::kPrefill) {
      for (Stats& s : stats) result->prefill.Merge(s);
    }
    stats.assign(n, Stats());  // a warmup's are dropped here
    start = NowNs();
    for (size_t i = 0; i < n; ++i) plan[i] = PlanPhase(o, kinds[k], i, n, start);
    if (kinds[k] == Phase::kMeasure && o.progress && !abort) {
      progress = std::make_unique<Progress>(o, workers);
    }
    sync.arrive_and_wait();
  }
  if (!abort) sync.arrive_and_wait();
  progress.reset();
  result->elapsed_s = static_cast<double>(NowNs() - start) / 1e9;
  for (auto& t : threads) t.join();
  if (!failure.empty()) {
    std::fprintf(stderr, "spillway-bench: %s\n", failure.c_str());
    return 2;
  }
  for (Stats& s : connect_stats) result->measured.Merge(s);
  for (Stats& s : stats) result->measured.Merge(s);
  result->backend = std::string(workers[0]->backend());
  return 0;
}

int Main() {
  BenchOptions o;
  if (!BuildOptions(&o)) return 2;
  RunResult result;
  if (const int status = Run(o, &result); status != 0) return status;
  std::fputs(FormatText(o, result).c_str(), stdout);
  if (!FLAGS_json.empty()) {
    std::ofstream json(FLAGS_json);
    json << FormatJson(o, result);
    if (!json) {
      std::fprintf(stderr, "spillway-bench: cannot write %s\n", FLAGS_json.c_str());
      return 2;
    }
  }
  return result.measured.error_count() + result.prefill.error_count() == 0 ? 0 : 3;
}

}  // namespace
}  // namespace spillway::bench

int main(int argc, char** argv) {
  gflags::SetUsageMessage(
      "spillway-bench --servers host:port[:weight][,...] [--threads N] [--connections N]\n"
      "  [--pipeline N]"
      " [--rate R] [--ratio set:get] [--keys N] [--key_pattern uniform|zipf:A|sequential]\n"
      "  [--key_prefix P] [--value_size N|MIN-MAX] [--mget N] [--protocol text|meta]\n"
      "  [--duration S | --requests N] [--prefill] [--warmup S] [--validate full|none]\n"
      "  [--seed N] [--io auto|uring|epoll] [--json FILE]\n"
      "Several servers: keys placed by ketama (libmemcached-compatible), --connections to each\n"
      "  server per thread, a --mget get split into one get per server; the report shows what\n"
      "  went to each server.\n"
      "Exit status: 0 no errors, 3 errors counted (see the report), 2 bad flags or no start.");
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  google::InitGoogleLogging(argv[0]);
  FLAGS_logtostderr = true;
  return spillway::bench::Main();
}
