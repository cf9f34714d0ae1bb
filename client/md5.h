// MD5 (RFC 1321), for ketama placement only: libmemcached, twemproxy and pylibmc hash server
// names and keys with it, so a client that places keys where they do must too. Not for security.

#ifndef SPILLWAY_CLIENT_MD5_H_
#define SPILLWAY_CLIENT_MD5_H_

#include <array>
#include <cstdint>
#include <string_view>

namespace spillway::client {

using Md5Digest = std::array<uint8_t, 16>;

Md5Digest Md5(std::string_view data);

}  // namespace spillway::client

#endif  // SPILLWAY_CLIENT_MD5_H_
