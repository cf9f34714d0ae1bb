#include "server/server.h"

#include <arpa/inet.h>
#include <glog/logging.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <ctime>

#include "server/shard.h"

namespace spillway::server {
namespace {

// A listening socket on address:port with SO_REUSEPORT, so that every shard has its own and the
// kernel spreads new connections over them. -1 on failure (logged).
int ListenOn(const std::string& address, int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, address.c_str(), &addr.sin_addr) != 1) {
    LOG(ERROR) << "--listen " << address << ": not an IPv4 address";
    return -1;
  }
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    PLOG(ERROR) << "socket";
    return -1;
  }
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  // Inherited by every accepted connection. Without it an answer sent in two parts (a multi-get
  // whose keys other shards answer) waits for the client's delayed ACK: 40 ms. memcached sets it.
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || listen(fd, 1024) != 0) {
    PLOG(ERROR) << "cannot listen on " << address << ":" << port;
    close(fd);
    return -1;
  }
  return fd;
}

// Whether nothing else is bound to address:port. A plain bind (no SO_REUSEPORT) fails while any
// socket is: the shards' SO_REUSEPORT, which spreads connections over them, would otherwise let a
// second server join the port and silently take a share of the clients (and so of the keys:
// each server would answer with its own, possibly older, values). memcached refuses a busy port.
bool PortFree(const std::string& address, int port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, address.c_str(), &addr.sin_addr) != 1) return true;  // ListenOn says
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return true;
  const int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);  // old connections in TIME_WAIT
  const bool free =
      bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 || errno != EADDRINUSE;
  close(fd);
  return free;
}

int BoundPort(int fd) {
  sockaddr_in addr{};
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  return ntohs(addr.sin_port);
}

}  // namespace

Server::Server(const ServerOptions& options) : options_(options) {
  parser_options_.max_item_size = options.max_item_size;
  parser_options_.max_line_length = options.max_line_length;
  shutdown_fd_ = eventfd(0, EFD_CLOEXEC);
  PCHECK(shutdown_fd_ >= 0) << "eventfd";
}

Server::~Server() {
  for (auto& shard : shards_) shard->Stop();
  shards_.clear();
  close(shutdown_fd_);
}

bool Server::Start() {
  started_ = std::time(nullptr);
  // Before anything else (the data directory above all) is touched.
  if (options_.port != 0 && !PortFree(options_.listen, options_.port)) {
    LOG(ERROR) << "cannot listen on " << options_.listen << ":" << options_.port
               << ": Address already in use (another server is running there)";
    return false;
  }
  if (options_.threads == 0) options_.threads = 1;
  storage::Options store;
  store.memory_limit_bytes = options_.memory_limit_bytes / options_.threads;
  // The largest item (header, key and value, as memcached's -I counts it) is one segment.
  store.segment_size = (options_.max_item_size + 4095) / 4096 * 4096;
  std::vector<std::unique_ptr<storage::Disk>> disks(options_.threads);
  if (options_.disk_limit_bytes > 0) {
    std::string error;
    if (!data_dir_.Open(options_.data_dir, options_.threads, &error)) {
      LOG(ERROR) << "--data_dir: " << error;
      return false;
    }
    LOG(INFO) << data_dir_.how();
    for (uint32_t i = 0; i < options_.threads; ++i) {
      storage::DiskOptions d;
      d.path = data_dir_.ShardPath(i);
      d.limit_bytes = options_.disk_limit_bytes / options_.threads;
      // Disk reads through io_uring unless the server was told to keep off it.
      d.io_uring = options_.io != "epoll";
      disks[i] = storage::Disk::Open(d, &error);
      if (!disks[i]) {
        LOG(ERROR) << "cannot open the spill database " << d.path << ": " << error;
        return false;
      }
    }
  }
  std::string why_not;
  for (uint32_t i = 0; i < options_.threads; ++i) {
    std::unique_ptr<EventLoop> loop;
    // The loop's handler is the shard, made just after; a two-step start keeps the loop a
    // member of the shard.
    shards_.push_back(nullptr);
    auto make = [&](LoopHandler* handler) -> std::unique_ptr<EventLoop> {
      if (options_.io != "epoll") {
        auto uring = MakeUringLoop(handler, &why_not);
        if (uring) return uring;
        if (options_.io == "uring") return nullptr;
      }
      return MakeEpollLoop(handler);
    };
    shards_[i] = std::make_unique<Shard>(this, i, make, store, std::move(disks[i]),
                                         data_dir_.warm(), data_dir_.flushed_below(i));
    if (!shards_[i]->has_loop()) {
      LOG(ERROR) << "--io=uring: io_uring is not usable here: " << why_not;
      return false;
    }
  }
  io_backend_ = std::string(shards_[0]->loop().name());
  if (options_.io == "auto" && io_backend_ == "epoll") {
    LOG(WARNING) << "io_uring not usable (" << why_not << "); running on epoll";
  }
  int port = options_.port;
  std::vector<int> fds;
  for (uint32_t i = 0; i < shards_.size(); ++i) {
    const int fd = ListenOn(options_.listen, port);
    if (fd < 0) {
      for (int f : fds) close(f);
      return false;
    }
    if (i == 0) port = BoundPort(fd);  // --port 0: the others join the port the kernel chose
    fds.push_back(fd);
  }
  port_ = port;
  // Counted before the shards start: from then on each tier belongs to its shard's thread.
  uint64_t on_disk = 0;
  if (options_.disk_limit_bytes > 0) {
    for (auto& shard : shards_) on_disk += shard->tier()->stats().items;
  }
  for (uint32_t i = 0; i < shards_.size(); ++i) shards_[i]->Start(fds[i]);
  LOG(INFO) << "spillway " << options_.version << " listening on " << options_.listen << ":"
            << port_ << ", " << shards_.size() << " shard(s) on " << io_backend_ << ", "
            << (options_.memory_limit_bytes >> 20) << " MiB";
  if (options_.disk_limit_bytes > 0) {
    LOG(INFO) << "spill tier: " << options_.data_dir << ", " << (options_.disk_limit_bytes >> 20)
              << " MiB; " << on_disk << " items on disk";
  }
  return true;
}

void Server::Wait() {
  uint64_t value;
  while (read(shutdown_fd_, &value, sizeof value) < 0 && errno == EINTR) {
  }
  // Graceful: every shard finishes what its clients asked for (5 s at most), then stops.
  LOG(INFO) << "shutting down: finishing in-flight requests";
  for (auto& shard : shards_) shard->Drain(/*deadline_seconds=*/5);
  for (auto& shard : shards_) shard->Join();
  if (options_.disk_limit_bytes > 0) Persist();
}

void Server::Persist() {
  // Warm restart: the memory tier goes to disk, and only once all of it is there does the
  // marker say so.
  std::vector<uint64_t> flushed_below;
  bool ok = true;
  uint64_t items = 0;
  for (auto& shard : shards_) {
    items += shard->store().stats().items;
    uint64_t below = 0;
    ok &= shard->tier()->Persist(std::time(nullptr), &below);
    flushed_below.push_back(below);
  }
  std::string error;
  if (!ok || !data_dir_.MarkClean(flushed_below, &error)) {
    LOG(ERROR) << "the spill tier could not be saved (" << error
               << "): the next start will be cold";
    return;
  }
  LOG(INFO) << "clean shutdown: " << items << " items from memory written to " << options_.data_dir;
}

void Server::Shutdown() {
  const uint64_t one = 1;
  // Async-signal-safe: a write to an eventfd.
  [[maybe_unused]] const ssize_t n = write(shutdown_fd_, &one, sizeof one);
}

}  // namespace spillway::server
