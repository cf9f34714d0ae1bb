// spillway::client::Client when a node dies mid-run and comes back on the same port: with
// auto-eject its keys move to the next ketama point and back; without, they fail fast with
// kServerDown until the retry interval ends. Time is a fake clock the test advances, so that no
// test waits out a retry interval.

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "client/client.h"
#include "client/ketama.h"
#include "tests/cluster/cluster_support.h"

namespace spillway::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr int kKeys = 600;
constexpr uint32_t kVictim = 1;
constexpr uint32_t kFailureLimit = 2;
constexpr milliseconds kRetryInterval{5000};

// Stands still until the test moves it.
class FakeClock {
 public:
  steady_clock::time_point Now() const { return start_ + milliseconds(offset_ms_.load()); }
  void Advance(milliseconds by) { offset_ms_ += by.count(); }

 private:
  const steady_clock::time_point start_ = steady_clock::now();
  std::atomic<int64_t> offset_ms_{0};
};

class FailoverTest : public ClusterTest {
 protected:
  std::unique_ptr<client::Client> MakeClient(bool auto_eject) {
    client::Options options;
    options.failure_limit = kFailureLimit;
    options.retry_interval = kRetryInterval;
    options.auto_eject = auto_eject;
    options.clock = [this] { return clock_.Now(); };
    std::unique_ptr<client::Client> client;
    EXPECT_TRUE(client::Client::Create(nodes_->Addresses(), options, &client).ok());
    return client;
  }

  // Writes kKeys keys and sorts them into the victim's and the others'.
  void WriteKeys(client::Client& client) {
    for (int i = 0; i < kKeys; ++i) {
      const std::string key = Key("fo", i);
      const client::Status s = client.Set(key, Value("fo", i));
      ASSERT_TRUE(s.ok()) << key << ": " << s.ToString();
      if (client.ServerFor(key) == kVictim) {
        victim_keys_.push_back(key);
      } else {
        other_keys_.push_back(key);
        other_values_.push_back(Value("fo", i));
      }
    }
    ASSERT_GT(victim_keys_.size(), kFailureLimit + 4);
  }

  // The other nodes' keys still read back their values.
  void ExpectOthersHit(client::Client& client) {
    for (size_t i = 0; i < other_keys_.size(); ++i) {
      std::optional<client::Item> item;
      const client::Status s = client.Get(other_keys_[i], &item);
      ASSERT_TRUE(s.ok()) << other_keys_[i] << ": " << s.ToString();
      ASSERT_TRUE(item) << other_keys_[i];
      EXPECT_EQ(item->value, other_values_[i]) << other_keys_[i];
    }
  }

  // Requests for the dead victim's keys fail as server failures; it is down after exactly
  // kFailureLimit of them.
  void FailUntilDown(client::Client& client) {
    for (uint32_t i = 0; i < kFailureLimit; ++i) {
      EXPECT_FALSE(client.IsDown(kVictim)) << "down after " << i << " failed requests";
      std::optional<client::Item> item;
      const client::Status s = client.Get(victim_keys_[i], &item);
      EXPECT_FALSE(s.ok()) << victim_keys_[i];
      EXPECT_TRUE(s.IsServerFailure()) << s.ToString();
      EXPECT_NE(s.code(), client::StatusCode::kServerDown) << "failed without trying";
    }
    EXPECT_TRUE(client.IsDown(kVictim));
  }

  // Sets `key` through the client and reads it straight from node `n`.
  void ExpectSetLandsOn(client::Client& client, const std::string& key, uint32_t n) {
    const std::string value = "after-" + key;
    const client::Status s = client.Set(key, value);
    ASSERT_TRUE(s.ok()) << key << ": " << s.ToString();
    std::optional<client::Item> item;
    ASSERT_TRUE(client.Get(key, &item).ok()) << key;
    ASSERT_TRUE(item) << key;
    EXPECT_EQ(item->value, value);
    const GetAnswer direct = PipelineGets(nodes_->port(n), {&key, 1})[0];
    EXPECT_EQ(direct.value, value) << key << " is not on node " << n << " " << direct.error;
  }

  FakeClock clock_;
  std::vector<std::string> victim_keys_, other_keys_, other_values_;
};

TEST_P(FailoverTest, AutoEjectMovesKeysToTheNextPointAndBack) {
  std::unique_ptr<client::Client> client = MakeClient(true);
  ASSERT_TRUE(client);
  WriteKeys(*client);
  const int victim_port = nodes_->port(kVictim);
  ASSERT_EQ(nodes_->node(kVictim).Stop(), 0);

  FailUntilDown(*client);
  const bool live[] = {true, false, true};
  const client::KetamaRing survivors(nodes_->Addresses(), live);
  for (const std::string& key : victim_keys_) {
    const uint32_t next = client->ServerFor(key);
    ASSERT_EQ(next, survivors.ServerFor(key)) << key;
    ASSERT_NE(next, kVictim) << key;
    ExpectSetLandsOn(*client, key, next);
  }
  ExpectOthersHit(*client);

  // Back on its old port (the same ketama points); the client does not look before the
  // interval is over.
  ASSERT_TRUE(nodes_->Restart(kVictim)) << "could not restart on port " << victim_port;
  EXPECT_TRUE(client->IsDown(kVictim));
  EXPECT_NE(client->ServerFor(victim_keys_[0]), kVictim);

  clock_.Advance(kRetryInterval + milliseconds(1));
  EXPECT_FALSE(client->IsDown(kVictim));
  const client::KetamaRing all(nodes_->Addresses());
  for (const std::string& key : victim_keys_) {
    ASSERT_EQ(client->ServerFor(key), kVictim) << key;
    ExpectSetLandsOn(*client, key, kVictim);
  }
  EXPECT_FALSE(client->IsDown(kVictim));
  for (const std::string& key : other_keys_) ASSERT_EQ(client->ServerFor(key), all.ServerFor(key));
  ExpectOthersHit(*client);
}

TEST_P(FailoverTest, WithoutAutoEjectADownNodeFailsFastUntilTheInterval) {
  std::unique_ptr<client::Client> client = MakeClient(false);
  ASSERT_TRUE(client);
  WriteKeys(*client);
  nodes_->node(kVictim).Kill();

  FailUntilDown(*client);
  // kServerDown, not kConnectFailed: the client did not even try the node.
  for (size_t i = kFailureLimit; i < kFailureLimit + 4; ++i) {
    const std::string& key = victim_keys_[i];
    EXPECT_EQ(client->ServerFor(key), kVictim) << "the ring changed without auto-eject";
    std::optional<client::Item> item;
    EXPECT_EQ(client->Get(key, &item).code(), client::StatusCode::kServerDown) << key;
    EXPECT_EQ(client->Set(key, "x").code(), client::StatusCode::kServerDown) << key;
  }
  ExpectOthersHit(*client);

  // GetMulti still brings every other node's hits, and names the failure.
  std::vector<std::string> all_keys = other_keys_;
  all_keys.insert(all_keys.end(), victim_keys_.begin(), victim_keys_.end());
  std::vector<client::Item> items;
  EXPECT_EQ(client->GetMulti(all_keys, &items).code(), client::StatusCode::kServerDown);
  std::set<std::string> hit;
  for (const client::Item& item : items) hit.insert(item.key);
  EXPECT_EQ(hit, std::set<std::string>(other_keys_.begin(), other_keys_.end()));

  // The interval over, the client tries the node again; still dead, one failure takes it down
  // again (probation).
  clock_.Advance(kRetryInterval + milliseconds(1));
  std::optional<client::Item> item;
  const client::Status retried = client->Get(victim_keys_[0], &item);
  EXPECT_TRUE(retried.IsServerFailure()) << retried.ToString();
  EXPECT_NE(retried.code(), client::StatusCode::kServerDown) << retried.ToString();
  EXPECT_TRUE(client->IsDown(kVictim));
  EXPECT_EQ(client->Get(victim_keys_[0], &item).code(), client::StatusCode::kServerDown);

  // Restarted (empty) on its port, and the interval over: its keys are served by it again.
  ASSERT_TRUE(nodes_->Restart(kVictim));
  clock_.Advance(kRetryInterval + milliseconds(1));
  const client::Status after = client->Get(victim_keys_[0], &item);
  EXPECT_TRUE(after.ok()) << after.ToString();
  EXPECT_FALSE(item) << "a fresh node had the key";
  EXPECT_FALSE(client->IsDown(kVictim));
  for (size_t i = 0; i < kFailureLimit + 4; ++i)
    ExpectSetLandsOn(*client, victim_keys_[i], kVictim);
  ExpectOthersHit(*client);
}

INSTANTIATE_TEST_SUITE_P(Backends, FailoverTest, kBackends, BackendName);

}  // namespace
}  // namespace spillway::testing
