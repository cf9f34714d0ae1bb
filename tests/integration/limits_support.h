// Shared by the integration tests that push the real server to its limits: the backends
// and shard counts they run on, process and socket helpers the harness does not have, and their
// fixture.

#ifndef SPILLWAY_TESTS_INTEGRATION_LIMITS_SUPPORT_H_
#define SPILLWAY_TESTS_INTEGRATION_LIMITS_SUPPORT_H_

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tests/integration/server_process.h"
#include "tests/support/oracle.h"

namespace spillway::testing {

using Clock = std::chrono::steady_clock;

inline int64_t MillisSince(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

struct Setup {
  std::string io;
  int threads;
};

inline std::string Name(const ::testing::TestParamInfo<Setup>& info) {
  return info.param.io + "_" + std::to_string(info.param.threads) + "shards";
}

inline std::vector<std::string> ArgsFor(const Setup& setup, std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"--io=" + setup.io, "--threads=" + std::to_string(setup.threads),
                                   "--memory_limit=64"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

// ---- Process and socket helpers the harness does not have.

// Resident memory of `pid` in KiB, from /proc; -1 when unreadable.
inline int64_t VmRssKib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("VmRSS:")) return std::atoll(line.c_str() + 6);
  }
  return -1;
}

// True while `pid` has not exited. Does not reap it: ServerProcess does that.
inline bool Running(pid_t pid) {
  siginfo_t info{};
  if (waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0) return false;
  return info.si_pid == 0;
}

// Waits up to `timeout_ms` for `pid` to exit, without reaping it. On exit, *exit_code is the
// exit status, or 128 + the signal that killed it.
inline bool WaitForExit(pid_t pid, int timeout_ms, int* exit_code) {
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) return false;
  pollfd p{pidfd, POLLIN, 0};
  poll(&p, 1, timeout_ms);
  close(pidfd);
  siginfo_t info{};
  if (waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0) return false;
  if (info.si_pid != pid) return false;
  *exit_code = info.si_code == CLD_EXITED ? info.si_status : 128 + info.si_status;
  return true;
}

// After a read that ended without its terminator: did the peer close (EOF or reset)? Waits up
// to the client's receive timeout.
inline bool PeerClosed(Client& c) {
  char byte;
  const ssize_t n = recv(c.fd(), &byte, 1, 0);
  return n == 0 || (n < 0 && (errno == ECONNRESET || errno == EPIPE));
}

// Reads until the peer closes (or the receive timeout passes): everything received.
inline std::string ReadToEnd(Client& c) {
  return c.ReadUntil(std::string_view("\x01\x02\x03\x04", 4));
}

// One send() per byte: the server sees every possible split of every request.
inline bool SendBytewise(Client& c, std::string_view bytes) {
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (!c.Send(bytes.substr(i, 1))) return false;
  }
  return true;
}

// A readable rendering of protocol bytes for failure messages, cut to a useful length.
inline std::string Printable(std::string_view s, size_t max = 400) {
  std::string out;
  for (size_t i = 0; i < s.size() && i < max; ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '\r') {
      out += "\\r";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\\') {
      out += "\\\\";
    } else if (c < 0x20 || c >= 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  if (s.size() > max) out += "...(" + std::to_string(s.size()) + " bytes)";
  return out;
}

// Where two large byte strings first differ, for a failure message that does not print MBs.
inline std::string FirstDifference(std::string_view got, std::string_view want) {
  size_t at = 0;
  while (at < got.size() && at < want.size() && got[at] == want[at]) ++at;
  if (at == got.size() && at == want.size()) return "";
  const size_t from = at < 40 ? 0 : at - 40;
  return "first difference at byte " + std::to_string(at) + " (got " + std::to_string(got.size()) +
         " bytes, want " + std::to_string(want.size()) + "): got ..." +
         Printable(got.substr(from, 120)) + " want ..." + Printable(want.substr(from, 120));
}

class ServerLimitsTest : public ::testing::TestWithParam<Setup> {
 protected:
  void SetUp() override {
    if (GetParam().io == "uring" && !UringUsable()) {
      GTEST_SKIP() << "io_uring is not usable on this kernel (spillway --io=uring says why)";
    }
  }
  std::vector<std::string> Args(std::vector<std::string> extra = {}) const {
    return ArgsFor(GetParam(), std::move(extra));
  }
  std::unique_ptr<ServerProcess> Start(std::vector<std::string> extra = {}) const {
    auto server = std::make_unique<ServerProcess>(Args(std::move(extra)));
    EXPECT_GT(server->port(), 0) << "the server did not start";
    return server;
  }
};

}  // namespace spillway::testing

#endif  // SPILLWAY_TESTS_INTEGRATION_LIMITS_SUPPORT_H_
