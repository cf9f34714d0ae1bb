// spillway-bench end to end: the real bench binary against a real spillway, both on the same I/O
// backend, checked through its JSON report (and, for what spillway cannot be made to do, against
// a small misbehaving server in this process).

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <pty.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <map>
#include <memory>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "client/ketama.h"
#include "client/server_address.h"
#include "tests/integration/server_process.h"

extern char** environ;

namespace spillway::testing {
namespace {

// Runs the bench with `args` and returns its exit status, or -1 if it ran over 60 s (killed).
// `stderr_fd`, when given, becomes the bench's stderr.
int RunBench(const std::vector<std::string>& args, int stderr_fd = -1) {
  std::vector<std::string> all = {SPILLWAY_BENCH_BINARY};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (std::string& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  if (stderr_fd >= 0) posix_spawn_file_actions_adddup2(&actions, stderr_fd, STDERR_FILENO);
  pid_t pid = -1;
  const int spawned = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) return -1;
  // Waits on a pidfd (no polling loop): 60 s at most.
  int status = 0;
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  pollfd p{pidfd, POLLIN, 0};
  if (pidfd < 0 || poll(&p, 1, 60'000) != 1) {
    kill(pid, SIGKILL);
    waitpid(pid, &status, 0);
    if (pidfd >= 0) close(pidfd);
    return -1;
  }
  close(pidfd);
  waitpid(pid, &status, 0);
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

// A file for the bench's JSON report, removed with it.
class JsonReport {
 public:
  JsonReport() {
    const int fd = mkstemp(path_);
    if (fd >= 0) close(fd);
  }
  ~JsonReport() { unlink(path_); }
  std::string Flag() const { return std::string("--json=") + path_; }
  std::string Read() const {
    std::ifstream in(path_);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

 private:
  char path_[64] = "/tmp/spillway_bench_test_XXXXXX";
};

// The number after "name": in the report (-1 when missing).
double Field(const std::string& json, const std::string& name) {
  std::smatch m;
  if (!std::regex_search(json, m, std::regex("\"" + name + "\": ([0-9.]+)"))) return -1;
  return std::stod(m[1]);
}

// How many errors of `kind` the report counts (the report lists only kinds that occurred).
double Errors(const std::string& json, const std::string& kind) {
  return std::max(0.0, Field(json, kind));
}

// A counter from the server's "stats" (-1 when missing).
double ServerStat(int port, const std::string& name) {
  Client c(port);
  const std::string stats = c.Call("stats\r\n", "END\r\n");
  std::smatch m;
  if (!std::regex_search(stats, m, std::regex("STAT " + name + " ([0-9]+)\r\n"))) return -1;
  return std::stod(m[1]);
}

std::string ServersFlag(int port) { return "--servers=127.0.0.1:" + std::to_string(port); }

class BenchTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "uring" && !UringUsable()) {
      GTEST_SKIP() << "io_uring is not usable on this kernel (spillway --io=uring says why)";
    }
  }
  std::string io() const { return GetParam(); }
  std::string IoFlag() const { return "--io=" + GetParam(); }
};

TEST_P(BenchTest, PrefilledMixedRunHasNoErrorsAndHits) {
  ServerProcess server({IoFlag(), "--threads=2", "--memory_limit=64"});
  ASSERT_GT(server.port(), 0) << "the server did not start";
  JsonReport report;
  const int status = RunBench({ServersFlag(server.port()), IoFlag(), "--threads=2",
                               "--connections=4", "--pipeline=8", "--requests=20000", "--keys=2000",
                               "--prefill", "--key-pattern=zipf:0.9", "--value-size=1-2000",
                               "--ratio=1:4", "--seed=5", report.Flag()});
  const std::string json = report.Read();
  EXPECT_EQ(status, 0) << json;
  EXPECT_EQ(Field(json, "errors_total"), 0) << json;
  EXPECT_EQ(Field(json, "requests"), 20000) << json;
  EXPECT_EQ(Field(json, "gets") + Field(json, "sets"), 20000) << json;
  EXPECT_GT(Field(json, "hits"), 0) << json;
  // Every key was written by the prefill and nothing evicts at this size: no misses.
  EXPECT_EQ(Field(json, "misses"), 0) << json;
  EXPECT_GT(Field(json, "p99"), 0) << json;
}

// Both protocols, one key and several per get. The server counts every key it looked up, so the
// bench's key count is checked against the server's, and keys/s against requests/s.
TEST_P(BenchTest, MultiGetCountsEveryKeyInBothProtocols) {
  for (const std::string protocol : {"text", "meta"}) {
    for (const std::string mget : {"1", "10"}) {
      SCOPED_TRACE("--protocol=" + protocol + " --mget=" + mget);
      // One shard: spillway answers a multi-get whose keys span shards in two sends without
      // TCP_NODELAY, so the second waits out the client's delayed ACK (40 ms a get).
      ServerProcess server({IoFlag(), "--threads=1", "--memory_limit=64"});
      ASSERT_GT(server.port(), 0) << "the server did not start";
      JsonReport report;
      const int status =
          RunBench({ServersFlag(server.port()), IoFlag(), "--threads=2", "--connections=3",
                    "--pipeline=4", "--requests=4000", "--keys=1000", "--prefill",
                    "--key-pattern=zipf:1.0", "--value-size=1-300", "--ratio=1:3",
                    "--protocol=" + protocol, "--mget=" + mget, report.Flag()});
      const std::string json = report.Read();
      EXPECT_EQ(status, 0) << json;
      EXPECT_EQ(Field(json, "errors_total"), 0) << json;
      EXPECT_EQ(Field(json, "requests"), 4000) << json;
      const double keys = Field(json, "get_keys");
      EXPECT_EQ(keys, Field(json, "gets") * std::stod(mget)) << json;
      EXPECT_EQ(Field(json, "hits"), keys) << "prefilled, nothing evicted: " << json;
      EXPECT_NEAR(Field(json, "keys_per_sec") / Field(json, "ops_per_sec"),
                  keys / Field(json, "requests"), 0.01)
          << json;
      EXPECT_EQ(ServerStat(server.port(), "cmd_get"), keys) << json;
    }
  }
}

// The server answers only the hits of a multi-get, in request order: the bench must tell which
// keys were passed over (misses) from the keys the hits name, with nothing counted as an error.
TEST_P(BenchTest, MultiGetOfPartlyMissingKeysCountsHitsAndMisses) {
  for (const std::string protocol : {"text", "meta"}) {
    SCOPED_TRACE("--protocol=" + protocol);
    ServerProcess server({IoFlag(), "--threads=1", "--memory_limit=64"});
    ASSERT_GT(server.port(), 0) << "the server did not start";
    JsonReport report;
    const int status = RunBench({ServersFlag(server.port()), IoFlag(), "--connections=2",
                                 "--pipeline=4", "--requests=3000", "--keys=400", "--ratio=1:2",
                                 "--mget=7", "--protocol=" + protocol, report.Flag()});
    const std::string json = report.Read();
    EXPECT_EQ(status, 0) << json;
    EXPECT_EQ(Field(json, "errors_total"), 0) << json;
    EXPECT_GT(Field(json, "hits"), 0) << json;
    EXPECT_GT(Field(json, "misses"), 0) << json;
    EXPECT_EQ(Field(json, "hits") + Field(json, "misses"), Field(json, "get_keys")) << json;
    EXPECT_EQ(ServerStat(server.port(), "get_hits"), Field(json, "hits")) << json;
  }
}

TEST_P(BenchTest, AWrongValueIsCountedAndFailsTheRun) {
  for (const std::string protocol : {"text", "meta"}) {
    SCOPED_TRACE("--protocol=" + protocol);
    ServerProcess server({IoFlag(), "--threads=1", "--memory_limit=64"});
    ASSERT_GT(server.port(), 0) << "the server did not start";
    const std::string servers = ServersFlag(server.port());
    // Seed 1 writes the keys; seed 2 expects other bytes for them.
    ASSERT_EQ(RunBench({servers, IoFlag(), "--connections=2", "--requests=100", "--keys=50",
                        "--prefill", "--ratio=0:1", "--seed=1", "--protocol=" + protocol}),
              0);
    JsonReport report;
    EXPECT_EQ(RunBench({servers, IoFlag(), "--connections=2", "--requests=100", "--keys=50",
                        "--ratio=0:1", "--seed=2", "--protocol=" + protocol, report.Flag()}),
              3);
    const std::string json = report.Read();
    EXPECT_EQ(Field(json, "wrong_value"), 100) << json;
    // --validate=none parses the same replies strictly but compares no bytes.
    JsonReport unchecked;
    EXPECT_EQ(RunBench({servers, IoFlag(), "--connections=2", "--requests=100", "--keys=50",
                        "--ratio=0:1", "--seed=2", "--protocol=" + protocol, "--validate=none",
                        unchecked.Flag()}),
              0);
    EXPECT_EQ(Field(unchecked.Read(), "hits"), 100) << unchecked.Read();
  }
}

// A server that acknowledges every set and answers every get with the first value it was sent
// for the key (version 0), as a server that lost the later updates would. One connection.
class LosingServer {
 public:
  LosingServer() {
    listen_fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    if (bind(listen_fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        listen(listen_fd_, 4) != 0 ||
        getsockname(listen_fd_, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      return;
    }
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this] { Serve(); });
  }
  ~LosingServer() {
    shutdown(listen_fd_, SHUT_RDWR);
    if (thread_.joinable()) thread_.join();
    close(listen_fd_);
  }
  int port() const { return port_; }

 private:
  void Serve() {
    pollfd p{listen_fd_, POLLIN, 0};
    if (poll(&p, 1, 30'000) != 1) return;
    const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    if (fd < 0) return;
    std::string in;
    std::map<std::string, std::string> first;  // key -> "<flags> <bytes>\r\n<data>\r\n"
    for (char buf[4096];;) {
      pollfd r{fd, POLLIN, 0};
      if (poll(&r, 1, 30'000) != 1) break;
      const ssize_t n = read(fd, buf, sizeof buf);
      if (n <= 0) break;
      in.append(buf, static_cast<size_t>(n));
      std::string out;
      for (size_t eol; (eol = in.find("\r\n")) != std::string::npos;) {
        std::istringstream line(in.substr(0, eol));
        std::string command, key, flags, exptime;
        size_t bytes = 0;
        line >> command >> key;
        if (command == "set") {
          line >> flags >> exptime >> bytes;
          if (in.size() < eol + 2 + bytes + 2) break;  // the data block is not all here yet
          const std::string data = in.substr(eol + 2, bytes + 2);
          first.emplace(key, flags + " " + std::to_string(bytes) + "\r\n" + data);
          out += "STORED\r\n";
          in.erase(0, eol + 2 + bytes + 2);
          continue;
        }
        if (command == "get" && first.count(key)) out += "VALUE " + key + " " + first[key];
        out += command == "get" ? "END\r\n" : "ERROR\r\n";
        in.erase(0, eol + 2);
      }
      if (write(fd, out.data(), out.size()) != static_cast<ssize_t>(out.size())) break;
    }
    close(fd);
  }

  int listen_fd_ = -1;
  int port_ = 0;
  std::thread thread_;
};

// A get must not return a version older than one acknowledged before it was sent. One
// connection, no pipelining, one key: every set is acknowledged before the next request goes, so
// from the second acknowledged set on, the server's version-0 answers are stale; the values
// themselves are well-formed for the version their flags name, so none is a wrong value.
TEST_P(BenchTest, AStaleValueIsCaught) {
  LosingServer server;
  ASSERT_GT(server.port(), 0);
  JsonReport report;
  EXPECT_EQ(RunBench({ServersFlag(server.port()), IoFlag(), "--connections=1", "--keys=1",
                      "--ratio=1:1", "--requests=200", "--seed=3", report.Flag()}),
            3);
  const std::string json = report.Read();
  EXPECT_GT(Errors(json, "stale_value"), 0) << json;
  EXPECT_EQ(Errors(json, "wrong_value"), 0) << json;
  EXPECT_EQ(Field(json, "errors_total"), Errors(json, "stale_value")) << json;
}

// The other side of the stale check: many sets of a few keys in flight at once on several
// connections and threads may be applied in any order; a correct server must not be reported.
TEST_P(BenchTest, ConcurrentSetsOfHotKeysAreNoStaleValues) {
  for (const std::string protocol : {"text", "meta"}) {
    SCOPED_TRACE("--protocol=" + protocol);
    ServerProcess server({IoFlag(), "--threads=2", "--memory_limit=64"});
    ASSERT_GT(server.port(), 0) << "the server did not start";
    JsonReport report;
    const int status = RunBench({ServersFlag(server.port()), IoFlag(), "--threads=2",
                                 "--connections=4", "--pipeline=8", "--requests=40000", "--keys=5",
                                 "--ratio=1:1", "--protocol=" + protocol, report.Flag()});
    const std::string json = report.Read();
    EXPECT_EQ(status, 0) << json;
    EXPECT_EQ(Field(json, "errors_total"), 0) << json;
    EXPECT_GT(Field(json, "hits"), 0) << json;
  }
}

// Prefill, warmup and the measured run share their connections, and the warmup's requests are
// sent but not counted.
TEST_P(BenchTest, WarmupRunsUncountedOnTheSameConnections) {
  ServerProcess server({IoFlag(), "--threads=1", "--memory_limit=64"});
  ASSERT_GT(server.port(), 0) << "the server did not start";
  JsonReport report;
  EXPECT_EQ(RunBench({ServersFlag(server.port()), IoFlag(), "--threads=2", "--connections=3",
                      "--keys=100", "--prefill", "--warmup=0.3", "--ratio=0:1", "--requests=500",
                      report.Flag()}),
            0);
  const std::string json = report.Read();
  EXPECT_EQ(Field(json, "requests"), 500) << json;
  EXPECT_EQ(Field(json, "errors_total"), 0) << json;
  // Six connections for all three phases, and this one asking.
  EXPECT_EQ(ServerStat(server.port(), "total_connections"), 7) << json;
  EXPECT_GT(ServerStat(server.port(), "cmd_get"), 500) << "the warmup sent no gets: " << json;
}

// Regression: a thousand connections adopted before the io_uring loop ran overflowed its
// submission queue (the ring is enabled only in Run). The server takes them all as well, within
// its default limit now that the prefill does not connect separately.
TEST_P(BenchTest, AThousandConnections) {
  ServerProcess server({IoFlag(), "--threads=2", "--memory_limit=64"});
  ASSERT_GT(server.port(), 0) << "the server did not start";
  JsonReport report;
  EXPECT_EQ(RunBench({ServersFlag(server.port()), IoFlag(), "--connections=1000", "--requests=5000",
                      "--keys=500", "--prefill", report.Flag()}),
            0);
  const std::string json = report.Read();
  EXPECT_EQ(Field(json, "requests"), 5000) << json;
  EXPECT_EQ(Field(json, "errors_total"), 0) << json;
}

// Open loop: requests go out at their scheduled times, so a run of N requests at R per second
// cannot end before N / R seconds, however fast the server is.
TEST_P(BenchTest, OpenLoopKeepsToItsSchedule) {
  ServerProcess server({IoFlag(), "--threads=1", "--memory_limit=64"});
  ASSERT_GT(server.port(), 0) << "the server did not start";
  JsonReport report;
  EXPECT_EQ(RunBench({ServersFlag(server.port()), IoFlag(), "--connections=4", "--rate=4000",
                      "--requests=2000", "--keys=100", "--prefill", report.Flag()}),
            0);
  const std::string json = report.Read();
  EXPECT_EQ(Field(json, "requests"), 2000) << json;
  EXPECT_EQ(Field(json, "errors_total"), 0) << json;
  EXPECT_GE(Field(json, "elapsed_s"), 0.49) << "2000 requests at 4000/s ended early: " << json;
}

// On a terminal, a progress line each second: ops/s and p99 over the last second, elapsed and
// remaining time.
TEST_P(BenchTest, ProgressLineOnATerminal) {
  ServerProcess server({IoFlag(), "--threads=1", "--memory_limit=64"});
  ASSERT_GT(server.port(), 0) << "the server did not start";
  int master = -1;
  int slave = -1;
  ASSERT_EQ(openpty(&master, &slave, nullptr, nullptr, nullptr), 0);
  EXPECT_EQ(RunBench({ServersFlag(server.port()), IoFlag(), "--connections=2", "--keys=100",
                      "--duration=1.5"},
                     slave),
            0);
  std::string out;
  char buf[4096];
  for (pollfd p{master, POLLIN, 0}; poll(&p, 1, 100) == 1;) {
    const ssize_t n = read(master, buf, sizeof buf);
    if (n <= 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  close(slave);
  close(master);
  EXPECT_TRUE(std::regex_search(
      out, std::regex("[0-9]+ s, [0-9]+ s left: [0-9]+ ops/s now, p99 now [0-9.]+ us")))
      << out;
}

// Three servers: the bench places every key with ketama, as a memcached client does, so a key is
// read from the server it was written to (full validation: no wrong or stale value, and a
// prefilled run has no miss), every server takes a share, a multi-get's keys are each asked of
// exactly one server, and each key is found on the server the client library's ring names.
TEST_P(BenchTest, KetamaPlacesEveryKeyOnItsServer) {
  for (const std::string protocol : {"text", "meta"}) {
    SCOPED_TRACE("--protocol=" + protocol);
    std::vector<std::unique_ptr<ServerProcess>> servers;
    std::vector<client::ServerAddress> addresses;
    std::string list = "--servers=";
    for (int i = 0; i < 3; ++i) {
      servers.push_back(std::make_unique<ServerProcess>(
          std::vector<std::string>{IoFlag(), "--threads=1", "--memory_limit=64"}));
      const int port = servers.back()->port();
      ASSERT_GT(port, 0) << "server " << i << " did not start";
      addresses.push_back({"127.0.0.1", static_cast<uint16_t>(port), 1});
      list += (i == 0 ? "" : ",") + addresses.back().ToString();
    }
    JsonReport report;
    const int status = RunBench({list, IoFlag(), "--threads=2", "--connections=2", "--pipeline=4",
                                 "--requests=6000", "--keys=600", "--prefill", "--ratio=1:3",
                                 "--mget=5", "--key-prefix=kt:", "--value-size=1-200",
                                 "--protocol=" + protocol, report.Flag()});
    const std::string json = report.Read();
    EXPECT_EQ(status, 0) << json;
    EXPECT_EQ(Field(json, "errors_total"), 0) << json;
    EXPECT_EQ(Field(json, "requests"), 6000) << json;
    const double keys = Field(json, "get_keys");
    EXPECT_EQ(keys, Field(json, "gets") * 5) << json;
    EXPECT_EQ(Field(json, "hits"), keys) << "prefilled, nothing evicted: " << json;
    std::smatch m;
    std::string rest = json;
    int listed = 0;
    while (std::regex_search(rest, m, std::regex("\"requests_sent\": ([0-9]+)"))) {
      EXPECT_GT(std::stod(m[1]), 0) << json;
      ++listed;
      rest = m.suffix();
    }
    EXPECT_EQ(listed, 3) << json;
    double asked = 0;
    for (const auto& server : servers) {
      EXPECT_GT(ServerStat(server->port(), "get_hits"), 0) << json;
      EXPECT_EQ(ServerStat(server->port(), "get_misses"), 0) << json;
      asked += ServerStat(server->port(), "cmd_get");
    }
    EXPECT_EQ(asked, keys) << "each key of a get is asked of one server: " << json;
    // Read a sample back: found on its ketama server only.
    const client::KetamaRing ring(addresses);
    std::vector<std::unique_ptr<Client>> clients;
    for (const auto& server : servers) clients.push_back(std::make_unique<Client>(server->port()));
    for (int k = 0; k < 600; k += 7) {
      const std::string key = "kt:" + std::to_string(k);
      const uint32_t home = ring.ServerFor(key);
      for (uint32_t i = 0; i < 3; ++i) {
        EXPECT_EQ(clients[i]->Call("mg " + key + "\r\n"), i == home ? "HD\r\n" : "EN\r\n")
            << key << " on server " << i << ", ketama's is " << home;
      }
    }
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, BenchTest, ::testing::Values("epoll", "uring"));

}  // namespace
}  // namespace spillway::testing
