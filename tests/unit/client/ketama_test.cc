// Ketama placement with libmemcached 1.1.4 (MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED) as the oracle:
// where keys land, every point of the continuum, dead servers; then what holds whatever the
// float rounding does to the point counts.

#include "client/ketama.h"

#include <gtest/gtest.h>
#include <libhashkit-1.0/hashkit.h>
#include <libmemcached/memcached.h>

#include <algorithm>
#include <array>
#include <bit>
#include <random>
#include <string>
#include <vector>

#include "libmemcached_oracle.h"

namespace spillway::client {
namespace {

using testing::Continuum;
using testing::Describe;
using testing::Escape;
using testing::Hosts;
using testing::Identity;
using testing::kListKinds;
using testing::kMaxServers;
using testing::Libmemcached;
using testing::ListKind;
using testing::ListSizes;
using testing::MakeList;
using testing::Ports;
using testing::RandomKey;
using testing::SameKeys;
using testing::SamePoints;
using testing::TestSeed;
using testing::Uniform;
using testing::Weights;

TEST(KetamaRing, HashIsLibmemcachedsMd5Hash) {
  std::mt19937_64 rng(TestSeed("HashIsLibmemcachedsMd5Hash"));
  for (int k = 0; k < 5000; ++k) {
    std::string key = RandomKey(rng, 0);
    ASSERT_EQ(KetamaRing::Hash(key), libhashkit_digest(key.data(), key.size(), HASHKIT_HASH_MD5))
        << Escape(key);
    ASSERT_EQ(KetamaRing::Hash(key),
              memcached_generate_hash_value(key.data(), key.size(), MEMCACHED_HASH_MD5))
        << Escape(key);
  }
  // MD5("") is d41d8cd9...: the first four bytes, little-endian.
  EXPECT_EQ(KetamaRing::Hash(""), 0xd98c1dd4u);
}

TEST(KetamaCompat, KeysLandOnLibmemcachedsServer) {
  std::mt19937_64 rng(TestSeed("KeysLandOnLibmemcachedsServer"));
  for (size_t n : ListSizes()) {
    for (const ListKind& kind : kListKinds) {
      std::vector<ServerAddress> servers = MakeList(n, kind, rng);
      KetamaRing ring(servers);
      Libmemcached lm(servers);
      if (!SameKeys(ring, lm, Identity(n), rng, 2000, Describe(servers))) return;
    }
  }
}

TEST(KetamaCompat, PointsAreLibmemcacheds) {
  std::mt19937_64 rng(TestSeed("PointsAreLibmemcacheds"));
  for (size_t n : ListSizes()) {
    for (const ListKind& kind : kListKinds) {
      std::vector<ServerAddress> servers = MakeList(n, kind, rng);
      KetamaRing ring(servers);
      Libmemcached lm(servers);
      if (!SamePoints(ring, lm, Identity(n), Describe(servers))) return;
    }
  }
}

// Several servers on one host, and the same server twice: equal points tie, and libmemcached
// gives a tie to the lower index, so the second copy never receives a key.
TEST(KetamaCompat, SharedHostsAndDuplicates) {
  std::mt19937_64 rng(TestSeed("SharedHostsAndDuplicates"));
  const std::vector<ServerAddress> lists[] = {
      {{"mc1", 11211}, {"mc1", 11212}, {"mc1", 11213}, {"mc2", 11211}, {"mc2", 11212}},
      {{"a", 11211}, {"a", 11211}, {"b", 11211}},
      {{"a", 11211, 3}, {"b", 11211}, {"a", 11211, 1}, {"c", 1, 2}},
  };
  for (const auto& servers : lists) {
    KetamaRing ring(servers);
    Libmemcached lm(servers);
    EXPECT_TRUE(SamePoints(ring, lm, Identity(servers.size()), Describe(servers)));
    EXPECT_TRUE(SameKeys(ring, lm, Identity(servers.size()), rng, 5000, Describe(servers)));
  }
  KetamaRing twice(lists[1]);
  EXPECT_EQ(twice.PointsOf(1), twice.PointsOf(0));
  for (int k = 0; k < 2000; ++k) ASSERT_NE(twice.ServerFor(RandomKey(rng)), 1u);
}

// The other tests build libmemcached's list in one push; applications add servers one at a time.
TEST(KetamaCompat, AddingEachServerBuildsTheSameContinuum) {
  std::mt19937_64 rng(TestSeed("AddingEachServerBuildsTheSameContinuum"));
  for (size_t n : {1, 2, 3, 7, 20, 33}) {
    for (const ListKind& kind : kListKinds) {
      std::vector<ServerAddress> servers = MakeList(n, kind, rng);
      Libmemcached pushed(servers);
      Libmemcached added(servers, Libmemcached::Build::kAddEachServer);
      Continuum a = pushed.continuum(), b = added.continuum();
      ASSERT_TRUE(std::equal(
          a.begin(), a.end(), b.begin(), b.end(),
          [](const auto& x, const auto& y) { return x.index == y.index && x.value == y.value; }))
          << Describe(servers);
      ASSERT_TRUE(SamePoints(KetamaRing(servers), added, Identity(n), Describe(servers)));
    }
  }
}

// 160 points each at equal weights, unless float rounding of the share makes it 156; the
// exact counts come from libmemcached's continuum (its total is a public field).
TEST(KetamaPoints, EqualWeightsGetEqualCounts) {
  for (size_t n = 1; n <= kMaxServers; ++n) {
    for (uint32_t weight : {0u, 1u, 7u}) {
      std::vector<ServerAddress> servers(n);
      for (size_t i = 0; i < n; ++i) servers[i] = {"s" + std::to_string(i), 11211, weight};
      KetamaRing ring(servers);
      const size_t each = ring.PointsOf(0);
      EXPECT_TRUE(each == 160 || each == 156)
          << n << " servers of weight " << weight << ": " << each;
      for (uint32_t i = 1; i < n; ++i) ASSERT_EQ(ring.PointsOf(i), each) << n << " servers";
      EXPECT_EQ(ring.points(), each * n);
      // 1/n, 40/n and their product by n are exact in float.
      if (std::has_single_bit(n)) {
        EXPECT_EQ(each, 160u) << n << " servers";
      }
      Libmemcached lm(servers);
      EXPECT_EQ(ring.points(), lm.continuum().size()) << n << " servers of weight " << weight;
    }
  }
}

// What must hold whatever the rounding: multiples of 4, monotone in weight, within one digest
// (4 points) of the exact share, a total short of 160 per server by less than one digest each,
// and weight 0 counted as 1.
TEST(KetamaPoints, WeightedCountsFollowTheShare) {
  std::mt19937_64 rng(TestSeed("WeightedCountsFollowTheShare"));
  for (size_t n : ListSizes()) {
    for (Weights weights : {Weights::kUpToN, Weights::kSomeZero, Weights::kWide}) {
      std::vector<ServerAddress> servers =
          MakeList(n, {weights, Hosts::kNames, Ports::kDefault}, rng);
      KetamaRing ring(servers);
      std::vector<uint32_t> weight(n);
      std::vector<size_t> points(n);
      double total_weight = 0;
      size_t sum = 0;
      for (uint32_t i = 0; i < n; ++i) {
        weight[i] = std::max(servers[i].weight, 1u);
        points[i] = ring.PointsOf(i);
        total_weight += weight[i];
        sum += points[i];
      }
      for (uint32_t i = 0; i < n; ++i) {
        EXPECT_EQ(points[i] % 4, 0u) << Describe(servers);
        double exact = 160.0 * static_cast<double>(n) * weight[i] / total_weight;
        EXPECT_LE(points[i], exact + 0.01) << "server " << i << " of " << Describe(servers);
        EXPECT_GT(points[i], exact - 4.01) << "server " << i << " of " << Describe(servers);
      }
      std::vector<uint32_t> by_weight = Identity(n);
      std::sort(by_weight.begin(), by_weight.end(),
                [&](uint32_t a, uint32_t b) { return weight[a] < weight[b]; });
      for (size_t k = 1; k < n; ++k) {
        uint32_t lighter = by_weight[k - 1], heavier = by_weight[k];
        if (weight[lighter] == weight[heavier]) {
          EXPECT_EQ(points[lighter], points[heavier]) << Describe(servers);
        } else {
          EXPECT_LE(points[lighter], points[heavier]) << Describe(servers);
        }
      }
      EXPECT_EQ(ring.points(), sum);
      EXPECT_LE(sum, 160 * n) << Describe(servers);
      EXPECT_GE(sum, 156 * n) << Describe(servers);
    }
  }
}

TEST(KetamaPoints, NoneForDeadOrUnknownServers) {
  const std::vector<ServerAddress> servers = {{"a", 11211}, {"b", 11211}, {"c", 11211}};
  const bool live[] = {true, false, true};
  KetamaRing ring(servers, live);
  EXPECT_EQ(ring.PointsOf(1), 0u);
  EXPECT_EQ(ring.PointsOf(3), 0u);
  EXPECT_EQ(ring.PointsOf(KetamaRing::kNoServer), 0u);
  EXPECT_EQ(ring.points(), ring.PointsOf(0) + ring.PointsOf(2));
}

// A ring with some servers dead is libmemcached's (and twemproxy's) ring over the live ones
// alone, with the indexes of the full list.
TEST(KetamaEject, DeadServersAreLeftOutAsIfRemoved) {
  std::mt19937_64 rng(TestSeed("DeadServersAreLeftOutAsIfRemoved"));
  for (size_t n : {2, 3, 4, 5, 8, 13, 20, 50}) {
    for (const ListKind& kind : {kListKinds[0], kListKinds[3], kListKinds[4]}) {
      std::vector<ServerAddress> servers = MakeList(n, kind, rng);
      for (int trial = 0; trial < 6; ++trial) {
        // First one dead server, then random sets with at least one dead and one live.
        std::array<bool, kMaxServers> live;
        live.fill(true);
        size_t dead_one = Uniform(rng, 0, n - 1);
        if (trial >= 3) {
          for (size_t i = 0; i < n; ++i) live[i] = Uniform(rng, 0, 2) != 0;
          live[(dead_one + Uniform(rng, 1, n - 1)) % n] = true;
        }
        live[dead_one] = false;
        std::vector<ServerAddress> rest;
        std::vector<uint32_t> to_ring;
        std::string dead;
        for (uint32_t i = 0; i < n; ++i) {
          if (live[i]) {
            rest.push_back(servers[i]);
            to_ring.push_back(i);
          } else {
            dead += " " + std::to_string(i);
          }
        }
        KetamaRing ring(servers, std::span(live.data(), n));
        Libmemcached lm(rest);
        std::string list = Describe(servers) + "\ndead:" + dead;
        if (!SamePoints(ring, lm, to_ring, list) || !SameKeys(ring, lm, to_ring, rng, 300, list)) {
          return;
        }
      }
    }
  }
}

// Consistent hashing: when a server dies, only its keys move. It holds exactly when the
// survivors keep their points; at equal weights n and n - 1 servers can round to different
// counts (160 and 156), and then libmemcached moves other keys too.
TEST(KetamaEject, OnlyTheDeadServersKeysMove) {
  std::mt19937_64 rng(TestSeed("OnlyTheDeadServersKeysMove"));
  int checked = 0;
  for (size_t n = 2; n <= 20; ++n) {
    std::vector<ServerAddress> servers = MakeList(n, kListKinds[0], rng);
    KetamaRing full(servers);
    for (uint32_t dead = 0; dead < n; ++dead) {
      std::array<bool, kMaxServers> live;
      live.fill(true);
      live[dead] = false;
      KetamaRing ring(servers, std::span(live.data(), n));
      bool same_points = true;
      for (uint32_t i = 0; i < n; ++i) {
        same_points &= i == dead || ring.PointsOf(i) == full.PointsOf(i);
      }
      if (!same_points) continue;
      ++checked;
      for (int k = 0; k < 200; ++k) {
        std::string key = RandomKey(rng);
        uint32_t before = full.ServerFor(key);
        uint32_t after = ring.ServerFor(key);
        if (before == dead) {
          ASSERT_NE(after, dead) << Describe(servers);
        } else {
          ASSERT_EQ(after, before)
              << Describe(servers) << "\ndead " << dead << ", key \"" << Escape(key) << "\"";
        }
      }
    }
  }
  EXPECT_GT(checked, 0);
}

TEST(KetamaRing, NoLiveServer) {
  const std::vector<ServerAddress> servers = {{"a", 11211}, {"b", 11211}, {"c", 11211}};
  const bool dead[] = {false, false, false};
  for (const KetamaRing& ring :
       {KetamaRing(servers, dead), KetamaRing(std::span<const ServerAddress>())}) {
    EXPECT_EQ(ring.points(), 0u);
    EXPECT_EQ(ring.ServerFor("key"), KetamaRing::kNoServer);
    EXPECT_EQ(ring.ServerForHash(0), KetamaRing::kNoServer);
    EXPECT_EQ(ring.ServerForHash(UINT32_MAX), KetamaRing::kNoServer);
  }
}

TEST(KetamaRing, OneServerTakesEveryKey) {
  std::mt19937_64 rng(TestSeed("OneServerTakesEveryKey"));
  for (const ServerAddress& server : {ServerAddress{"a", 11211, 0}, ServerAddress{"a", 1, 1},
                                      ServerAddress{"::1", 11211, 1000}}) {
    KetamaRing ring(std::span(&server, 1));
    EXPECT_EQ(ring.PointsOf(0), 160u);
    EXPECT_EQ(ring.ServerForHash(0), 0u);
    EXPECT_EQ(ring.ServerForHash(UINT32_MAX), 0u);
    for (int k = 0; k < 1000; ++k) ASSERT_EQ(ring.ServerFor(RandomKey(rng)), 0u);
  }
  // And one live server of several.
  const std::vector<ServerAddress> servers = {{"a", 11211}, {"b", 11211}, {"c", 11211, 5}};
  const bool live[] = {false, true, false};
  KetamaRing ring(servers, live);
  EXPECT_EQ(ring.PointsOf(1), 160u);
  for (int k = 0; k < 1000; ++k) ASSERT_EQ(ring.ServerFor(RandomKey(rng)), 1u);
}

}  // namespace
}  // namespace spillway::client
