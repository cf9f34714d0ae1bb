// The end-of-run report: text on stdout, and the same figures as JSON (--json).

#ifndef SPILLWAY_TOOLS_BENCH_REPORT_H_
#define SPILLWAY_TOOLS_BENCH_REPORT_H_

#include <string>

#include "tools/bench/options.h"
#include "tools/bench/worker.h"

namespace spillway::bench {

struct RunResult {
  std::string backend;
  double elapsed_s = 0;
  Stats measured;
  Stats prefill;  // only its errors are reported
};

std::string FormatText(const BenchOptions& options, const RunResult& result);
std::string FormatJson(const BenchOptions& options, const RunResult& result);

}  // namespace spillway::bench

#endif  // SPILLWAY_TOOLS_BENCH_REPORT_H_
