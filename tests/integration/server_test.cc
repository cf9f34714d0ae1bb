// The real spillway binary over real sockets, on both I/O backends, with one shard and with
// several (so that keys cross shards).

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "tests/integration/server_process.h"

namespace spillway::testing {
namespace {

struct Setup {
  std::string io;
  int threads;
};

std::string Name(const ::testing::TestParamInfo<Setup>& info) {
  return info.param.io + "_" + std::to_string(info.param.threads) + "shards";
}

class ServerTest : public ::testing::TestWithParam<Setup> {
 protected:
  std::vector<std::string> Args(std::vector<std::string> extra = {}) const {
    std::vector<std::string> args = {"--io=" + GetParam().io,
                                     "--threads=" + std::to_string(GetParam().threads),
                                     "--memory_limit=64"};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }
  void SetUp() override {
    if (GetParam().io == "uring" && !UringUsable()) {
      GTEST_SKIP() << "io_uring is not usable on this kernel (spillway --io=uring says why)";
    }
    server_ = std::make_unique<ServerProcess>(Args());
    ASSERT_GT(server_->port(), 0) << "the server did not start";
  }
  std::unique_ptr<ServerProcess> server_;
};

std::string Key(int i) { return "key:" + std::to_string(i); }

// The socket inode of the loopback TCP connection from `local_port` to `remote_port`, as
// /proc/net/tcp lists it (ports in hex), or "" when there is none.
std::string SocketInode(int local_port, int remote_port) {
  std::ifstream tcp("/proc/net/tcp");
  std::string line;
  char want[32];
  std::snprintf(want, sizeof want, ":%04X 0100007F:%04X", local_port, remote_port);
  while (std::getline(tcp, line)) {
    if (line.find(want) == std::string::npos) continue;
    std::istringstream fields(line);
    std::string f;
    for (int i = 0; i < 10 && fields >> f; ++i) {
    }
    return f;  // the 10th field
  }
  return "";
}

// A copy of the descriptor that process `pid` has for socket `inode`, or -1.
int StealSocket(pid_t pid, const std::string& inode) {
  const std::string target = "socket:[" + inode + "]";
  for (const auto& entry :
       std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd")) {
    std::error_code ec;
    if (std::filesystem::read_symlink(entry.path(), ec).string() != target) continue;
    const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
    if (pidfd < 0) return -1;
    const int fd = static_cast<int>(
        syscall(SYS_pidfd_getfd, pidfd, std::stoi(entry.path().filename().string()), 0));
    close(pidfd);
    return fd;
  }
  return -1;
}

// Regression: the server never set TCP_NODELAY, so a multi-get answered in two sends (keys on
// two shards) waited 40 ms for the client's delayed ACK.
TEST_P(ServerTest, AcceptedConnectionsSendWithoutDelay) {
  Client c(server_->port());
  ASSERT_TRUE(c.ok());
  ASSERT_EQ(c.Call("mn\r\n"), "MN\r\n");  // accepted by now
  sockaddr_in local{};
  socklen_t length = sizeof local;
  ASSERT_EQ(getsockname(c.fd(), reinterpret_cast<sockaddr*>(&local), &length), 0);
  const std::string inode = SocketInode(server_->port(), ntohs(local.sin_port));
  ASSERT_FALSE(inode.empty()) << "no such connection in /proc/net/tcp";
  const int fd = StealSocket(server_->pid(), inode);
  if (fd < 0 && errno == EPERM) GTEST_SKIP() << "pidfd_getfd is not permitted here";
  ASSERT_GE(fd, 0) << std::strerror(errno);
  int nodelay = 0;
  socklen_t size = sizeof nodelay;
  ASSERT_EQ(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &nodelay, &size), 0);
  close(fd);
  EXPECT_NE(nodelay, 0);
}

TEST_P(ServerTest, SetThenGetAndTheBasics) {
  Client c(server_->port());
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c.Call("set a 5 0 3\r\nabc\r\n"), "STORED\r\n");
  EXPECT_EQ(c.Call("get a\r\n", "END\r\n"), "VALUE a 5 3\r\nabc\r\nEND\r\n");
  EXPECT_EQ(c.Call("get nope\r\n", "END\r\n"), "END\r\n");
  EXPECT_EQ(c.Call("delete a\r\n"), "DELETED\r\n");
  EXPECT_EQ(c.Call("incr n 1\r\n"), "NOT_FOUND\r\n");
  EXPECT_EQ(c.Call("mn\r\n"), "MN\r\n");
  EXPECT_EQ(c.Call("version\r\n").rfind("VERSION ", 0), 0u);
  EXPECT_EQ(c.Call("bogus\r\n"), "ERROR\r\n");
  EXPECT_EQ(c.Call("shutdown\r\n"), "ERROR: shutdown not enabled\r\n");
  EXPECT_TRUE(c.Send("quit\r\n"));
  EXPECT_TRUE(c.Closed());
}

TEST_P(ServerTest, PipelinedRequestsAreAllAnsweredInOrder) {
  Client c(server_->port());
  std::string batch;
  std::string want;
  for (int i = 0; i < 2000; ++i) {
    const std::string v = std::to_string(i * 7);
    batch += "set " + Key(i) + " 0 0 " + std::to_string(v.size()) + "\r\n" + v + "\r\n";
    want += "STORED\r\n";
  }
  for (int i = 0; i < 2000; ++i) {
    const std::string v = std::to_string(i * 7);
    batch += "get " + Key(i) + "\r\n";
    want += "VALUE " + Key(i) + " 0 " + std::to_string(v.size()) + "\r\n" + v + "\r\nEND\r\n";
  }
  ASSERT_TRUE(c.Send(batch));
  EXPECT_EQ(c.Read(want.size()), want);
}

TEST_P(ServerTest, MultiGetGathersKeysFromEveryShardInOrder) {
  Client c(server_->port());
  std::string line = "get";
  std::string want;
  for (int i = 0; i < 100; ++i) {
    if (i % 3 != 0) {
      ASSERT_EQ(c.Call("set " + Key(i) + " 0 0 1\r\nx\r\n"), "STORED\r\n");
      want += "VALUE " + Key(i) + " 0 1\r\nx\r\n";
    }
    line += " " + Key(i);
  }
  want += "END\r\n";
  EXPECT_EQ(c.Call(line + "\r\n", "END\r\n"), want);
}

TEST_P(ServerTest, FlushAllReachesEveryShard) {
  Client c(server_->port());
  for (int i = 0; i < 50; ++i) ASSERT_EQ(c.Call("set " + Key(i) + " 0 0 1\r\nx\r\n"), "STORED\r\n");
  EXPECT_EQ(c.Call("flush_all\r\n"), "OK\r\n");
  for (int i = 0; i < 50; ++i) EXPECT_EQ(c.Call("get " + Key(i) + "\r\n", "END\r\n"), "END\r\n");
}

TEST_P(ServerTest, StatsCountAcrossShards) {
  Client c(server_->port());
  for (int i = 0; i < 40; ++i) ASSERT_EQ(c.Call("set " + Key(i) + " 0 0 1\r\nx\r\n"), "STORED\r\n");
  for (int i = 0; i < 60; ++i) c.Call("get " + Key(i) + "\r\n", "END\r\n");
  const std::string stats = c.Call("stats\r\n", "END\r\n");
  EXPECT_NE(stats.find("STAT curr_items 40\r\n"), std::string::npos) << stats;
  EXPECT_NE(stats.find("STAT cmd_get 60\r\n"), std::string::npos) << stats;
  EXPECT_NE(stats.find("STAT get_hits 40\r\n"), std::string::npos) << stats;
  EXPECT_NE(stats.find("STAT get_misses 20\r\n"), std::string::npos) << stats;
  EXPECT_NE(stats.find("STAT threads " + std::to_string(GetParam().threads) + "\r\n"),
            std::string::npos);
  EXPECT_NE(
      stats.find("STAT io_backend " + std::string(GetParam().io == "uring" ? "io_uring" : "epoll")),
      std::string::npos)
      << stats;
  EXPECT_EQ(c.Call("stats reset\r\n"), "RESET\r\n");
  EXPECT_NE(c.Call("stats\r\n", "END\r\n").find("STAT cmd_get 0\r\n"), std::string::npos);
}

TEST_P(ServerTest, LargeValuesRoundTrip) {
  Client c(server_->port());
  const std::string value((1 << 20) - 512, 'v');
  EXPECT_EQ(c.Call("set big 0 0 " + std::to_string(value.size()) + "\r\n" + value + "\r\n"),
            "STORED\r\n");
  const std::string want =
      "VALUE big 0 " + std::to_string(value.size()) + "\r\n" + value + "\r\nEND\r\n";
  ASSERT_TRUE(c.Send("get big\r\n"));
  EXPECT_EQ(c.Read(want.size()), want);
  // Too large: memcached's error, and the old value is gone.
  const std::string huge((1 << 20) + 1, 'h');
  EXPECT_EQ(c.Call("set big 0 0 " + std::to_string(huge.size()) + "\r\n" + huge + "\r\n"),
            "SERVER_ERROR object too large for cache\r\n");
  EXPECT_EQ(c.Call("get big\r\n", "END\r\n"), "END\r\n");
}

// With zero-copy sends on for every answer (io_uring; epoll ignores the flag), answers still
// arrive whole and in order.
TEST_P(ServerTest, ZeroCopySendsDeliverTheSameBytes) {
  ServerProcess zc(Args({"--send_zc_threshold=1"}));
  ASSERT_GT(zc.port(), 0);
  Client c(zc.port());
  std::string batch;
  std::string want;
  for (int i = 0; i < 20; ++i) {
    const std::string value(i % 2 == 0 ? 300'000 : 10, static_cast<char>('a' + i));
    batch += "set " + Key(i) + " 0 0 " + std::to_string(value.size()) + "\r\n" + value + "\r\n";
    batch += "get " + Key(i) + "\r\n";
    want += "STORED\r\nVALUE " + Key(i) + " 0 " + std::to_string(value.size()) + "\r\n" + value +
            "\r\nEND\r\n";
  }
  ASSERT_TRUE(c.Send(batch));
  EXPECT_EQ(c.Read(want.size()), want);
}

TEST_P(ServerTest, ManyClientsAtOnce) {
  std::vector<std::unique_ptr<Client>> clients;
  for (int i = 0; i < 50; ++i) {
    clients.push_back(std::make_unique<Client>(server_->port()));
    ASSERT_TRUE(clients.back()->ok());
  }
  for (int i = 0; i < 50; ++i) {
    ASSERT_TRUE(clients[i]->Send("set " + Key(i) + " 0 0 2\r\n" + std::to_string(10 + i) + "\r\n"));
  }
  for (int i = 0; i < 50; ++i) EXPECT_EQ(clients[i]->ReadUntil("\r\n"), "STORED\r\n");
  for (int i = 0; i < 50; ++i) {
    EXPECT_EQ(clients[(i + 1) % 50]->Call("get " + Key(i) + "\r\n", "END\r\n"),
              "VALUE " + Key(i) + " 0 2\r\n" + std::to_string(10 + i) + "\r\nEND\r\n");
  }
}

TEST_P(ServerTest, ExtraConnectionsAreRefusedWithMemcachedsError) {
  ServerProcess small(Args({"--max_connections=2"}));
  ASSERT_GT(small.port(), 0);
  Client a(small.port()), b(small.port());
  EXPECT_EQ(a.Call("mn\r\n"), "MN\r\n");
  EXPECT_EQ(b.Call("mn\r\n"), "MN\r\n");
  Client c(small.port());
  EXPECT_EQ(c.ReadUntil("\r\n"), "ERROR Too many open connections\r\n");
  EXPECT_TRUE(c.Closed());
  EXPECT_EQ(a.Call("mn\r\n"), "MN\r\n");
}

TEST_P(ServerTest, SigtermFinishesWhatClientsAlreadySent) {
  Client c(server_->port());
  std::string batch;
  std::string want;
  for (int i = 0; i < 3000; ++i) {
    batch += "set " + Key(i) + " 0 0 4\r\nabcd\r\nget " + Key(i) + "\r\n";
    want += "STORED\r\nVALUE " + Key(i) + " 0 4\r\nabcd\r\nEND\r\n";
  }
  ASSERT_TRUE(c.Send(batch));
  ASSERT_EQ(c.Read(8), "STORED\r\n");  // the server is working on it
  kill(server_->pid(), SIGTERM);
  EXPECT_EQ(c.Read(want.size() - 8), want.substr(8));
  EXPECT_TRUE(c.Closed());
  EXPECT_EQ(server_->Stop(), 0);
}

INSTANTIATE_TEST_SUITE_P(Backends, ServerTest,
                         ::testing::Values(Setup{"epoll", 1}, Setup{"epoll", 2}, Setup{"uring", 1},
                                           Setup{"uring", 2}),
                         Name);

}  // namespace
}  // namespace spillway::testing
