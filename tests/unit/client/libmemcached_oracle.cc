#include "libmemcached_oracle.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>

namespace spillway::client::testing {
namespace {

bool ContinuumLooksSane(Continuum points, size_t servers) {
  for (size_t i = 0; i < points.size(); ++i) {
    bool ordered =
        i == 0 || points[i - 1].value < points[i].value ||
        (points[i - 1].value == points[i].value && points[i - 1].index <= points[i].index);
    if (points[i].index >= servers || !ordered) {
      ADD_FAILURE() << "libmemcached's continuum is not sorted (value, index) pairs at point " << i
                    << ": has memcached_continuum_item_st changed?";
      return false;
    }
  }
  return true;
}

// libmemcached's rule, over its own points: the first point at or after the hash, wrapping.
uint32_t OwnerOf(Continuum points, uint32_t hash) {
  auto it = std::lower_bound(
      points.begin(), points.end(), hash,
      [](const memcached_continuum_item_st& p, uint32_t h) { return p.value < h; });
  return (it == points.end() ? points.front() : *it).index;
}

}  // namespace

uint64_t TestSeed(const char* test) {
  const char* env = std::getenv("SPILLWAY_TEST_SEED");
  const uint64_t seed = env != nullptr ? std::strtoull(env, nullptr, 0) : 20240611;
  ::testing::Test::RecordProperty("seed", std::to_string(seed));
  std::cout << "[ seed     ] " << test << ": " << seed << " (set SPILLWAY_TEST_SEED to change)\n";
  return seed;
}

uint64_t Uniform(std::mt19937_64& rng, uint64_t low, uint64_t high) {
  return std::uniform_int_distribution<uint64_t>(low, high)(rng);
}

Libmemcached::Libmemcached(std::span<const ServerAddress> servers, Build build)
    : memc_(memcached_create(nullptr)) {
  EXPECT_EQ(memcached_behavior_set(memc_, MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED, 1),
            MEMCACHED_SUCCESS);
  if (build == Build::kAddEachServer) {
    for (const ServerAddress& s : servers) {
      EXPECT_EQ(memcached_server_add_with_weight(memc_, s.host.c_str(), s.port, s.weight),
                MEMCACHED_SUCCESS);
    }
    return;
  }
  memcached_server_st* list = nullptr;
  for (const ServerAddress& s : servers) {
    memcached_return_t rc;
    list = memcached_server_list_append_with_weight(list, s.host.c_str(), s.port, s.weight, &rc);
    EXPECT_EQ(rc, MEMCACHED_SUCCESS);
  }
  EXPECT_EQ(memcached_server_push(memc_, list), MEMCACHED_SUCCESS);
  memcached_server_list_free(list);
}

std::vector<size_t> ListSizes() {
  std::vector<size_t> sizes;
  for (size_t n = 1; n <= 20; ++n) sizes.push_back(n);
  for (size_t n : {25, 32, 40, 50, 64, 75, 89}) sizes.push_back(n);
  sizes.push_back(kMaxServers);
  return sizes;
}

std::vector<ServerAddress> MakeList(size_t n, ListKind kind, std::mt19937_64& rng) {
  const uint64_t net = Uniform(rng, 0, 255);
  const std::string zone = "z" + std::to_string(Uniform(rng, 0, 999));
  std::vector<ServerAddress> servers(n);
  for (size_t i = 0; i < n; ++i) {
    ServerAddress& s = servers[i];
    Hosts hosts = kind.hosts == Hosts::kMixed ? static_cast<Hosts>(i % 3) : kind.hosts;
    if (hosts == Hosts::kIpv4) {
      s.host = "10." + std::to_string(net) + "." + std::to_string(i / 250) + "." +
               std::to_string(i % 250 + 1);
    } else if (hosts == Hosts::kNames) {
      s.host = "cache-" + std::to_string(i) + "." + zone + ".example.com";
    } else {
      char v6[32];
      std::snprintf(v6, sizeof v6, "fd00:%x::%zx", static_cast<unsigned>(net), i + 1);
      s.host = v6;
    }
    bool other_port =
        kind.ports == Ports::kOther || (kind.ports == Ports::kMixed && Uniform(rng, 0, 1) == 1);
    if (other_port) s.port = static_cast<uint16_t>(Uniform(rng, 1, 65535));
    if (other_port && s.port == kDefaultPort) s.port = 11212;
    switch (kind.weights) {
      case Weights::kEqual:
        s.weight = 1;
        break;
      case Weights::kUpToN:
        s.weight = static_cast<uint32_t>(Uniform(rng, 1, n));
        break;
      case Weights::kSomeZero:
        s.weight = static_cast<uint32_t>(Uniform(rng, 0, 3));
        break;
      case Weights::kWide:
        s.weight = static_cast<uint32_t>(Uniform(rng, 1, 100000));
        break;
    }
  }
  return servers;
}

std::string Describe(std::span<const ServerAddress> servers) {
  std::string text = std::to_string(servers.size()) + " servers:";
  for (const ServerAddress& s : servers) {
    text += " " + s.ToString() + ":" + std::to_string(s.weight);
  }
  return text;
}

// Binary keys too: memcached refuses them in the text protocol, but libmemcached hashes whatever
// bytes it is given, and so must the ring.
std::string RandomKey(std::mt19937_64& rng, size_t min_length) {
  std::string key(Uniform(rng, min_length, 250), '\0');
  bool binary = Uniform(rng, 0, 9) == 0;
  for (char& c : key) c = static_cast<char>(binary ? Uniform(rng, 0, 255) : Uniform(rng, 33, 126));
  return key;
}

std::string Escape(std::string_view key) {
  std::string text;
  for (unsigned char c : key) {
    char hex[5];
    std::snprintf(hex, sizeof hex, "\\x%02x", c);
    text += c > 32 && c < 127 && c != '\\' ? std::string(1, static_cast<char>(c)) : hex;
  }
  return text;
}

std::vector<uint32_t> Identity(size_t n) {
  std::vector<uint32_t> to_ring(n);
  for (size_t i = 0; i < n; ++i) to_ring[i] = static_cast<uint32_t>(i);
  return to_ring;
}

// An arc's two ends are a point's own value and the value after it: a point the ring has and
// libmemcached has not (or the reverse) changes the owner at one of them, unless it belongs to the
// owner anyway, which changes no placement.
bool SamePoints(const KetamaRing& ring, const Libmemcached& lm, std::span<const uint32_t> to_ring,
                std::string_view list) {
  Continuum points = lm.continuum();
  if (!ContinuumLooksSane(points, to_ring.size())) return false;
  std::vector<size_t> counts(to_ring.size());
  for (const auto& p : points) ++counts[p.index];
  for (size_t i = 0; i < to_ring.size(); ++i) {
    if (ring.PointsOf(to_ring[i]) != counts[i]) {
      ADD_FAILURE() << list << "\nserver " << to_ring[i] << ": " << ring.PointsOf(to_ring[i])
                    << " points, libmemcached has " << counts[i];
      return false;
    }
  }
  EXPECT_EQ(ring.points(), points.size()) << list;
  for (const auto& p : points) {
    for (uint32_t hash : {p.value, p.value + 1}) {
      uint32_t want = to_ring[OwnerOf(points, hash)];
      if (ring.ServerForHash(hash) != want) {
        ADD_FAILURE() << list << "\nhash " << hash << ": ring says server "
                      << ring.ServerForHash(hash) << ", libmemcached's continuum " << want;
        return false;
      }
    }
  }
  return true;
}

bool SameKeys(const KetamaRing& ring, const Libmemcached& lm, std::span<const uint32_t> to_ring,
              std::mt19937_64& rng, int keys, std::string_view list) {
  for (int k = 0; k < keys; ++k) {
    std::string key = RandomKey(rng);
    uint32_t want = to_ring[lm.ServerFor(key)];
    uint32_t got = ring.ServerFor(key);
    if (got != want) {
      ADD_FAILURE() << list << "\nkey \"" << Escape(key) << "\" (" << key.size() << " bytes, hash "
                    << KetamaRing::Hash(key) << "): libmemcached says server " << want
                    << ", KetamaRing " << got;
      return false;
    }
  }
  return true;
}

}  // namespace spillway::client::testing
