// spillway-bench on several servers: every key goes where the client's ketama ring puts its wire
// text, a multi-get is split into per-server pieces that cover its keys exactly once in request
// order, split gets complete with their last piece, and the server list and report carry it.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "client/ketama.h"
#include "tools/bench/keys.h"
#include "tools/bench/net.h"
#include "tools/bench/report.h"
#include "tools/bench/route.h"

namespace spillway::bench {
namespace {

std::vector<ServerAddress> Servers(const std::string& list) {
  std::vector<ServerAddress> servers;
  std::string error;
  EXPECT_TRUE(ParseServers(list, &servers, &error)) << error;
  return servers;
}

std::string Key(const std::string& prefix, uint64_t index) {
  std::string key;
  AppendKey(prefix, index, &key);
  return key;
}

TEST(BenchKetamaTest, EveryKeyGoesWhereTheRingPutsItsWireText) {
  for (const std::string list : {"127.0.0.1:21001,127.0.0.1:21002,127.0.0.1:21003",
                                 "10.0.0.1:11211:1,10.0.0.2:11211:3,10.0.0.3:11212:2"}) {
    SCOPED_TRACE(list);
    const std::vector<ServerAddress> servers = Servers(list);
    const client::KetamaRing ring(servers);
    constexpr uint64_t kKeys = 20000;
    const Router router(servers, "bench:", kKeys);
    std::vector<int> per_server(servers.size());
    // Twice: the first computes each key's server, the second reads the memo.
    for (int pass = 0; pass < 2; ++pass) {
      for (uint64_t k = 0; k < kKeys; ++k) {
        const uint32_t s = router.ServerOf(k);
        ASSERT_EQ(s, ring.ServerFor(Key("bench:", k))) << "key " << k << " pass " << pass;
        if (pass == 0) ++per_server[s];
      }
    }
    for (int n : per_server) EXPECT_GT(n, static_cast<int>(kKeys) / 10) << "a server got no share";
    // Past the key space (no memo) the ring is asked directly.
    for (uint64_t k = kKeys; k < kKeys + 1000; ++k) {
      ASSERT_EQ(router.ServerOf(k), ring.ServerFor(Key("bench:", k)));
    }
  }
}

TEST(BenchKetamaTest, WeightsShiftTheShare) {
  const std::vector<ServerAddress> servers = Servers("a:1:1,b:1:4");
  const Router router(servers, "key:", 50000);
  int heavy = 0;
  for (uint64_t k = 0; k < 50000; ++k) heavy += router.ServerOf(k) == 1 ? 1 : 0;
  EXPECT_NEAR(heavy / 50000.0, 0.8, 0.05);
}

// Threads fill the memo concurrently; each sees the ring's answer.
TEST(BenchKetamaTest, TheMemoIsSharedBetweenThreads) {
  const std::vector<ServerAddress> servers = Servers("h1:1,h2:2,h3:3,h4:4");
  const client::KetamaRing ring(servers);
  const Router router(servers, "key:", 4000);
  std::vector<std::vector<uint32_t>> seen(2);
  std::vector<std::thread> threads;
  for (auto& v : seen) {
    threads.emplace_back([&router, &v] {
      for (uint64_t k = 0; k < 4000; ++k) v.push_back(router.ServerOf(k));
    });
  }
  for (auto& t : threads) t.join();
  for (uint64_t k = 0; k < 4000; ++k) {
    const uint32_t expected = ring.ServerFor(Key("key:", k));
    ASSERT_EQ(seen[0][k], expected);
    ASSERT_EQ(seen[1][k], expected);
  }
}

// Pieces are contiguous and cover the keys exactly once; each holds only its server's keys, in
// request order (replies come in that order); no server has two pieces.
void CheckSplit(const Router& router, const std::vector<uint64_t>& keys, const SplitGet& split) {
  ASSERT_EQ(split.keys().size(), keys.size());
  uint32_t next = 0;
  std::set<uint32_t> servers;
  for (const SplitGet::Piece& p : split.pieces()) {
    ASSERT_EQ(p.begin, next);
    ASSERT_GT(p.end, p.begin) << "an empty piece";
    next = p.end;
    EXPECT_TRUE(servers.insert(p.server).second) << "two pieces for server " << p.server;
    std::vector<uint64_t> expected;
    for (uint64_t k : keys) {
      if (router.ServerOf(k) == p.server) expected.push_back(k);
    }
    const std::vector<uint64_t> got(split.keys().begin() + p.begin, split.keys().begin() + p.end);
    EXPECT_EQ(got, expected) << "server " << p.server;
  }
  EXPECT_EQ(next, keys.size());
  std::vector<uint64_t> sorted_in = keys;
  std::vector<uint64_t> sorted_out(split.keys().begin(), split.keys().end());
  std::sort(sorted_in.begin(), sorted_in.end());
  std::sort(sorted_out.begin(), sorted_out.end());
  EXPECT_EQ(sorted_out, sorted_in);
}

TEST(BenchKetamaTest, SplitCoversEveryKeyOnceByServerInRequestOrder) {
  const std::vector<ServerAddress> servers = Servers("127.0.0.1:1,127.0.0.1:2,127.0.0.1:3");
  const Router router(servers, "key:", 1000);
  Rng rng(7);
  SplitGet split;  // reused, as a worker reuses it
  for (int round = 0; round < 300; ++round) {
    const size_t n = 1 + rng.Below(round < 100 ? 4 : 60);
    std::vector<uint64_t> keys(n);
    for (uint64_t& k : keys) k = rng.Below(round % 2 == 0 ? 1000 : 20);  // duplicates too
    split.Split(router, keys);
    SCOPED_TRACE("round " + std::to_string(round));
    CheckSplit(router, keys, split);
    ASSERT_FALSE(HasFatalFailure());
  }
}

TEST(BenchKetamaTest, SplitOfOneServersKeysIsOnePiece) {
  const std::vector<ServerAddress> servers = Servers("a:1,b:2");
  const Router router(servers, "key:", 100);
  std::vector<uint64_t> same;
  for (uint64_t k = 0; k < 100 && same.size() < 5; ++k) {
    if (router.ServerOf(k) == 1) same.push_back(k);
  }
  SplitGet split;
  split.Split(router, same);
  ASSERT_EQ(split.pieces().size(), 1u);
  EXPECT_EQ(split.pieces()[0].server, 1u);
  EXPECT_EQ(std::vector<uint64_t>(split.keys().begin(), split.keys().end()), same);
}

TEST(BenchKetamaTest, ASplitGetCompletesWithItsLastPiece) {
  Batches batches;
  int64_t start = 0;
  bool complete = false;
  const uint32_t a = batches.Open(100, 3);
  const uint32_t b = batches.Open(200, 2);
  EXPECT_EQ(batches.open(), 2u);
  EXPECT_FALSE(batches.Close(a, true, &start, &complete));
  EXPECT_FALSE(batches.Close(b, false, &start, &complete));  // b lost a piece
  EXPECT_FALSE(batches.Close(a, true, &start, &complete));
  EXPECT_TRUE(batches.Close(a, true, &start, &complete));
  EXPECT_EQ(start, 100);
  EXPECT_TRUE(complete);
  EXPECT_TRUE(batches.Close(b, true, &start, &complete));
  EXPECT_EQ(start, 200);
  EXPECT_FALSE(complete) << "a get with a lost piece is not an answered get";
  EXPECT_EQ(batches.open(), 0u);
  const uint32_t c = batches.Open(300, 1);
  EXPECT_TRUE(c == a || c == b) << "ids are reused";
}

TEST(BenchKetamaTest, ParsesServersWithWeights) {
  std::vector<ServerAddress> servers;
  std::string error;
  ASSERT_TRUE(ParseServers("127.0.0.1:11211", &servers, &error)) << error;
  ASSERT_EQ(servers.size(), 1u);
  EXPECT_EQ(servers[0].host, "127.0.0.1");
  EXPECT_EQ(servers[0].port, 11211);
  EXPECT_EQ(servers[0].weight, 1u);
  ASSERT_TRUE(ParseServers("a:1:5,[::1]:2,localhost:3", &servers, &error)) << error;
  ASSERT_EQ(servers.size(), 3u);
  EXPECT_EQ(servers[0].weight, 5u);
  EXPECT_EQ(servers[1].host, "::1");
  EXPECT_EQ(servers[1].port, 2);
  EXPECT_EQ(servers[2].host, "localhost");
  for (const char* bad : {"", "a:x", "a:1:w", "a:70000", ":1", "a:1,b:"}) {
    EXPECT_FALSE(ParseServers(bad, &servers, &error)) << bad;
    EXPECT_FALSE(error.empty()) << bad;
  }
}

TEST(BenchKetamaTest, TheReportShowsEachServersShare) {
  BenchOptions o;
  o.servers = Servers("127.0.0.1:1,127.0.0.1:2:3");
  RunResult r;
  r.measured.servers = {{30, 40}, {90, 100}};
  Stats other;
  other.servers = {{10, 10}, {0, 0}};
  r.measured.Merge(other);
  const std::string text = FormatText(o, r);
  EXPECT_NE(text.find("x 2 servers"), std::string::npos) << text;
  EXPECT_NE(text.find("server 127.0.0.1:1 weight 1: 40 requests sent (30.8%), 50 keys"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("server 127.0.0.1:2 weight 3: 90 requests sent (69.2%), 100 keys"),
            std::string::npos)
      << text;
  const std::string json = FormatJson(o, r);
  EXPECT_NE(json.find("{\"server\": \"127.0.0.1:2\", \"weight\": 3, \"requests_sent\": 90, "
                      "\"keys_sent\": 100}"),
            std::string::npos)
      << json;
  // One server: the report is as it always was.
  o.servers.resize(1);
  r.measured.servers.clear();
  EXPECT_EQ(FormatText(o, r).find("server "), std::string::npos);
  EXPECT_EQ(FormatJson(o, r).find("\"servers\""), std::string::npos);
}

}  // namespace
}  // namespace spillway::bench
