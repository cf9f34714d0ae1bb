#include "tests/integration/server_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

namespace spillway::testing {
namespace {

constexpr int kTimeoutMs = 10'000;
// How much of a server's log a failure prints: its end, where the reason usually is.
constexpr size_t kLogTailBytes = 64 << 10;

// waitpid with a deadline; true when the child was reaped. Waits on a pidfd (glibc 2.36 has no
// wrapper for pidfd_open, hence the syscall).
bool WaitFor(pid_t pid, int* status, int timeout_ms) {
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd >= 0) {
    pollfd p{pidfd, POLLIN, 0};
    poll(&p, 1, timeout_ms);
    close(pidfd);
  }
  return waitpid(pid, status, WNOHANG) == pid;
}

// Whether something accepts connections on 127.0.0.1:port.
bool Accepts(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool accepted = connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return accepted;
}

// Waits until the previous server on `port` is really gone. With --io=uring its sockets outlive
// the reaped process by a few milliseconds (the kernel tears an io_uring instance down after its
// task exits); SO_REUSEPORT would let the new server bind beside the old listener, and a
// connection could then land on the dying one and be reset.
void WaitUntilPortClosed(int port) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(kTimeoutMs);
  while (Accepts(port) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));  // only the polling interval
  }
}

}  // namespace

TempDir::TempDir() {
  const char* tmp = std::getenv("TMPDIR");
  std::string name =
      std::string(tmp != nullptr && *tmp != '\0' ? tmp : "/tmp") + "/spillway-test-XXXXXX";
  if (mkdtemp(name.data()) != nullptr) path_ = std::move(name);
}

TempDir::~TempDir() {
  std::error_code ignored;
  if (!path_.empty()) std::filesystem::remove_all(path_, ignored);
}

ServerProcess::ServerProcess(std::vector<std::string> args) {
  if (scratch_.path().empty()) return;
  log_path_ = scratch_.path() + "/server.log";
  int given_port = -1;
  for (const std::string& a : args) {
    for (const std::string_view flag : {"--data_dir=", "--data-dir="}) {
      if (a.starts_with(flag)) data_dir_ = a.substr(flag.size());
    }
    if (a.starts_with("--port=")) given_port = std::atoi(a.c_str() + 7);
  }
  if (given_port > 0) WaitUntilPortClosed(given_port);
  if (data_dir_.empty()) {
    // Inside the scratch directory, so that the log (which the server may not wipe) sits next
    // to it and both go when this does.
    data_dir_ = scratch_.path() + "/data";
    if (mkdir(data_dir_.c_str(), 0700) != 0) return;
    args.push_back("--data_dir=" + data_dir_);
  }
  const int log_fd = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log_fd < 0) return;
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    close(log_fd);
    return;
  }
  args.insert(args.begin(), SPILLWAY_BINARY);
  // gflags keeps the last value of a flag, so a --port=0 after the caller's would win.
  if (given_port < 0) args.push_back("--port=0");
  args.push_back("--ready_fd=" + std::to_string(fds[1]));
  pid_ = fork();
  if (pid_ == 0) {
    fcntl(fds[1], F_SETFD, 0);    // the ready fd survives exec
    dup2(log_fd, STDERR_FILENO);  // and so does stderr, dup2 clearing close-on-exec
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
  close(log_fd);
  close(fds[1]);
  pollfd p{fds[0], POLLIN, 0};
  std::string line;
  while (poll(&p, 1, kTimeoutMs) == 1) {
    char buf[32];
    const ssize_t n = read(fds[0], buf, sizeof buf);
    if (n <= 0) break;
    line.append(buf, static_cast<size_t>(n));
    if (line.find('\n') != std::string::npos) break;
  }
  close(fds[0]);
  if (!line.empty() && line.back() == '\n') port_ = std::atoi(line.c_str());
}

std::string ServerProcess::Log() const {
  std::ifstream in(log_path_, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

int ServerProcess::Stop() {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  int status = 0;
  if (!WaitFor(pid_, &status, kTimeoutMs)) {
    kill(pid_, SIGKILL);
    waitpid(pid_, &status, 0);
    pid_ = -1;
    status_ = status;
    expected_ = false;
    return -1;
  }
  pid_ = -1;
  status_ = status;
  if (status != 0) expected_ = false;
  return status;
}

int ServerProcess::Kill() {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGKILL);
  int status = 0;
  const pid_t reaped = waitpid(pid_, &status, 0);
  pid_ = -1;
  if (reaped < 0) return -1;
  status_ = status;
  return status;
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) Stop();
  // The log lives in the scratch directory, which goes with this: show it while it can help.
  if ((!expected_ || ::testing::Test::HasFailure()) && !log_path_.empty()) {
    std::string log = Log();
    if (log.size() > kLogTailBytes) log = "...\n" + log.substr(log.size() - kLogTailBytes);
    std::cerr << "---- spillway log (port " << port_ << ", wait status " << status_ << ") ----\n"
              << log << "---- end of spillway log ----\n";
  }
}

bool UringUsable() {
  static const bool usable = ServerProcess({"--io=uring", "--threads=1"}).port() > 0;
  return usable;
}

Client::Client(int port) {
  fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{kTimeoutMs / 1000, 0};
  setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  const int one = 1;
  setsockopt(fd_, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    close(fd_);
    fd_ = -1;
  }
}

Client::~Client() {
  if (fd_ >= 0) close(fd_);
}

bool Client::Send(std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) return false;
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return true;
}

std::string Client::Read(size_t bytes) {
  while (pending_.size() < bytes) {
    char buf[65536];
    const ssize_t n = recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) break;
    pending_.append(buf, static_cast<size_t>(n));
  }
  const size_t take = std::min(bytes, pending_.size());
  std::string out = pending_.substr(0, take);
  pending_.erase(0, take);
  return out;
}

std::string Client::ReadUntil(std::string_view terminator) {
  for (;;) {
    const size_t at = pending_.find(terminator);
    if (at != std::string::npos) {
      std::string out = pending_.substr(0, at + terminator.size());
      pending_.erase(0, at + terminator.size());
      return out;
    }
    char buf[65536];
    const ssize_t n = recv(fd_, buf, sizeof buf, 0);
    if (n <= 0) {
      std::string out = std::move(pending_);
      pending_.clear();
      return out;
    }
    pending_.append(buf, static_cast<size_t>(n));
  }
}

std::string Client::Call(std::string_view request, std::string_view terminator) {
  if (!Send(request)) return "<send failed>";
  return ReadUntil(terminator);
}

bool Client::Closed() {
  if (!pending_.empty()) return false;
  char c;
  return recv(fd_, &c, 1, 0) == 0;
}

StatsMap Stats(Client& c) {
  const std::string answer = c.Call("stats\r\n", "END\r\n");
  StatsMap stats;
  if (!answer.ends_with("END\r\n")) return stats;
  std::istringstream lines(answer);
  for (std::string line; std::getline(lines, line);) {
    if (!line.starts_with("STAT ")) continue;
    if (line.ends_with('\r')) line.pop_back();
    const size_t space = line.find(' ', 5);
    if (space == std::string::npos) continue;
    stats[line.substr(5, space - 5)] = line.substr(space + 1);
  }
  return stats;
}

std::optional<int64_t> StatNumber(const StatsMap& stats, const std::string& name) {
  const auto it = stats.find(name);
  if (it == stats.end() || it->second.empty()) return std::nullopt;
  char* end = nullptr;
  const long long value = std::strtoll(it->second.c_str(), &end, 10);
  if (*end != '\0') return std::nullopt;
  return value;
}

bool WaitForServerTime(Client& c, int64_t unix_seconds) {
  const auto target = std::chrono::system_clock::from_time_t(unix_seconds);
  if (target - std::chrono::system_clock::now() > std::chrono::minutes(1)) return false;
  const auto deadline = target + std::chrono::milliseconds(kTimeoutMs);
  for (;;) {
    const std::optional<int64_t> now = StatNumber(Stats(c), "time");
    if (!now) return false;
    if (*now >= unix_seconds) return true;
    if (std::chrono::system_clock::now() > deadline) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // only the polling interval
  }
}

}  // namespace spillway::testing
