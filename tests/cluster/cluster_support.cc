#include "tests/cluster/cluster_support.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <utility>

namespace spillway::testing {
namespace {

// Requests in flight on one socket: small enough that neither side's socket buffers fill while
// the other is not reading, large enough that 10,000 keys take a few dozen round trips.
constexpr size_t kBatch = 256;

sockaddr_in Loopback(int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

std::string Chomp(std::string line) {
  if (line.ends_with("\r\n")) line.resize(line.size() - 2);
  return line;
}

// Reads the answer to one get: "END", or "VALUE <key> <flags> <bytes>", the data and "END".
GetAnswer ReadGetAnswer(Client& c) {
  GetAnswer answer;
  const std::string line = c.ReadUntil("\r\n");
  if (line == "END\r\n") return answer;
  if (!line.starts_with("VALUE ")) {
    answer.error = line.empty() ? "<connection closed>" : Chomp(line);
    return answer;
  }
  const size_t bytes = std::strtoul(line.c_str() + line.rfind(' ') + 1, nullptr, 10);
  std::string data = c.Read(bytes + 2);
  const std::string end = c.ReadUntil("\r\n");
  if (data.size() != bytes + 2 || !data.ends_with("\r\n") || end != "END\r\n") {
    answer.error = "<bad answer: " + Chomp(line) + ">";
    return answer;
  }
  data.resize(bytes);
  answer.value = std::move(data);
  return answer;
}

}  // namespace

std::string BackendName(const ::testing::TestParamInfo<std::string>& info) { return info.param; }

std::string Key(std::string_view prefix, int i) {
  return std::string(prefix) + ":" + std::to_string(i);
}

std::string Value(std::string_view prefix, int i) {
  return std::string(prefix) + "-value-" + std::to_string(i) + std::string(i % 61, 'v');
}

Nodes::Nodes(std::string io, size_t count) : io_(std::move(io)) {
  for (size_t i = 0; i < count; ++i) {
    nodes_.push_back(std::make_unique<ServerProcess>(Args(0)));
    ports_.push_back(nodes_.back()->port());
  }
}

std::vector<std::string> Nodes::Args(int port) const {
  // Two shards, so that keys also cross shards inside a node; --disk_limit=0: no spill tier.
  return {"--io=" + io_, "--threads=2", "--memory_limit=32", "--disk_limit=0",
          "--port=" + std::to_string(port)};
}

bool Nodes::ok() const {
  for (const auto& node : nodes_) {
    if (node->port() <= 0) return false;
  }
  return !nodes_.empty();
}

std::vector<client::ServerAddress> Nodes::Addresses() const {
  std::vector<client::ServerAddress> addresses;
  for (const int port : ports_) {
    addresses.push_back({"127.0.0.1", static_cast<uint16_t>(port), 1});
  }
  return addresses;
}

bool Nodes::Restart(size_t i) {
  nodes_[i].reset();  // stops it if the test did not
  nodes_[i] = std::make_unique<ServerProcess>(Args(ports_[i]));
  return nodes_[i]->port() == ports_[i];
}

int64_t Nodes::CurrItems(size_t i) {
  Client c(ports_[i]);
  if (!c.ok()) return -1;
  return StatNumber(Stats(c), "curr_items").value_or(-1);
}

::testing::AssertionResult Nodes::EachHoldsAShare(int64_t total) {
  int64_t sum = 0;
  for (size_t n = 0; n < nodes_.size(); ++n) {
    const int64_t items = CurrItems(n);
    if (items <= 0) return ::testing::AssertionFailure() << "node " << n << " holds no key";
    sum += items;
  }
  if (total >= 0 && sum != total) {
    return ::testing::AssertionFailure() << "the nodes hold " << sum << " items, not " << total;
  }
  return ::testing::AssertionSuccess();
}

std::vector<std::string> PipelineSets(int port, std::span<const std::string> keys,
                                      std::span<const std::string> values) {
  std::vector<std::string> answers;
  Client c(port);
  if (!c.ok()) return answers;
  for (size_t begin = 0; begin < keys.size(); begin += kBatch) {
    const size_t end = std::min(keys.size(), begin + kBatch);
    std::string request;
    for (size_t i = begin; i < end; ++i) {
      request += "set " + keys[i] + " 0 0 " + std::to_string(values[i].size()) + "\r\n";
      request += values[i] + "\r\n";
    }
    if (!c.Send(request)) return answers;
    for (size_t i = begin; i < end; ++i) {
      const std::string line = c.ReadUntil("\r\n");
      if (line.empty()) return answers;
      answers.push_back(Chomp(line));
    }
  }
  return answers;
}

std::vector<GetAnswer> PipelineGets(int port, std::span<const std::string> keys) {
  std::vector<GetAnswer> answers(keys.size());
  Client c(port);
  for (size_t begin = 0; begin < keys.size(); begin += kBatch) {
    const size_t end = std::min(keys.size(), begin + kBatch);
    std::string request;
    for (size_t i = begin; i < end; ++i) request += "get " + keys[i] + "\r\n";
    if (!c.ok() || !c.Send(request)) {
      for (size_t i = begin; i < keys.size(); ++i) answers[i].error = "<send failed>";
      return answers;
    }
    for (size_t i = begin; i < end; ++i) answers[i] = ReadGetAnswer(c);
  }
  return answers;
}

int PickFreePort() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr = Loopback(0);
  socklen_t size = sizeof addr;
  int port = 0;
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &size) == 0) {
    port = ntohs(addr.sin_port);
  }
  close(fd);
  return port;
}

bool Accepts(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  const sockaddr_in addr = Loopback(port);
  const bool ok = connect(fd, reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0;
  close(fd);
  return ok;
}

ChildProcess::ChildProcess(std::vector<std::string> argv, std::string log_path)
    : log_path_(std::move(log_path)) {
  const int log_fd = open(log_path_.c_str(), O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
  if (log_fd < 0) return;
  pid_ = fork();
  if (pid_ == 0) {
    const int null_fd = open("/dev/null", O_RDONLY);
    dup2(null_fd, STDIN_FILENO);
    dup2(log_fd, STDOUT_FILENO);
    dup2(log_fd, STDERR_FILENO);
    std::vector<char*> args;
    for (std::string& a : argv) args.push_back(a.data());
    args.push_back(nullptr);
    execv(args[0], args.data());
    _exit(127);
  }
  close(log_fd);
}

ChildProcess::~ChildProcess() { Kill(); }

bool ChildProcess::Running() {
  if (pid_ <= 0) return false;
  if (waitpid(pid_, &status_, WNOHANG) != pid_) return true;
  pid_ = -1;
  return false;
}

std::optional<int> ChildProcess::Wait(std::chrono::milliseconds timeout) {
  if (pid_ <= 0) return status_;
  // A pidfd becomes readable when the child exits: a deadline without polling in a loop.
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid_, 0));
  if (pidfd >= 0) {
    pollfd p{pidfd, POLLIN, 0};
    poll(&p, 1, static_cast<int>(timeout.count()));
    close(pidfd);
  }
  if (Running()) return std::nullopt;
  return status_;
}

void ChildProcess::Kill() {
  if (pid_ <= 0) return;
  kill(pid_, SIGKILL);
  waitpid(pid_, &status_, 0);
  pid_ = -1;
}

std::string ChildProcess::Output() const {
  std::ifstream in(log_path_, std::ios::binary);
  std::ostringstream out;
  out << in.rdbuf();
  return out.str();
}

}  // namespace spillway::testing
