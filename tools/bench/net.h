// Outgoing TCP connections for the workers.

#ifndef SPILLWAY_TOOLS_BENCH_NET_H_
#define SPILLWAY_TOOLS_BENCH_NET_H_

#include <string>
#include <vector>

#include "tools/bench/options.h"

namespace spillway::bench {

// A connected, non-blocking TCP socket with TCP_NODELAY, or -1 with the reason in *error.
int ConnectTo(const ServerAddress& server, std::string* error);

// "host:port[:weight]" items separated by commas (or spaces), as client::ParseServerList reads
// them ("[v6]:port" for an IPv6 address; a missing port is 11211, a missing weight 1). False,
// and why in *error, on an empty list or a bad item.
bool ParseServers(const std::string& text, std::vector<ServerAddress>* out, std::string* error);

}  // namespace spillway::bench

#endif  // SPILLWAY_TOOLS_BENCH_NET_H_
