// The real spillway binary's lifecycle, over real sockets, on both I/O backends: idle
// connections, the shutdown command, SIGTERM with work in flight, and a second server on a busy
// port. Limits of input and clients are in server_limits_test.cc.
//
// Nothing here sleeps to synchronise: every wait is a socket read (or poll) with a timeout, or a
// pidfd poll for the process, so every test is bounded.

#include <gtest/gtest.h>
#include <signal.h>

#include <cstdio>
#include <string>
#include <vector>

#include "tests/integration/limits_support.h"

namespace spillway::testing {
namespace {

// ---- Tests where keys do not matter: each backend once, with two shards (so that the
// connections land on both).

class ServerLimitsLifecycleTest : public ServerLimitsTest {};

// ---- 5. Idle connections.

// Milliseconds until the wall clock next shows `fraction` (0..1) of a second: the idle check
// runs on whole seconds, so the busy client's requests are placed just before and well after
// second boundaries.
int MillisUntilFraction(double fraction) {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(now).count() % 1000;
  const int64_t target = static_cast<int64_t>(fraction * 1000);
  return static_cast<int>(target > ms ? target - ms : target + 1000 - ms);
}

// FAILS on both backends (server bug, left failing on purpose): Shard::OnTick closes a
// connection when now_ - last_active() >= idle, both whole seconds, so with --idle_timeout=1 a
// connection last active at N.98 s is closed by the check at N+1.0x s after 0.1 s of silence
// (memcached closes only when the difference is greater than the timeout).
TEST_P(ServerLimitsLifecycleTest, IdleConnectionIsClosedBusyOneIsNot) {
  auto server = Start({"--idle_timeout=1"});
  ASSERT_GT(server->port(), 0);
  Client idle(server->port()), busy(server->port());
  ASSERT_EQ(idle.Call("mn\r\n"), "MN\r\n");
  const auto idle_since = Clock::now();
  ASSERT_EQ(busy.Call("mn\r\n"), "MN\r\n");
  // The busy client sends at .90 and .98 of every second: it is never idle for more than 0.92 s,
  // and its request before a second boundary is always less than a second old when the check
  // of the next second runs. It goes on for three whole seconds (three idle checks).
  const auto start = Clock::now();
  int64_t idle_closed_after_ms = -1;
  int requests = 0;
  bool at_98 = false;
  while (MillisSince(start) < 3200 || idle_closed_after_ms < 0) {
    ASSERT_LT(MillisSince(start), 8000) << "the idle connection was never closed";
    const int wait = MillisUntilFraction(at_98 ? 0.98 : 0.90);
    at_98 = !at_98;
    // The wait is a read on the idle connection (or, once closed, on the busy one).
    pollfd p{idle_closed_after_ms < 0 ? idle.fd() : busy.fd(), POLLIN, 0};
    if (poll(&p, 1, wait) == 1 && idle_closed_after_ms < 0) {
      ASSERT_TRUE(PeerClosed(idle)) << "the idle connection received data";
      idle_closed_after_ms = MillisSince(idle_since);
      continue;
    }
    ASSERT_EQ(busy.Call("mn\r\n"), "MN\r\n")
        << "the busy connection was closed after " << requests << " requests, "
        << MillisSince(start) << " ms; its requests were never more than 0.92 s apart";
    ++requests;
  }
  std::printf("idle connection closed after %lld ms; busy one made %d requests\n",
              static_cast<long long>(idle_closed_after_ms), requests);
  // --idle_timeout=1: idle for less than a second is not idle enough (memcached closes after
  // more than the timeout).
  EXPECT_GE(idle_closed_after_ms, 1000);
  EXPECT_LE(idle_closed_after_ms, 3500);
  EXPECT_EQ(busy.Call("mn\r\n"), "MN\r\n");
}

// ---- 8. Shutdown.

TEST_P(ServerLimitsLifecycleTest, ShutdownCommandExitsWithStatusZero) {
  auto server = Start({"--enable_shutdown"});
  ASSERT_GT(server->port(), 0);
  Client watcher(server->port());
  ASSERT_EQ(watcher.Call("mn\r\n"), "MN\r\n");
  Client c(server->port());
  ASSERT_TRUE(c.Send("shutdown\r\n"));
  EXPECT_EQ(ReadToEnd(c), "");
  int code = -1;
  ASSERT_TRUE(WaitForExit(server->pid(), 10'000, &code)) << "still running 10 s after shutdown";
  EXPECT_EQ(code, 0);
  EXPECT_TRUE(PeerClosed(watcher));
  EXPECT_EQ(server->Stop(), 0);
}

TEST_P(ServerLimitsLifecycleTest, SigtermWithALargePipelineInFlightExitsZero) {
  auto server = Start();
  ASSERT_GT(server->port(), 0);
  const std::string value(100'000, 'v');
  Client setup(server->port());
  ASSERT_EQ(setup.Call("set big 0 0 100000\r\n" + value + "\r\n"), "STORED\r\n");
  // Two clients each pipeline 300 gets (30 MB of answers) without reading: `reader` reads its
  // answers once SIGTERM is sent, `stuck` never does and also leaves a set cut in the middle
  // of its value.
  std::string pipeline, want;
  for (int i = 0; i < 300; ++i) {
    pipeline += "get big\r\n";
    want += "VALUE big 0 100000\r\n" + value + "\r\nEND\r\n";
  }
  Client reader(server->port()), stuck(server->port());
  ASSERT_TRUE(reader.Send(pipeline));
  ASSERT_TRUE(stuck.Send(pipeline + "set half 0 0 100000\r\n" + value.substr(0, 50'000)));
  // Both pipelines are being answered: the first bytes of each have come back.
  ASSERT_EQ(reader.Read(20), want.substr(0, 20));
  ASSERT_EQ(stuck.Read(20), want.substr(0, 20));
  const auto start = Clock::now();
  ASSERT_EQ(kill(server->pid(), SIGTERM), 0);
  // The listeners close at once while the drain goes on (`stuck` holds it for 5 s), so that a
  // successor started on the same port gets every new connection.
  bool refused = false;
  while (!refused && MillisSince(start) < 3000) refused = !Client(server->port()).ok();
  EXPECT_TRUE(refused) << "still accepting 3 s after SIGTERM";
  EXPECT_TRUE(Running(server->pid())) << "the drain should still be holding the server";
  // Graceful: what was asked before the signal is still answered, in full; then the server
  // hangs up.
  const std::string got = reader.Read(want.size() - 20);
  EXPECT_TRUE(got == want.substr(20)) << FirstDifference(got, want.substr(20));
  EXPECT_EQ(ReadToEnd(reader), "");
  int code = -1;
  ASSERT_TRUE(WaitForExit(server->pid(), 10'000, &code)) << "still running 10 s after SIGTERM";
  EXPECT_EQ(code, 0);
  std::printf("exited %lld ms after SIGTERM (a client that never reads holds the drain)\n",
              static_cast<long long>(MillisSince(start)));
  EXPECT_EQ(server->Stop(), 0);
}

// SO_REUSEPORT (one listener per shard) would let a second server join a busy port and take a
// share of the clients, each server answering with its own values; memcached refuses.
TEST_P(ServerLimitsLifecycleTest, ASecondServerOnABusyPortExitsAndTheFirstKeepsItsClients) {
  auto first = Start();
  ASSERT_GT(first->port(), 0);
  TempDir scratch;
  ASSERT_FALSE(scratch.path().empty());
  const std::string log = scratch.path() + "/second.log";
  std::vector<std::string> args = {SPILLWAY_BINARY, "--port=" + std::to_string(first->port()),
                                   "--data_dir=" + scratch.path() + "/data",
                                   "--io=" + GetParam().io};
  const pid_t second = fork();
  ASSERT_GE(second, 0);
  if (second == 0) {
    const int fd = open(log.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd >= 0) dup2(fd, STDERR_FILENO);
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  int code = -1;
  const bool exited = WaitForExit(second, 10'000, &code);
  if (!exited) kill(second, SIGKILL);
  int status = 0;
  waitpid(second, &status, 0);
  ASSERT_TRUE(exited) << "a second server on a busy port kept running";
  EXPECT_NE(code, 0);
  std::string said;
  if (FILE* f = std::fopen(log.c_str(), "r")) {
    char buf[4096];
    size_t n;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) said.append(buf, n);
    std::fclose(f);
  }
  EXPECT_NE(said.find("Address already in use"), std::string::npos) << said;
  // Every new client still reaches the first server.
  Client setter(first->port());
  ASSERT_EQ(setter.Call("set k 0 0 1\r\nv\r\n"), "STORED\r\n");
  for (int i = 0; i < 20; ++i) {
    Client c(first->port());
    ASSERT_EQ(c.Call("get k\r\n", "END\r\n"), "VALUE k 0 1\r\nv\r\nEND\r\n") << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, ServerLimitsLifecycleTest,
                         ::testing::Values(Setup{"epoll", 2}, Setup{"uring", 2}), Name);

}  // namespace
}  // namespace spillway::testing
