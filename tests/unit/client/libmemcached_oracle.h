// Test helpers: libmemcached as the oracle for ketama placement, the random server lists and keys
// to compare it on, and the comparisons, which report the first difference with its list.

#ifndef SPILLWAY_TESTS_UNIT_CLIENT_LIBMEMCACHED_ORACLE_H_
#define SPILLWAY_TESTS_UNIT_CLIENT_LIBMEMCACHED_ORACLE_H_

#include <libmemcached/memcached.h>

#include <cstdint>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "client/ketama.h"
#include "client/server_address.h"

// libmemcached keeps its continuum behind an incomplete type; this is its layout in 1.1.4
// (src/libmemcached/continuum.hpp). Reading it lets a test compare every point of the ring, not
// only the arcs that random keys happen to hit. SamePoints checks that the points read this way
// are sorted and name real servers before it trusts them.
struct memcached_continuum_item_st {
  uint32_t index;
  uint32_t value;
};

namespace spillway::client::testing {

using Continuum = std::span<const memcached_continuum_item_st>;

// SPILLWAY_TEST_SEED, or a fixed seed; printed, and recorded in the test's XML output.
uint64_t TestSeed(const char* test);
uint64_t Uniform(std::mt19937_64& rng, uint64_t low, uint64_t high);

// The same list in libmemcached, configured as pylibmc's and php-memcached's "ketama" are. It
// hashes names and keys only: nothing is resolved or connected.
class Libmemcached {
 public:
  // Adding servers one at a time, as applications do, rebuilds the continuum after each (0.2 s
  // for 100 servers); pushing a list builds it once. A test shows that both agree.
  enum class Build { kPushList, kAddEachServer };

  explicit Libmemcached(std::span<const ServerAddress> servers, Build build = Build::kPushList);
  ~Libmemcached() { memcached_free(memc_); }
  Libmemcached(const Libmemcached&) = delete;
  Libmemcached& operator=(const Libmemcached&) = delete;

  // The index of the key's server, as libmemcached picks it for a get or a set.
  uint32_t ServerFor(std::string_view key) const {
    return memcached_generate_hash(memc_, key.data(), key.size());
  }
  // Valid until this object is destroyed.
  Continuum continuum() const {
    return {memc_->ketama.continuum, memc_->ketama.continuum_points_counter};
  }

 private:
  memcached_st* memc_;
};

enum class Weights { kEqual, kUpToN, kSomeZero, kWide };
enum class Hosts { kIpv4, kNames, kMixed };  // kMixed: IPv4, names and IPv6 in turn
enum class Ports { kDefault, kOther, kMixed };
struct ListKind {
  Weights weights;
  Hosts hosts;
  Ports ports;
};

// Kinds that change the hashed names or the float share arithmetic; each list is a fresh draw.
inline constexpr ListKind kListKinds[] = {
    {Weights::kEqual, Hosts::kIpv4, Ports::kDefault},
    {Weights::kEqual, Hosts::kNames, Ports::kOther},
    {Weights::kUpToN, Hosts::kNames, Ports::kDefault},
    {Weights::kUpToN, Hosts::kIpv4, Ports::kMixed},
    {Weights::kSomeZero, Hosts::kMixed, Ports::kMixed},
    {Weights::kWide, Hosts::kNames, Ports::kMixed},
};
inline constexpr size_t kMaxServers = 100;

// Every size from 1 to 20, then a spread up to kMaxServers.
std::vector<size_t> ListSizes();
// Distinct servers: kUpToN weights are 1..n, kSomeZero 0..3, kWide 1..100000.
std::vector<ServerAddress> MakeList(size_t n, ListKind kind, std::mt19937_64& rng);
// "<n> servers: host:port:weight ...", for failure messages.
std::string Describe(std::span<const ServerAddress> servers);
// 1..250 bytes (min_length..250); mostly printable without spaces, one in ten binary.
std::string RandomKey(std::mt19937_64& rng, size_t min_length = 1);
// The key with bytes outside '!'..'~' (and the backslash) as \xNN.
std::string Escape(std::string_view key);
// 0..n-1: the index map for a ring over the same list as libmemcached's.
std::vector<uint32_t> Identity(size_t n);

// Whether `ring` has libmemcached's points: the same count per server, and the same owner at both
// ends of every arc. `to_ring` maps libmemcached's server indexes to the ring's. Adds a failure
// naming `list` and the first difference.
bool SamePoints(const KetamaRing& ring, const Libmemcached& lm, std::span<const uint32_t> to_ring,
                std::string_view list);
// Whether `keys` random keys land where libmemcached puts them. Adds a failure naming `list` and
// the first key that does not.
bool SameKeys(const KetamaRing& ring, const Libmemcached& lm, std::span<const uint32_t> to_ring,
              std::mt19937_64& rng, int keys, std::string_view list);

}  // namespace spillway::client::testing

#endif  // SPILLWAY_TESTS_UNIT_CLIENT_LIBMEMCACHED_ORACLE_H_
