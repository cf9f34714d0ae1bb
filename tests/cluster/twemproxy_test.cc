// Three spillway nodes behind a real twemproxy (nutcracker, ketama over md5): keys land where
// spillway::client places them, and a killed node is ejected as it would be with memcached.

#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <fstream>
#include <iostream>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "client/client.h"
#include "client/ketama.h"
#include "tests/cluster/cluster_support.h"

namespace spillway::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr milliseconds kStartTimeout{10'000};
constexpr milliseconds kRetryTimeout{1000};  // nutcracker's server_retry_timeout

// A nutcracker in front of `server_ports`, listening on a free port of 127.0.0.1.
class Twemproxy {
 public:
  Twemproxy(const std::string& dir, const std::vector<int>& server_ports) : dir_(dir) {
    // A free port can be taken by someone else between PickFreePort and nutcracker's bind; then
    // nutcracker exits and another pair of ports is tried.
    for (int attempt = 0; attempt < 5 && port_ == 0; ++attempt) {
      if (!Start(attempt, server_ports)) break;
    }
  }
  int port() const { return port_; }
  std::string Log() const {
    std::ifstream in(dir_ + "/nutcracker.log");
    std::string log((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    return log + (process_ ? process_->Output() : "");
  }

 private:
  // Sets port_ when nutcracker came up; false when trying again cannot help.
  bool Start(int attempt, const std::vector<int>& server_ports) {
    const int listen = PickFreePort();
    int stats = PickFreePort();  // nutcracker's default, 22222, may be taken
    while (stats == listen) stats = PickFreePort();
    if (listen == 0 || stats == 0) return true;
    const std::string conf = dir_ + "/nutcracker-" + std::to_string(attempt) + ".yml";
    {
      std::ofstream out(conf);
      out << "spillway:\n"
          << "  listen: 127.0.0.1:" << listen << "\n"
          << "  hash: md5\n"
          << "  distribution: ketama\n"
          << "  auto_eject_hosts: true\n"
          << "  server_retry_timeout: " << kRetryTimeout.count() << "\n"
          << "  server_failure_limit: 1\n"
          << "  timeout: 1000\n"
          << "  servers:\n";
      for (const int port : server_ports) out << "   - 127.0.0.1:" << port << ":1\n";
    }
    ChildProcess check({SPILLWAY_NUTCRACKER, "-t", "-c", conf}, dir_ + "/check.log");
    const std::optional<int> checked = check.Wait(kStartTimeout);
    if (!checked || *checked != 0) {
      ADD_FAILURE() << "nutcracker -t rejects the configuration:\n" << check.Output();
      return false;
    }
    process_ = std::make_unique<ChildProcess>(
        std::vector<std::string>{SPILLWAY_NUTCRACKER, "-c", conf, "-o", dir_ + "/nutcracker.log",
                                 "-s", std::to_string(stats), "-a", "127.0.0.1"},
        dir_ + "/nutcracker.out");
    const auto deadline = steady_clock::now() + kStartTimeout;
    while (steady_clock::now() < deadline && process_->Running()) {
      if (Accepts(listen)) {
        port_ = listen;
        return true;
      }
      std::this_thread::sleep_for(milliseconds(10));  // only the polling interval
    }
    process_.reset();  // exited (a port was taken) or never listened: kill exactly it
    return true;
  }

  std::string dir_;
  std::unique_ptr<ChildProcess> process_;
  int port_ = 0;
};

class TwemproxyTest : public ClusterTest {
 protected:
  void SetUp() override {
    ClusterTest::SetUp();
    if (Stopped()) return;
    ASSERT_EQ(access(SPILLWAY_NUTCRACKER, X_OK), 0)
        << SPILLWAY_NUTCRACKER << " is missing: install Debian's nutcracker (tools/test does)";
    ASSERT_FALSE(dir_.path().empty());
    proxy_ = std::make_unique<Twemproxy>(dir_.path(), Ports());
    ASSERT_GT(proxy_->port(), 0) << "nutcracker did not start:\n" << proxy_->Log();
  }
  void TearDown() override {
    if (HasFailure() && proxy_) std::cerr << "---- nutcracker log ----\n" << proxy_->Log();
  }
  std::vector<int> Ports() const { return {nodes_->port(0), nodes_->port(1), nodes_->port(2)}; }
  // Writes `count` keys through the proxy; fills keys_ and values_.
  void WriteThroughProxy(int count) {
    for (int i = 0; i < count; ++i) {
      keys_.push_back(Key("tw", i));
      values_.push_back(Value("tw", i));
    }
    const std::vector<std::string> answers = PipelineSets(proxy_->port(), keys_, values_);
    ASSERT_EQ(answers.size(), keys_.size());
    for (size_t i = 0; i < answers.size(); ++i) ASSERT_EQ(answers[i], "STORED") << keys_[i];
  }

  TempDir dir_;
  std::unique_ptr<Twemproxy> proxy_;
  std::vector<std::string> keys_;
  std::vector<std::string> values_;
};

TEST_P(TwemproxyTest, PlacesKeysWhereSpillwayClientDoes) {
  constexpr int kKeys = 10'000;
  WriteThroughProxy(kKeys);
  const std::vector<GetAnswer> read = PipelineGets(proxy_->port(), keys_);
  for (size_t i = 0; i < keys_.size(); ++i) {
    ASSERT_EQ(read[i].value, values_[i]) << keys_[i] << " " << read[i].error;
  }

  EXPECT_TRUE(nodes_->EachHoldsAShare(kKeys));

  std::unique_ptr<client::Client> client;
  ASSERT_TRUE(client::Client::Create(nodes_->Addresses(), client::Options{}, &client).ok());
  const client::KetamaRing ring(nodes_->Addresses());
  std::vector<uint32_t> owner(keys_.size());
  for (size_t i = 0; i < keys_.size(); ++i) {
    owner[i] = client->ServerFor(keys_[i]);
    ASSERT_EQ(owner[i], ring.ServerFor(keys_[i])) << keys_[i];
  }
  // Each key, read straight from each node: a hit exactly on the node that ketama names.
  for (uint32_t n = 0; n < 3; ++n) {
    const std::vector<GetAnswer> direct = PipelineGets(nodes_->port(n), keys_);
    for (size_t i = 0; i < keys_.size(); ++i) {
      if (owner[i] == n) {
        ASSERT_EQ(direct[i].value, values_[i]) << keys_[i] << " is not on node " << n;
      } else {
        ASSERT_TRUE(direct[i].miss()) << keys_[i] << " is also on node " << n;
      }
    }
  }
}

TEST_P(TwemproxyTest, EjectsAKilledNodeAndRehashesItsKeys) {
  constexpr int kKeys = 3'000;
  constexpr uint32_t kVictim = 1;
  WriteThroughProxy(kKeys);
  const client::KetamaRing ring(nodes_->Addresses());
  std::vector<std::string> victim_keys, other_keys, other_values;
  for (size_t i = 0; i < keys_.size(); ++i) {
    if (ring.ServerFor(keys_[i]) == kVictim) {
      victim_keys.push_back(keys_[i]);
    } else {
      other_keys.push_back(keys_[i]);
      other_values.push_back(values_[i]);
    }
  }
  ASSERT_FALSE(victim_keys.empty());
  nodes_->node(kVictim).Kill();

  // What nutcracker 0.5.0 answers: a request that reaches the dead node gets an error line,
  // which with server_failure_limit 1 ejects the node: "SERVER_ERROR Connection refused" when
  // it connects anew, "SERVER_ERROR Connection reset by peer" for every request that went out on
  // the connection that broke. On epoll the node is usually ejected before any request, as
  // nutcracker counts the EOF on its idle connection as the failure; on io_uring the killed
  // node's sockets outlive its process by milliseconds, so the first batch often goes out on the
  // old connection and comes back reset. Once ejected, its keys hash to the surviving nodes,
  // which do not have them: a miss. A value never comes back.
  std::set<std::string> errors;
  size_t misses = 0;
  for (const GetAnswer& answer : PipelineGets(proxy_->port(), victim_keys)) {
    EXPECT_FALSE(answer.value) << "a dead node's key answered a value";
    if (answer.miss()) ++misses;
    if (!answer.error.empty()) {
      EXPECT_TRUE(answer.error.starts_with("SERVER_ERROR ")) << answer.error;
      errors.insert(answer.error);
    }
  }
  EXPECT_GT(misses, 0u) << "the dead node was never ejected";

  // The surviving nodes' keys keep their places and their values.
  const std::vector<GetAnswer> others = PipelineGets(proxy_->port(), other_keys);
  for (size_t i = 0; i < other_keys.size(); ++i) {
    EXPECT_EQ(others[i].value, other_values[i]) << other_keys[i] << " " << others[i].error;
  }

  // After server_retry_timeout nutcracker puts the node back and tries it: the request that
  // does answers SERVER_ERROR and ejects it again, so the next one misses.
  const auto deadline = steady_clock::now() + 5 * kRetryTimeout;
  std::string retried;
  while (retried.empty() && steady_clock::now() < deadline) {
    const GetAnswer answer = PipelineGets(proxy_->port(), {&victim_keys[0], 1})[0];
    ASSERT_FALSE(answer.value);
    if (answer.miss()) std::this_thread::sleep_for(milliseconds(20));  // the polling interval
    retried = answer.error;
  }
  EXPECT_EQ(retried, "SERVER_ERROR Connection refused");
  EXPECT_TRUE(PipelineGets(proxy_->port(), {&victim_keys[0], 1})[0].miss());
  errors.insert(retried);
  std::cout << "[ twemproxy ] errors for the dead node's keys:";
  for (const std::string& e : errors) std::cout << " \"" << e << "\"";
  std::cout << " (" << misses << " of " << victim_keys.size() << " first reads missed)\n";

  // Writes of the dead node's keys succeed through the proxy once it is ejected; a write that
  // meets one of the periodic retries gets SERVER_ERROR and is written again.
  std::vector<std::string> pending = victim_keys, new_values;
  for (size_t i = 0; i < victim_keys.size(); ++i) new_values.push_back("moved-" + victim_keys[i]);
  std::vector<std::string> pending_values = new_values;
  const auto write_deadline = steady_clock::now() + 5 * kRetryTimeout;
  while (!pending.empty() && steady_clock::now() < write_deadline) {
    const std::vector<std::string> answers = PipelineSets(proxy_->port(), pending, pending_values);
    ASSERT_EQ(answers.size(), pending.size());
    std::vector<std::string> again, again_values;
    for (size_t i = 0; i < answers.size(); ++i) {
      if (answers[i] == "STORED") continue;
      ASSERT_TRUE(answers[i].starts_with("SERVER_ERROR ")) << answers[i];
      again.push_back(pending[i]);
      again_values.push_back(pending_values[i]);
    }
    pending = std::move(again);
    pending_values = std::move(again_values);
  }
  ASSERT_TRUE(pending.empty()) << pending.size() << " writes never succeeded";

  // They landed where ketama without the dead node puts them.
  const bool live[] = {true, false, true};
  const client::KetamaRing survivors(nodes_->Addresses(), live);
  for (uint32_t n : {0u, 2u}) {
    std::vector<std::string> keys, values;
    for (size_t i = 0; i < victim_keys.size(); ++i) {
      if (survivors.ServerFor(victim_keys[i]) == n) {
        keys.push_back(victim_keys[i]);
        values.push_back(new_values[i]);
      }
    }
    const std::vector<GetAnswer> direct = PipelineGets(nodes_->port(n), keys);
    for (size_t i = 0; i < keys.size(); ++i) {
      EXPECT_EQ(direct[i].value, values[i]) << keys[i] << " is not on node " << n;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, TwemproxyTest, kBackends, BackendName);

}  // namespace
}  // namespace spillway::testing
