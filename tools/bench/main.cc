// spillway-bench: a closed-loop memcached load generator that checks every reply. See
// docs/benchmarks.md ("spillway-bench (first cut)") for what it does and does not do yet.
//
// Exit status: 0 when the run had no errors, 3 when it counted any, 2 on bad flags or when it
// could not start.

#include <gflags/gflags.h>
#include <glog/logging.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "tools/bench/net.h"
#include "tools/bench/report.h"
#include "tools/bench/worker.h"

DEFINE_string(servers, "127.0.0.1:11211", "host:port[,host:port...]; round-robin by connection.");
DEFINE_int32(threads, 1, "Load threads, each with its own event loop.");
DEFINE_int32(connections, 50, "Connections per thread.");
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
DEFINE_bool(prefill, false, "Set every key once before the measured run.");
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
  if (!ParseServers(FLAGS_servers, &o->servers)) fail("--servers");
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
  o->prefill = FLAGS_prefill;
  o->seed = FLAGS_seed;
  o->io = FLAGS_io;
  if (o->io != "auto" && o->io != "uring" && o->io != "epoll") fail("--io");
  return ok;
}

// Runs one phase on every thread; the progress line (stderr, a terminal only) while it runs.
std::string RunPhase(const BenchOptions& o, std::vector<std::unique_ptr<Worker>>& workers,
                     Phase::Kind kind, Stats* total, double* elapsed_s) {
  const size_t n = workers.size();
  std::vector<Stats> stats(n);
  std::vector<std::string> failures(n);
  std::vector<std::thread> threads;
  const int64_t start = NowNs();
  for (size_t i = 0; i < n; ++i) {
    Phase phase;
    phase.kind = kind;
    if (kind == Phase::kPrefill) {
      phase.first_key = o.keys * i / n;
      phase.end_key = o.keys * (i + 1) / n;
    } else if (o.requests != 0) {
      phase.quota = o.requests / n + (i < o.requests % n ? 1 : 0);
      if (phase.quota == 0) continue;
    } else {
      phase.deadline_ns = start + static_cast<int64_t>(o.duration_s * 1e9);
    }
    threads.emplace_back([&, i, phase] { failures[i] = workers[i]->Run(phase, &stats[i]); });
  }
  std::atomic<bool> done{false};
  std::thread progress;
  if (kind == Phase::kMeasure && isatty(STDERR_FILENO)) {
    progress = std::thread([&] {
      uint64_t last = 0;
      while (!done.load()) {
        for (int t = 0; t < 10 && !done.load(); ++t) usleep(100'000);
        uint64_t now = 0;
        for (const auto& w : workers) now += w->completed();
        std::fprintf(stderr, "\r%.0f s: %llu ops/s now, %llu done   ",
                     static_cast<double>(NowNs() - start) / 1e9,
                     static_cast<unsigned long long>(now - last),
                     static_cast<unsigned long long>(now));
        last = now;
      }
      std::fputc('\n', stderr);
    });
  }
  for (auto& t : threads) t.join();
  done.store(true);
  if (progress.joinable()) progress.join();
  *elapsed_s = static_cast<double>(NowNs() - start) / 1e9;
  for (size_t i = 0; i < n; ++i) {
    if (!failures[i].empty()) return failures[i];
    total->Merge(stats[i]);
  }
  return "";
}

int Main() {
  BenchOptions o;
  if (!BuildOptions(&o)) return 2;
  std::shared_ptr<const ZipfTable> zipf;
  if (o.key_pattern.kind == KeyPattern::kZipf) {
    zipf = std::make_shared<ZipfTable>(o.keys, o.key_pattern.alpha);
  }
  std::vector<std::unique_ptr<Worker>> workers;
  for (int i = 0; i < o.threads; ++i) workers.push_back(std::make_unique<Worker>(o, i, zipf));
  RunResult result;
  double ignored = 0;
  if (o.prefill) {
    if (std::string why = RunPhase(o, workers, Phase::kPrefill, &result.prefill, &ignored);
        !why.empty()) {
      std::fprintf(stderr, "spillway-bench: %s\n", why.c_str());
      return 2;
    }
  }
  if (std::string why = RunPhase(o, workers, Phase::kMeasure, &result.measured, &result.elapsed_s);
      !why.empty()) {
    std::fprintf(stderr, "spillway-bench: %s\n", why.c_str());
    return 2;
  }
  result.backend = std::string(workers[0]->backend());
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
      "spillway-bench --servers host:port[,...] [--threads N] [--connections N] [--pipeline N]\n"
      "  [--ratio set:get] [--keys N] [--key_pattern uniform|zipf:A|sequential]\n"
      "  [--value_size N|MIN-MAX] [--duration S | --requests N] [--prefill] [--json FILE]");
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  google::InitGoogleLogging(argv[0]);
  FLAGS_logtostderr = true;
  return spillway::bench::Main();
}
