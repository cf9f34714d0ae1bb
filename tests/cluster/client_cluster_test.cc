// spillway::client::Client over three spillway nodes: everything it writes reads back, spread
// over all nodes, each key on the node that its ServerFor (and KetamaRing) names.

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "client/client.h"
#include "client/ketama.h"
#include "tests/cluster/cluster_support.h"

namespace spillway::testing {
namespace {

class ClientClusterTest : public ClusterTest {
 protected:
  void SetUp() override {
    ClusterTest::SetUp();
    if (Stopped()) return;
    ASSERT_TRUE(client::Client::Create(nodes_->Addresses(), client::Options{}, &client_).ok());
  }
  std::unique_ptr<client::Client> client_;
};

TEST_P(ClientClusterTest, SpreadsKeysWhereKetamaPlacesThem) {
  constexpr int kKeys = 10'000;
  std::vector<std::string> keys;
  std::map<std::string, std::string> values;
  for (int i = 0; i < kKeys; ++i) {
    keys.push_back(Key("cc", i));
    values[keys.back()] = Value("cc", i);
    client::StoreResult result;
    const client::Status s =
        client_->Set(keys.back(), values[keys.back()], static_cast<uint32_t>(i % 7), 0, &result);
    ASSERT_TRUE(s.ok()) << keys.back() << ": " << s.ToString();
    ASSERT_EQ(result, client::StoreResult::kStored) << keys.back();
  }

  std::vector<client::Item> items;
  const client::Status s = client_->GetMulti(keys, &items);
  ASSERT_TRUE(s.ok()) << s.ToString();
  ASSERT_EQ(items.size(), keys.size());
  std::set<std::string> seen;
  for (const client::Item& item : items) {
    ASSERT_TRUE(values.contains(item.key)) << item.key;
    ASSERT_TRUE(seen.insert(item.key).second) << item.key << " came back twice";
    EXPECT_EQ(item.value, values[item.key]) << item.key;
    EXPECT_EQ(item.flags, std::stoul(item.key.substr(3)) % 7) << item.key;
  }

  EXPECT_TRUE(nodes_->EachHoldsAShare(kKeys));

  // Straight from the node that ServerFor names, which is the one KetamaRing names.
  const client::KetamaRing ring(nodes_->Addresses());
  std::vector<std::vector<std::string>> keys_of(3);
  for (const std::string& key : keys) {
    const uint32_t owner = client_->ServerFor(key);
    ASSERT_EQ(owner, ring.ServerFor(key)) << key;
    ASSERT_LT(owner, 3u) << key;
    keys_of[owner].push_back(key);
  }
  for (size_t n = 0; n < 3; ++n) {
    const std::vector<GetAnswer> direct = PipelineGets(nodes_->port(n), keys_of[n]);
    for (size_t i = 0; i < keys_of[n].size(); ++i) {
      ASSERT_EQ(direct[i].value, values[keys_of[n][i]])
          << keys_of[n][i] << " is not on node " << n << " " << direct[i].error;
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, ClientClusterTest, kBackends, BackendName);

}  // namespace
}  // namespace spillway::testing
