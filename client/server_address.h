// Where a server is and how much of the keyspace it takes: "host:port[:weight]", as libmemcached,
// pylibmc and twemproxy write a server list.

#ifndef SPILLWAY_CLIENT_SERVER_ADDRESS_H_
#define SPILLWAY_CLIENT_SERVER_ADDRESS_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "client/status.h"

namespace spillway::client {

inline constexpr uint16_t kDefaultPort = 11211;

struct ServerAddress {
  std::string host;  // a name or an address; an IPv6 address without its brackets
  uint16_t port = kDefaultPort;
  // The server's share of the keyspace, relative to the others. 0 counts as 1, as in libmemcached.
  uint32_t weight = 1;

  // The name ketama hashes for this server's points: "host:port", or "host" alone when the port
  // is 11211 (libmemcached's and twemproxy's rule, kept so that all of them agree).
  std::string PointName() const;
  // "host:port" ("[v6]:port" for an IPv6 address), for messages.
  std::string ToString() const;
};

// Parses a list of "host[:port[:weight]]" items separated by commas or whitespace, in order. An
// IPv6 address is written in brackets ("[::1]:11211"). A missing port is 11211 and a missing
// weight 1. On a bad item nothing is appended and the Status names it.
Status ParseServerList(std::string_view text, std::vector<ServerAddress>* servers);

}  // namespace spillway::client

#endif  // SPILLWAY_CLIENT_SERVER_ADDRESS_H_
