// The epoll backend: an edge-triggered reactor that performs reads and writes itself and reports
// them as completions. Every callback the contract calls "later" (OnSent, OnClosed, a read after
// ResumeReceive) goes through deferred_, drained once per turn, so no callback ever runs inside
// a call the handler made.

#include <fcntl.h>
#include <glog/logging.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <vector>

#include "server/event_loop.h"
#include "server/internal/conn_table.h"

namespace spillway::server {
namespace {

using internal::ConnTable;

// epoll tokens with generation 0 (never a ConnId): the loop's own descriptors.
constexpr uint64_t kWakeToken = 0;
constexpr uint64_t kTickToken = 1;
constexpr uint64_t kFirstListenToken = 2;

constexpr size_t kReadBufferSize = 64 * 1024;
// Reads per readiness event before the connection yields to the others (edge-triggered: the rest
// is read from the deferred queue, since no new edge will come for it).
constexpr int kReadsPerTurn = 16;
constexpr int kMaxEvents = 256;

struct Conn {
  int fd = -1;
  bool closing = false;       // Close() was called; only OnClosed may follow
  bool paused = false;        // PauseReceive
  bool hung_up = false;       // OnHangup delivered
  bool send_busy = false;     // a Send whose OnSent has not been delivered
  bool send_waiting = false;  // ... and still waiting for EPOLLOUT
  const iovec* send_iov = nullptr;
  int send_count = 0;
};

class EpollLoop final : public EventLoop {
 public:
  explicit EpollLoop(LoopHandler* handler) : handler_(handler), buffer_(kReadBufferSize) {
    epoll_fd_ = epoll_create1(EPOLL_CLOEXEC);
    PCHECK(epoll_fd_ >= 0) << "epoll_create1";
    wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    PCHECK(wake_fd_ >= 0) << "eventfd";
    tick_fd_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
    PCHECK(tick_fd_ >= 0) << "timerfd_create";
    Watch(wake_fd_, EPOLLIN, kWakeToken);
    Watch(tick_fd_, EPOLLIN, kTickToken);
  }

  ~EpollLoop() override {
    conns_.ForEach([](ConnId, Conn& c) {
      if (c.fd >= 0) close(c.fd);
    });
    for (int fd : listen_fds_) {
      if (fd >= 0) close(fd);
    }
    close(tick_fd_);
    close(wake_fd_);
    close(epoll_fd_);
  }

  std::string_view name() const override { return "epoll"; }

  void Listen(int listen_fd) override {
    const int flags = fcntl(listen_fd, F_GETFL);
    if (flags >= 0 && !(flags & O_NONBLOCK)) fcntl(listen_fd, F_SETFL, flags | O_NONBLOCK);
    Watch(listen_fd, EPOLLIN | EPOLLET, kFirstListenToken + listen_fds_.size());
    listen_fds_.push_back(listen_fd);
  }

  void StopListening() override {
    for (int& fd : listen_fds_) {
      if (fd < 0) continue;
      epoll_ctl(epoll_fd_, EPOLL_CTL_DEL, fd, nullptr);
      close(fd);
      fd = -1;  // the slot stays, so that a listener's token keeps its meaning
    }
  }

  ConnId Adopt(int connected_fd) override {
    const int flags = fcntl(connected_fd, F_GETFL);
    if (flags >= 0 && !(flags & O_NONBLOCK)) fcntl(connected_fd, F_SETFL, flags | O_NONBLOCK);
    auto [id, c] = conns_.Add();
    c->fd = connected_fd;
    // As for an accepted socket; EPOLL_CTL_ADD reports bytes that are already waiting.
    Watch(connected_fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, id);
    return id;
  }

  void Send(ConnId id, const iovec* iov, int count) override {
    Conn* c = conns_.Find(id);
    if (c == nullptr || c->closing) return;  // a dying connection swallows what it is given
    DCHECK(!c->send_busy) << "one Send per connection at a time";
    DCHECK(count > 0 && count <= kMaxIov);
    c->send_busy = true;
    c->send_iov = iov;
    c->send_count = count;
    TrySend(id, *c);
  }

  // Zero copy is io_uring's (SENDMSG_ZC); a reactor's own sendmsg copies.
  void SetZeroCopyThreshold(size_t) override {}

  void PauseReceive(ConnId id) override {
    if (Conn* c = conns_.Find(id)) c->paused = true;
  }

  void ResumeReceive(ConnId id) override {
    Conn* c = conns_.Find(id);
    if (c == nullptr || !c->paused) return;
    c->paused = false;
    // Edge-triggered: bytes that came during the pause raise no new edge; read them now.
    deferred_.push_back({Deferred::kRead, id, 0});
  }

  void Close(ConnId id) override {
    Conn* c = conns_.Find(id);
    if (c == nullptr || c->closing) return;
    c->closing = true;
    shutdown(c->fd, SHUT_RDWR);
    close(c->fd);  // also leaves the epoll set
    c->fd = -1;
    deferred_.push_back({Deferred::kClosed, id, 0});
  }

  void SetTick(std::chrono::nanoseconds period) override {
    itimerspec spec{};
    const auto ns = period.count() > 0 ? period.count() : 0;
    spec.it_interval.tv_sec = ns / 1'000'000'000;
    spec.it_interval.tv_nsec = ns % 1'000'000'000;
    spec.it_value = spec.it_interval;
    PCHECK(timerfd_settime(tick_fd_, 0, &spec, nullptr) == 0) << "timerfd_settime";
  }

  void Wake() override {
    wake_.store(true, std::memory_order_release);
    Poke();
  }

  void Stop() override {
    stop_.store(true, std::memory_order_release);
    Poke();
  }

  void Run() override {
    epoll_event events[kMaxEvents];
    while (true) {
      const int n = epoll_wait(epoll_fd_, events, kMaxEvents, deferred_.empty() ? -1 : 0);
      PCHECK(n >= 0 || errno == EINTR) << "epoll_wait";
      for (int i = 0; i < n; ++i) Dispatch(events[i].data.u64, events[i].events);
      RunDeferred();
      handler_->OnTurnEnd();
      if (stop_.exchange(false, std::memory_order_acq_rel)) return;
    }
  }

 private:
  struct Deferred {
    enum Kind { kSent, kRead, kClosed } kind;
    ConnId id;
    int64_t value;
  };

  void Watch(int fd, uint32_t events, uint64_t token) {
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = token;
    PCHECK(epoll_ctl(epoll_fd_, EPOLL_CTL_ADD, fd, &ev) == 0) << "epoll_ctl";
  }

  void Poke() {
    const uint64_t one = 1;
    // EAGAIN means the counter is saturated: a wake-up is pending anyway.
    [[maybe_unused]] ssize_t r = write(wake_fd_, &one, sizeof one);
  }

  void Dispatch(uint64_t token, uint32_t events) {
    if (token == kWakeToken) {
      uint64_t value;
      [[maybe_unused]] ssize_t r = read(wake_fd_, &value, sizeof value);
      if (wake_.exchange(false, std::memory_order_acq_rel)) handler_->OnWake();
    } else if (token == kTickToken) {
      uint64_t expirations;
      if (read(tick_fd_, &expirations, sizeof expirations) > 0) handler_->OnTick();
    } else if (token < kFirstListenToken + listen_fds_.size()) {
      const int fd = listen_fds_[token - kFirstListenToken];
      if (fd >= 0) Accept(fd);  // not an event from before StopListening in this batch
    } else {
      const ConnId id = token;
      Conn* c = conns_.Find(id);
      if (c == nullptr || c->closing) return;  // an event from before a Close in this batch
      if ((events & (EPOLLOUT | EPOLLERR | EPOLLHUP)) && c->send_waiting) TrySend(id, *c);
      if (c->hung_up) return;
      if (!c->paused) {
        Read(id);
      } else if (events & EPOLLERR) {
        // A reset connection discards what it had received: report it even while paused.
        int error = 0;
        socklen_t len = sizeof error;
        getsockopt(c->fd, SOL_SOCKET, SO_ERROR, &error, &len);
        if (error != 0) Hangup(id, *c, error);
      }
    }
  }

  void Accept(int listen_fd) {
    while (true) {
      const int fd = accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        if (errno == EINTR || errno == ECONNABORTED) continue;
        // EMFILE and friends: the connection waits in the backlog until the next edge.
        if (errno != EAGAIN) PLOG(WARNING) << "accept4";
        return;
      }
      auto [id, c] = conns_.Add();
      c->fd = fd;
      // Registered once for both directions; with EPOLLET an idle EPOLLOUT costs nothing.
      Watch(fd, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET, id);
      handler_->OnAccept(id);
    }
  }

  // Reads until EAGAIN, the handler pauses or closes, or the per-turn budget is spent.
  void Read(ConnId id) {
    for (int reads = 0; reads < kReadsPerTurn; ++reads) {
      Conn* c = conns_.Find(id);
      if (c == nullptr || c->closing || c->paused || c->hung_up) return;
      const ssize_t n = read(c->fd, buffer_.data(), buffer_.size());
      if (n > 0) {
        handler_->OnReceive(id, std::string_view(buffer_.data(), static_cast<size_t>(n)));
      } else if (n == 0) {
        Hangup(id, *c, 0);
        return;
      } else if (errno == EAGAIN) {
        return;
      } else if (errno != EINTR) {
        Hangup(id, *c, errno);
        return;
      }
    }
    deferred_.push_back({Deferred::kRead, id, 0});
  }

  void Hangup(ConnId id, Conn& c, int error) {
    c.hung_up = true;
    handler_->OnHangup(id, error);
  }

  void TrySend(ConnId id, Conn& c) {
    msghdr msg{};
    msg.msg_iov = const_cast<iovec*>(c.send_iov);
    msg.msg_iovlen = static_cast<size_t>(c.send_count);
    ssize_t n;
    do {
      n = sendmsg(c.fd, &msg, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    if (n < 0 && errno == EAGAIN) {
      c.send_waiting = true;
      return;
    }
    c.send_waiting = false;
    deferred_.push_back({Deferred::kSent, id, n >= 0 ? n : -errno});
  }

  void RunDeferred() {
    std::vector<Deferred> work;
    work.swap(deferred_);
    for (const Deferred& d : work) {
      Conn* c = conns_.Find(d.id);
      if (c == nullptr) continue;
      switch (d.kind) {
        case Deferred::kClosed:
          conns_.Remove(d.id);
          handler_->OnClosed(d.id);
          break;
        case Deferred::kSent:
          if (c->closing) break;
          c->send_busy = false;
          c->send_iov = nullptr;
          handler_->OnSent(d.id, d.value);
          break;
        case Deferred::kRead:
          Read(d.id);
          break;
      }
    }
  }

  LoopHandler* const handler_;
  int epoll_fd_ = -1;
  int wake_fd_ = -1;
  int tick_fd_ = -1;
  std::vector<int> listen_fds_;
  ConnTable<Conn> conns_;
  std::vector<Deferred> deferred_;
  std::vector<char> buffer_;
  std::atomic<bool> wake_{false};
  std::atomic<bool> stop_{false};
};

}  // namespace

std::unique_ptr<EventLoop> MakeEpollLoop(LoopHandler* handler) {
  return std::make_unique<EpollLoop>(handler);
}

}  // namespace spillway::server
