// spillway-eviction-sim: replays synthetic traces through LRU, memcached's segmented LRU and
// S3-FIFO at several cache sizes and prints the miss ratios as a markdown table
// (docs/eviction.md records a run and how to reproduce it).

#include <gflags/gflags.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "tools/eviction-sim/policies.h"
#include "tools/eviction-sim/store_cache.h"
#include "tools/eviction-sim/traces.h"

DEFINE_uint64(keys, 1'000'000, "Zipf population (ranks) of every trace");
DEFINE_uint64(requests, 10'000'000, "requests per trace");
DEFINE_uint64(seed, 1, "seed of every trace generator");
DEFINE_double(warmup, 0.2,
              "leading fraction of each trace replayed but excluded from the miss "
              "ratio");
DEFINE_string(alphas, "0.8,1.0,1.2", "Zipf exponents, one plain Zipf trace each");
DEFINE_string(sizes, "0.01,0.1,0.5", "cache sizes as fractions of each trace's working set");
DEFINE_double(scan_alpha, 1.0, "Zipf exponent of the scan trace's background");
DEFINE_uint64(scan_length, 0, "keys per scan in the scan trace (0: keys / 10)");
DEFINE_double(scan_share, 0.1,
              "fraction of the scan trace's requests that belong to scans "
              "(0 drops the scan trace)");
DEFINE_int32(slru_hits_to_activate, 2, "SLRU: hits that make an item ACTIVE (memcached: 2)");
DEFINE_uint32(s3fifo_move_to_main_hits, 1, "S3-FIFO: hits needed to move from S to M");
DEFINE_bool(store, false,
            "also replay each trace through the real segment store (storage::Store), sized in "
            "bytes to hold the same number of objects");
DEFINE_uint64(store_value_size, 32, "value bytes per item in the segment store");

namespace spillway::eviction_sim {
namespace {

std::vector<double> ParseList(const std::string& text, const char* flag) {
  std::vector<double> values;
  const char* p = text.c_str();
  while (*p != '\0') {
    char* end = nullptr;
    values.push_back(std::strtod(p, &end));
    if (end == p || (*end != ',' && *end != '\0')) {
      std::fprintf(stderr, "--%s: cannot parse \"%s\"\n", flag, text.c_str());
      std::exit(2);
    }
    p = *end == ',' ? end + 1 : end;
  }
  return values;
}

double Seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

// Misses over the requests after the warmup prefix, divided by their number.
double MissRatio(Cache& cache, std::span<const uint64_t> trace, size_t warmup) {
  for (size_t i = 0; i < warmup; ++i) cache.Access(trace[i]);
  uint64_t misses = 0;
  for (size_t i = warmup; i < trace.size(); ++i) misses += cache.Access(trace[i]) ? 0 : 1;
  return trace.size() > warmup ? static_cast<double>(misses) / (trace.size() - warmup) : 0;
}

void RunTrace(const std::string& label, const std::vector<uint64_t>& trace,
              const std::vector<double>& sizes) {
  const auto start = std::chrono::steady_clock::now();
  const size_t working_set = CountDistinct(trace);
  const size_t warmup = static_cast<size_t>(FLAGS_warmup * static_cast<double>(trace.size()));
  // An LRU that holds the whole working set only takes first-access misses: the floor that no
  // policy can go under.
  LruCache everything(working_set);
  const double floor = MissRatio(everything, trace, warmup);

  for (double fraction : sizes) {
    const size_t objects = std::max<size_t>(1, static_cast<size_t>(fraction * working_set));
    LruCache lru(objects);
    SegmentedLruCache slru(objects, {.hits_to_activate = FLAGS_slru_hits_to_activate});
    S3FifoCache s3fifo(objects, {.move_to_main_hits = static_cast<uint8_t>(
                                     std::min<uint32_t>(FLAGS_s3fifo_move_to_main_hits, 3))});
    const double ratios[3] = {MissRatio(lru, trace, warmup), MissRatio(slru, trace, warmup),
                              MissRatio(s3fifo, trace, warmup)};
    const Cache* caches[3] = {&lru, &slru, &s3fifo};
    int best = 0;
    for (int p = 1; p < 3; ++p) {
      if (ratios[p] < ratios[best]) best = p;
    }
    // Percent change of the best against LRU; 0 (not -0) when LRU itself is best.
    const double change =
        ratios[best] < ratios[0] ? (ratios[best] - ratios[0]) / ratios[0] * 100 : 0;
    std::printf("| %s | %zu | %g%% | %zu | %.4f | %.4f | %.4f | %s %+.1f%% | %.4f |", label.c_str(),
                working_set, fraction * 100, objects, ratios[0], ratios[1], ratios[2],
                std::string(caches[best]->name()).c_str(), change, floor);
    if (FLAGS_store) {
      StoreCache store(objects, FLAGS_store_value_size);
      const double ratio = MissRatio(store, trace, warmup);
      std::printf(" %.4f | %zu | %zu KiB |", ratio, store.size(), store.segment_size() >> 10);
    }
    std::printf("\n");
    std::fflush(stdout);
  }
  std::fprintf(stderr, "%s: simulated in %.1f s\n", label.c_str(), Seconds(start));
}

int Main() {
  const auto start = std::chrono::steady_clock::now();
  const std::vector<double> alphas = ParseList(FLAGS_alphas, "alphas");
  const std::vector<double> sizes = ParseList(FLAGS_sizes, "sizes");
  const uint64_t scan_length =
      FLAGS_scan_length > 0 ? FLAGS_scan_length : std::max<uint64_t>(FLAGS_keys / 10, 1);
  std::printf(
      "keys=%lu requests=%lu seed=%lu warmup=%g scan_length=%lu scan_share=%g "
      "slru_hits_to_activate=%d s3fifo_move_to_main_hits=%u\n\n",
      static_cast<unsigned long>(FLAGS_keys), static_cast<unsigned long>(FLAGS_requests),
      static_cast<unsigned long>(FLAGS_seed), FLAGS_warmup, static_cast<unsigned long>(scan_length),
      FLAGS_scan_share, FLAGS_slru_hits_to_activate, FLAGS_s3fifo_move_to_main_hits);
  std::printf(
      "| trace | working set | cache | objects | LRU | SLRU | S3-FIFO | best vs LRU "
      "| first-access floor |%s\n",
      FLAGS_store ? " segment store | store items at end | segment size |" : "");
  std::printf("|---|---:|---:|---:|---:|---:|---:|---|---:|%s\n",
              FLAGS_store ? "---:|---:|---:|" : "");

  for (double alpha : alphas) {
    char label[64];
    std::snprintf(label, sizeof(label), "zipf %.1f", alpha);
    const auto generated = std::chrono::steady_clock::now();
    const std::vector<uint64_t> trace = MakeZipfTrace(
        {.keys = FLAGS_keys, .requests = FLAGS_requests, .alpha = alpha, .seed = FLAGS_seed});
    std::fprintf(stderr, "%s: generated in %.1f s\n", label, Seconds(generated));
    RunTrace(label, trace, sizes);
  }
  if (FLAGS_scan_share > 0) {
    char label[64];
    std::snprintf(label, sizeof(label), "zipf %.1f + %g%% scans", FLAGS_scan_alpha,
                  FLAGS_scan_share * 100);
    const std::vector<uint64_t> trace = MakeScanTrace({.keys = FLAGS_keys,
                                                       .requests = FLAGS_requests,
                                                       .alpha = FLAGS_scan_alpha,
                                                       .scan_length = scan_length,
                                                       .scan_share = FLAGS_scan_share,
                                                       .seed = FLAGS_seed});
    RunTrace(label, trace, sizes);
  }
  std::fprintf(stderr, "total: %.1f s\n", Seconds(start));
  return 0;
}

}  // namespace
}  // namespace spillway::eviction_sim

int main(int argc, char** argv) {
  gflags::SetUsageMessage(
      "replays Zipf and scan-polluted traces through LRU, SLRU and S3-FIFO; prints miss ratios");
  gflags::ParseCommandLineFlags(&argc, &argv, true);
  return spillway::eviction_sim::Main();
}
