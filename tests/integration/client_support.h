// The fixture and helpers of the client library's integration tests (client_test.cc: each
// command; client_load_test.cc: many keys, many servers, threads; client_failure_test.cc: absent,
// silent and broken servers).

#ifndef SPILLWAY_TESTS_INTEGRATION_CLIENT_SUPPORT_H_
#define SPILLWAY_TESTS_INTEGRATION_CLIENT_SUPPORT_H_

#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "client/client.h"
#include "tests/integration/server_process.h"

namespace spillway::client {

// So that a mismatched code prints its name, not a byte.
inline void PrintTo(StatusCode code, std::ostream* os) { *os << StatusCodeName(code); }

}  // namespace spillway::client

namespace spillway::testing {

using client::Item;
using client::MetaResult;
using client::Status;
using client::StatusCode;
using client::StoreResult;
using CacheClient = client::Client;
using Retrieval = client::Client::Retrieval;

inline ::testing::AssertionResult IsOk(const Status& s) {
  if (s.ok()) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << s.ToString();
}

// A storage call's outcome as memcached's word, or the failure, so that a mismatch names it.
// `result` is a reference so that it is read after the call that fills it.
inline std::string Outcome(const Status& s, const StoreResult& result) {
  if (!s.ok()) return s.ToString();
  switch (result) {
    case StoreResult::kStored:
      return "STORED";
    case StoreResult::kNotStored:
      return "NOT_STORED";
    case StoreResult::kExists:
      return "EXISTS";
    case StoreResult::kNotFound:
      return "NOT_FOUND";
  }
  return "?";
}

// A meta call's outcome as the protocol's code ("VA", "HD", "EN"...), or the failure.
inline std::string Outcome(const Status& s, const MetaResult& result) {
  return s.ok() ? std::string(protocol::ResponseWord(result.code)) : s.ToString();
}

inline std::map<std::string, std::string> AsMap(
    const std::vector<std::pair<std::string, std::string>>& v) {
  return std::map<std::string, std::string>(v.begin(), v.end());
}

class ClientTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "uring" && !UringUsable()) {
      GTEST_SKIP() << "io_uring is not usable on this kernel (spillway --io=uring says why)";
    }
  }

  // Starts `count` servers on the backend under test (two shards each, so that keys cross
  // shards) and a Client of them, in that order.
  void Start(size_t count, const client::Options& options = client::Options()) {
    std::vector<client::ServerAddress> addresses;
    for (size_t i = 0; i < count; ++i) {
      servers_.push_back(std::make_unique<ServerProcess>(
          std::vector<std::string>{"--io=" + GetParam(), "--threads=2", "--memory_limit=64"}));
      ASSERT_GT(servers_.back()->port(), 0) << "the server did not start";
      addresses.push_back({"127.0.0.1", static_cast<uint16_t>(servers_.back()->port()), 1});
    }
    ASSERT_TRUE(IsOk(CacheClient::Create(addresses, options, &client_)));
    ASSERT_NE(client_, nullptr);
  }

  // What Get answers for `key`: the value, "<miss>", or the failure.
  std::string ValueOf(std::string_view key) {
    std::optional<Item> item;
    const Status s = client_->Get(key, &item);
    if (!s.ok()) return s.ToString();
    return item ? item->value : "<miss>";
  }

  // Server `index`'s stats group `group` through the client under test.
  std::map<std::string, std::string> StatsOf(size_t index, std::string_view group = "") {
    std::vector<std::pair<std::string, std::string>> stats;
    EXPECT_TRUE(IsOk(client_->Stats(index, group, &stats)));
    return AsMap(stats);
  }

  size_t ItemSizeMax() { return std::stoul(StatsOf(0, "settings")["item_size_max"]); }

  std::vector<std::unique_ptr<ServerProcess>> servers_;
  std::unique_ptr<CacheClient> client_;  // declared last: it goes before the servers do
};

}  // namespace spillway::testing

#endif  // SPILLWAY_TESTS_INTEGRATION_CLIENT_SUPPORT_H_
