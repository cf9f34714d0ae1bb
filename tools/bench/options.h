// What a run does, as main.cc parsed it from the flags. Plain data: the worker never reads flags.

#ifndef SPILLWAY_TOOLS_BENCH_OPTIONS_H_
#define SPILLWAY_TOOLS_BENCH_OPTIONS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "tools/bench/keys.h"
#include "tools/bench/values.h"

namespace spillway::bench {

struct ServerAddress {
  std::string host;
  std::string port;
};

struct BenchOptions {
  std::vector<ServerAddress> servers;  // connections are spread round-robin over them
  int threads = 1;
  int connections = 50;  // per thread
  int pipeline = 1;      // requests in flight per connection at most
  // Open loop: requests per second over all threads, each sent at its scheduled time and timed
  // from it, so that a stalled server cannot hide its stall (no coordinated omission). 0: closed.
  double rate = 0;
  uint32_t set_ratio = 1;
  uint32_t get_ratio = 10;
  uint64_t keys = 100000;
  KeyPattern key_pattern;
  std::string key_prefix = "key:";
  ValueSize value_size;
  double duration_s = 10;  // used when requests == 0
  uint64_t requests = 0;   // total over all threads; 0: run for duration_s
  bool prefill = false;
  uint64_t seed = 1;
  std::string io = "auto";  // auto, uring, epoll
};

}  // namespace spillway::bench

#endif  // SPILLWAY_TOOLS_BENCH_OPTIONS_H_
