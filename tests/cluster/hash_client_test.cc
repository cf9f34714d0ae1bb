// pymemcache's HashClient (Debian's python3-pymemcache) over three spillway nodes, run as
// hash_client.py: its own hasher round-trips; with a libmemcached-style ketama hasher it finds
// what spillway::client::Client wrote, and the C++ side finds what it wrote.

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "client/client.h"
#include "tests/cluster/cluster_support.h"

namespace spillway::testing {
namespace {

constexpr int kKeys = 300;
// pymemcache is slow to import and the nodes may run under ASan; still bounded.
constexpr std::chrono::milliseconds kScriptTimeout{60'000};

class HashClientTest : public ClusterTest {
 protected:
  void SetUp() override {
    ClusterTest::SetUp();
    if (Stopped()) return;
    ASSERT_EQ(access(SPILLWAY_PYTHON3, X_OK), 0) << SPILLWAY_PYTHON3 << " is missing";
    ASSERT_TRUE(client::Client::Create(nodes_->Addresses(), client::Options{}, &client_).ok());
  }
  std::unique_ptr<client::Client> client_;
};

TEST_P(HashClientTest, PymemcacheAndSpillwayClientAgree) {
  for (int i = 0; i < kKeys; ++i) {
    const client::Status s = client_->Set(Key("cxx", i), "cxx-value-" + std::to_string(i));
    ASSERT_TRUE(s.ok()) << s.ToString();
  }

  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  std::vector<std::string> argv = {SPILLWAY_PYTHON3, SPILLWAY_HASH_CLIENT_PY, "--keys",
                                   std::to_string(kKeys)};
  for (size_t n = 0; n < nodes_->size(); ++n) argv.push_back(std::to_string(nodes_->port(n)));
  ChildProcess script(argv, dir.path() + "/hash_client.out");
  const std::optional<int> status = script.Wait(kScriptTimeout);
  ASSERT_TRUE(status) << "hash_client.py did not finish in time:\n" << script.Output();
  ASSERT_TRUE(WIFEXITED(*status) && WEXITSTATUS(*status) == 0)
      << "hash_client.py failed (wait status " << *status << "):\n"
      << script.Output();

  // What pymemcache wrote with its ketama hasher, where spillway::client looks for it.
  std::vector<std::string> keys;
  for (int i = 0; i < kKeys; ++i) keys.push_back(Key("py", i));
  std::vector<client::Item> items;
  const client::Status s = client_->GetMulti(keys, &items);
  ASSERT_TRUE(s.ok()) << s.ToString();
  std::map<std::string, std::string> got;
  for (const client::Item& item : items) got[item.key] = item.value;
  for (int i = 0; i < kKeys; ++i) {
    EXPECT_EQ(got[keys[i]], "py-value-" + std::to_string(i)) << keys[i] << " missed";
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, HashClientTest, kBackends, BackendName);

}  // namespace
}  // namespace spillway::testing
