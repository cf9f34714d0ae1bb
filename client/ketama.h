// Ketama consistent hashing, placed exactly as libmemcached places keys with
// MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED (pylibmc's "ketama_weighted", php-memcached's
// OPT_LIBKETAMA_COMPATIBLE; not the plain MEMCACHED_BEHAVIOR_KETAMA), and as twemproxy
// does with `distribution: ketama` and `hash: md5`. So a key lands on the same server whichever
// of them, or spillway::Client, stores it.
//
// Each live server gets points on a 32-bit circle: floor(weight share * 40 * live servers) MD5
// digests (computed in 32-bit float, as libmemcached does, so that rounding agrees), each digest
// of "<PointName()>-<i>" giving 4 points. A key's hash is the first 4 bytes of its MD5 digest
// (little-endian); its server is the one of the first point at or after the hash, wrapping round.
//
// A ring is immutable once built: share it between threads freely.

#ifndef SPILLWAY_CLIENT_KETAMA_H_
#define SPILLWAY_CLIENT_KETAMA_H_

#include <cstdint>
#include <span>
#include <string_view>
#include <vector>

#include "client/server_address.h"

namespace spillway::client {

class KetamaRing {
 public:
  static constexpr uint32_t kNoServer = UINT32_MAX;

  // Points for every server whose `live` entry is true (every server when `live` is empty). Live
  // servers share the circle by weight; the others are left out, so their keys fall to the next
  // point, as libmemcached's and twemproxy's auto-eject do.
  explicit KetamaRing(std::span<const ServerAddress> servers, std::span<const bool> live = {});

  // A key's position on the circle.
  static uint32_t Hash(std::string_view key);
  // The index (into the constructor's `servers`) of the key's server; kNoServer when none is
  // live.
  uint32_t ServerFor(std::string_view key) const { return ServerForHash(Hash(key)); }
  uint32_t ServerForHash(uint32_t hash) const;

  size_t points() const { return points_.size(); }
  // How many points server `index` has (a multiple of 4; 160 when all weights are equal).
  size_t PointsOf(uint32_t index) const;

 private:
  struct Point {
    uint32_t value;
    uint32_t server;
  };
  std::vector<Point> points_;  // sorted by value, then server
};

}  // namespace spillway::client

#endif  // SPILLWAY_CLIENT_KETAMA_H_
