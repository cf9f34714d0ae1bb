// libmemcached itself (the C client under pylibmc, php-memcached and the mem* tools), with
// MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED, over real sockets to three spillway nodes: what it writes,
// spillway::client::Client reads back from the same nodes, and the other way round. The unit test
// checks the two agree on placement; this one checks they agree through real servers.

#include <gtest/gtest.h>
#include <libmemcached/memcached.h>

#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "client/client.h"
#include "tests/cluster/cluster_support.h"

namespace spillway::testing {
namespace {

constexpr int kKeys = 2'000;

class LibmemcachedClusterTest : public ClusterTest {
 protected:
  void SetUp() override {
    ClusterTest::SetUp();
    if (Stopped()) return;
    memc_ = memcached_create(nullptr);
    ASSERT_NE(memc_, nullptr);
    ASSERT_EQ(memcached_behavior_set(memc_, MEMCACHED_BEHAVIOR_KETAMA_WEIGHTED, 1),
              MEMCACHED_SUCCESS);
    for (const client::ServerAddress& a : nodes_->Addresses()) {
      ASSERT_EQ(memcached_server_add_with_weight(memc_, a.host.c_str(), a.port, a.weight),
                MEMCACHED_SUCCESS);
    }
    ASSERT_TRUE(client::Client::Create(nodes_->Addresses(), client::Options{}, &client_).ok());
  }
  void TearDown() override {
    if (memc_ != nullptr) memcached_free(memc_);
  }

  memcached_st* memc_ = nullptr;
  std::unique_ptr<client::Client> client_;
};

TEST_P(LibmemcachedClusterTest, WhatOneWritesTheOtherReads) {
  // libmemcached writes; spillway::Client reads.
  for (int i = 0; i < kKeys; ++i) {
    const std::string key = Key("lm", i), value = Value("lm", i);
    ASSERT_EQ(memcached_set(memc_, key.data(), key.size(), value.data(), value.size(), 0,
                            static_cast<uint32_t>(i)),
              MEMCACHED_SUCCESS)
        << key << ": " << memcached_last_error_message(memc_);
  }
  for (int i = 0; i < kKeys; ++i) {
    const std::string key = Key("lm", i);
    std::optional<client::Item> item;
    const client::Status s = client_->Get(key, &item);
    ASSERT_TRUE(s.ok()) << key << ": " << s.ToString();
    ASSERT_TRUE(item.has_value()) << key << " written by libmemcached is not where ketama says";
    EXPECT_EQ(item->value, Value("lm", i)) << key;
    EXPECT_EQ(item->flags, static_cast<uint32_t>(i)) << key;
  }
  // spillway::Client writes; libmemcached reads.
  for (int i = 0; i < kKeys; ++i) {
    const client::Status s = client_->Set(Key("sc", i), Value("sc", i));
    ASSERT_TRUE(s.ok()) << s.ToString();
  }
  for (int i = 0; i < kKeys; ++i) {
    const std::string key = Key("sc", i);
    size_t length = 0;
    uint32_t flags = 0;
    memcached_return_t rc;
    char* value = memcached_get(memc_, key.data(), key.size(), &length, &flags, &rc);
    ASSERT_EQ(rc, MEMCACHED_SUCCESS) << key << ": " << memcached_strerror(memc_, rc);
    ASSERT_NE(value, nullptr);
    EXPECT_EQ(std::string(value, length), Value("sc", i)) << key;
    std::free(value);
  }
  EXPECT_TRUE(nodes_->EachHoldsAShare(2 * kKeys));
}

INSTANTIATE_TEST_SUITE_P(Backends, LibmemcachedClusterTest, kBackends, BackendName);

}  // namespace
}  // namespace spillway::testing
