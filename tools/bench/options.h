// What a run does, as main.cc parsed it from the flags. Plain data: the worker never reads flags.

#ifndef SPILLWAY_TOOLS_BENCH_OPTIONS_H_
#define SPILLWAY_TOOLS_BENCH_OPTIONS_H_

#include <cstdint>
#include <string>
#include <vector>

#include "client/server_address.h"
#include "tools/bench/keys.h"
#include "tools/bench/values.h"

namespace spillway::bench {

using client::ServerAddress;

enum class Protocol { kText, kMeta };

// kFull compares every hit with the value its version must have and checks that the version is
// not older than one already acknowledged; kNone still parses every reply strictly (order, keys,
// framing) but compares no value bytes, for servers that answer with made-up values.
enum class Validate { kFull, kNone };

struct BenchOptions {
  // One: every request goes to it. Several: each key goes to the server ketama picks for it
  // (route.h), and every thread has `connections` connections to each server.
  std::vector<ServerAddress> servers;
  int threads = 1;
  int connections = 50;  // per thread (and per server)
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
  uint32_t mget = 1;       // keys per get request (text: one get line; meta: mg ... q, then mn)
  Protocol protocol = Protocol::kText;
  Validate validate = Validate::kFull;
  bool prefill = false;
  double warmup_s = 0;  // the workload runs this long first on the same connections, uncounted
  // Workers publish their measured latency every ~200 ms for the progress line (a terminal only).
  bool progress = false;
  uint64_t seed = 1;
  std::string io = "auto";  // auto, uring, epoll
};

}  // namespace spillway::bench

#endif  // SPILLWAY_TOOLS_BENCH_OPTIONS_H_
