// What the cluster tests share: a few spillway nodes on one backend, pipelined raw get and set
// straight to one node (or to a proxy), and child processes (nutcracker, python3) that a test
// starts, waits for with a deadline and kills by their own PID.

#ifndef SPILLWAY_TESTS_CLUSTER_CLUSTER_SUPPORT_H_
#define SPILLWAY_TESTS_CLUSTER_CLUSTER_SUPPORT_H_

#include <gtest/gtest.h>
#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <vector>

#include "client/server_address.h"
#include "tests/integration/server_process.h"

namespace spillway::testing {

// Every cluster test runs once per I/O backend; the parameter is the --io value.
inline const auto kBackends = ::testing::Values(std::string("epoll"), std::string("uring"));
std::string BackendName(const ::testing::TestParamInfo<std::string>& info);

// The test's keys and values: values of varied lengths, so that a value read from the wrong key
// or cut short cannot pass.
std::string Key(std::string_view prefix, int i);
std::string Value(std::string_view prefix, int i);

// `count` spillway nodes on backend `io`, each on a port of its own (so each is a different
// ketama server). Small memory, no spill tier: the tests store a few MiB.
class Nodes {
 public:
  Nodes(std::string io, size_t count);
  bool ok() const;  // every node is up
  size_t size() const { return nodes_.size(); }
  int port(size_t i) const { return ports_[i]; }
  ServerProcess& node(size_t i) { return *nodes_[i]; }
  // 127.0.0.1:<port> of each node, in order, weight 1.
  std::vector<client::ServerAddress> Addresses() const;
  // A fresh node (empty, new data directory) on node i's old port, once that one is gone.
  bool Restart(size_t i);
  // curr_items of node i, or -1 when stats failed.
  int64_t CurrItems(size_t i);
  // Every node holds at least one item, and (when `total` >= 0) the nodes hold `total` together.
  ::testing::AssertionResult EachHoldsAShare(int64_t total = -1);

 private:
  std::vector<std::string> Args(int port) const;

  std::string io_;
  std::vector<int> ports_;
  std::vector<std::unique_ptr<ServerProcess>> nodes_;
};

// The fixture of every cluster test: three nodes on the backend under test, io_uring skipped
// where the kernel does not allow it. A subclass's SetUp calls this one first and returns when
// IsSkipped() or HasFatalFailure().
class ClusterTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "uring" && !UringUsable()) {
      GTEST_SKIP() << "io_uring is not usable on this kernel (spillway --io=uring says why)";
    }
    nodes_ = std::make_unique<Nodes>(GetParam(), 3);
    ASSERT_TRUE(nodes_->ok()) << "a node did not start";
  }
  bool Stopped() const { return IsSkipped() || HasFatalFailure(); }

  std::unique_ptr<Nodes> nodes_;
};

// The answer to one `get <key>`: a hit's value, a miss, or an error line.
struct GetAnswer {
  std::optional<std::string> value;
  std::string error;  // "SERVER_ERROR ..." or whatever else came instead of an answer
  bool miss() const { return !value && error.empty(); }
};

// One `set <key> 0 0 <n>` per key on one socket, pipelined in batches; the answer line of each
// (without CRLF: "STORED", "SERVER_ERROR ..."), in order. Cut short when the connection fails.
std::vector<std::string> PipelineSets(int port, std::span<const std::string> keys,
                                      std::span<const std::string> values);
// One `get <key>` per key on one socket, pipelined in batches; one answer per key, in order.
std::vector<GetAnswer> PipelineGets(int port, std::span<const std::string> keys);

// A port that was free a moment ago on 127.0.0.1 (bound to 0, read, closed). Someone else may take
// it before the caller binds it: callers retry with another.
int PickFreePort();
// Whether 127.0.0.1:port accepts a connection.
bool Accepts(int port);

// A child process with stdout and stderr in `log_path`. The destructor kills exactly it (SIGKILL
// to its PID) if it is still running, and reaps it.
class ChildProcess {
 public:
  ChildProcess(std::vector<std::string> argv, std::string log_path);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  pid_t pid() const { return pid_; }
  // Whether it is still running (reaps it if it has exited).
  bool Running();
  // Waits at most `timeout` for it to exit: its wait status, or nullopt on timeout.
  std::optional<int> Wait(std::chrono::milliseconds timeout);
  void Kill();
  std::string Output() const;  // what it wrote so far

 private:
  pid_t pid_ = -1;
  int status_ = 0;
  std::string log_path_;
};

}  // namespace spillway::testing

#endif  // SPILLWAY_TESTS_CLUSTER_CLUSTER_SUPPORT_H_
