// Health: failures in a row take a server down, the ring leaves it out (auto_eject) or its keys
// fail fast, and it comes back on probation when its interval ends. The clock is the test's.

#include "client/health.h"

#include <gtest/gtest.h>

#include <string>

namespace spillway::client {
namespace {

using Clock = std::chrono::steady_clock;

class HealthTest : public ::testing::Test {
 protected:
  HealthTest() {
    for (int i = 0; i < 3; ++i) servers_.push_back({"10.0.0." + std::to_string(i + 1), 11211, 1});
    options_.failure_limit = 2;
    options_.retry_interval = std::chrono::seconds(10);
    options_.clock = [this] { return now_; };
  }

  // The server of every key in a sample, as Route answers.
  std::vector<size_t> Placement(Health& health) {
    std::vector<size_t> placed;
    for (int k = 0; k < 2000; ++k) {
      size_t index = 99;
      Status s = health.Route(KetamaRing::Hash("key:" + std::to_string(k)), &index);
      placed.push_back(s.ok() ? index : 99);
    }
    return placed;
  }
  std::vector<size_t> RingPlacement(const bool* live) {
    KetamaRing ring(servers_, std::span<const bool>(live, servers_.size()));
    std::vector<size_t> placed;
    for (int k = 0; k < 2000; ++k) placed.push_back(ring.ServerFor("key:" + std::to_string(k)));
    return placed;
  }

  std::vector<ServerAddress> servers_;
  Options options_;
  Clock::time_point now_ = Clock::time_point() + std::chrono::hours(1);
};

TEST_F(HealthTest, FailuresInARowEjectAndTheKeysMoveToTheNextPoint) {
  Health health(servers_, options_);
  const bool all[] = {true, true, true};
  const bool without_1[] = {true, false, true};
  EXPECT_EQ(Placement(health), RingPlacement(all));

  health.Failed(1);
  EXPECT_FALSE(health.IsDown(1));  // one failure is below the limit
  EXPECT_EQ(Placement(health), RingPlacement(all));
  health.Failed(1);
  EXPECT_TRUE(health.IsDown(1));
  EXPECT_EQ(Placement(health), RingPlacement(without_1));

  // Still down just before the interval ends; back (and in the ring) once it has.
  now_ += options_.retry_interval - std::chrono::milliseconds(1);
  EXPECT_TRUE(health.IsDown(1));
  now_ += std::chrono::milliseconds(1);
  EXPECT_FALSE(health.IsDown(1));
  EXPECT_EQ(Placement(health), RingPlacement(all));
}

TEST_F(HealthTest, ASuccessClearsTheCount) {
  Health health(servers_, options_);
  health.Failed(0);
  health.Succeeded(0);
  health.Failed(0);
  EXPECT_FALSE(health.IsDown(0));
  health.Failed(0);
  EXPECT_TRUE(health.IsDown(0));
}

TEST_F(HealthTest, ABackServerIsOnProbation) {
  Health health(servers_, options_);
  health.Failed(2);
  health.Failed(2);
  now_ += options_.retry_interval;
  ASSERT_FALSE(health.IsDown(2));
  health.Failed(2);  // one failure is enough on probation
  EXPECT_TRUE(health.IsDown(2));

  now_ += options_.retry_interval;
  ASSERT_FALSE(health.IsDown(2));
  health.Succeeded(2);  // a success ends probation: the full limit applies again
  health.Failed(2);
  EXPECT_FALSE(health.IsDown(2));
}

TEST_F(HealthTest, WithoutAutoEjectTheKeysOfADownServerFailFast) {
  options_.auto_eject = false;
  Health health(servers_, options_);
  const bool all[] = {true, true, true};
  std::vector<size_t> before = Placement(health);
  health.Failed(0);
  health.Failed(0);
  ASSERT_TRUE(health.IsDown(0));
  std::vector<size_t> expected = RingPlacement(all);
  int down = 0;
  for (int k = 0; k < 2000; ++k) {
    size_t index = 99;
    Status s = health.Route(KetamaRing::Hash("key:" + std::to_string(k)), &index);
    if (expected[k] == 0) {
      EXPECT_EQ(s.code(), StatusCode::kServerDown) << k;
      ++down;
    } else {
      ASSERT_TRUE(s.ok()) << s.ToString();
      EXPECT_EQ(index, expected[k]);  // nothing moves
    }
  }
  EXPECT_GT(down, 0);
  now_ += options_.retry_interval;
  EXPECT_EQ(Placement(health), before);
}

TEST_F(HealthTest, WhenEveryServerIsEjectedThereIsNoServer) {
  Health health(servers_, options_);
  for (size_t i = 0; i < servers_.size(); ++i) {
    health.Failed(i);
    health.Failed(i);
  }
  size_t index = 0;
  EXPECT_EQ(health.Route(KetamaRing::Hash("k"), &index).code(), StatusCode::kNoServers);
  EXPECT_EQ(health.ServerFor(KetamaRing::Hash("k")), KetamaRing::kNoServer);
  now_ += options_.retry_interval;
  EXPECT_TRUE(health.Route(KetamaRing::Hash("k"), &index).ok());
}

TEST_F(HealthTest, AFailureOfARequestInFlightWhenItWentDownDoesNotExtendTheInterval) {
  Health health(servers_, options_);
  health.Failed(1);
  health.Failed(1);
  now_ += options_.retry_interval / 2;
  health.Failed(1);  // an exchange that started before the ejection
  now_ += options_.retry_interval / 2;
  EXPECT_FALSE(health.IsDown(1));
}

}  // namespace
}  // namespace spillway::client
