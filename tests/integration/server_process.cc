#include "tests/integration/server_process.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace spillway::testing {
namespace {

constexpr int kTimeoutMs = 10'000;

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

}  // namespace

ServerProcess::ServerProcess(std::vector<std::string> args) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return;
  args.insert(args.begin(), SPILLWAY_BINARY);
  args.push_back("--port=0");
  args.push_back("--ready_fd=" + std::to_string(fds[1]));
  pid_ = fork();
  if (pid_ == 0) {
    fcntl(fds[1], F_SETFD, 0);  // the ready fd survives exec
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    _exit(127);
  }
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

int ServerProcess::Stop() {
  if (pid_ <= 0) return -1;
  kill(pid_, SIGTERM);
  int status = 0;
  if (!WaitFor(pid_, &status, kTimeoutMs)) {
    kill(pid_, SIGKILL);
    waitpid(pid_, &status, 0);
    pid_ = -1;
    return -1;
  }
  pid_ = -1;
  return status;
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0) Stop();
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

}  // namespace spillway::testing
