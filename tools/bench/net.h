// Outgoing TCP connections for the workers.

#ifndef SPILLWAY_TOOLS_BENCH_NET_H_
#define SPILLWAY_TOOLS_BENCH_NET_H_

#include <string>

#include "tools/bench/options.h"

namespace spillway::bench {

// A connected, non-blocking TCP socket with TCP_NODELAY, or -1 with the reason in *error.
int ConnectTo(const ServerAddress& server, std::string* error);

// "host:port[,host:port...]"; false on an empty list or an entry without a port.
bool ParseServers(const std::string& text, std::vector<ServerAddress>* out);

}  // namespace spillway::bench

#endif  // SPILLWAY_TOOLS_BENCH_NET_H_
