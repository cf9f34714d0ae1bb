// Both event-loop backends against the same tests: real sockets on 127.0.0.1, the loop on its
// own thread, a blocking test client with timeouts so that nothing can hang.

#include "server/event_loop.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <condition_variable>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

namespace spillway::server {
namespace {

using namespace std::chrono_literals;

constexpr auto kTimeout = 5s;

// Deterministic bytes, so that a lost, doubled or reordered chunk shows up as a mismatch.
std::string Pattern(size_t size, uint32_t seed) {
  std::string s(size, '\0');
  uint32_t x = seed * 2654435761u + 1;
  for (char& c : s) {
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    c = static_cast<char>(x);
  }
  return s;
}

// Records what the loop reports and, when echo is on, sends back what it receives. Callbacks run
// on the loop thread; the test thread looks under mu.
class TestHandler : public LoopHandler {
 public:
  struct Conn {
    std::string out;       // received, not yet sending
    std::string inflight;  // being sent from inflight_offset; stays alive until OnClosed
    size_t inflight_offset = 0;
    iovec iov{};
    bool sending = false;
    bool paused = false;
    bool close_called = false;
    bool closed = false;
    int hangups = 0;
    int hangup_error = -1;
    size_t received = 0;
    size_t sent = 0;
    size_t partial_sends = 0;
    std::string events;  // A accept, R receive, S sent, H hangup, C closed (repeats squeezed)
  };

  std::mutex mu;
  std::condition_variable cv;
  EventLoop* loop = nullptr;
  bool echo = true;
  size_t pause_at = 0;  // if not 0: OnReceive pauses a connection once it has this many bytes
  std::map<ConnId, Conn> conns;
  std::vector<ConnId> accepted;
  std::vector<std::string> violations;
  int closed_count = 0;
  int wakes = 0;
  int ticks = 0;

  // Test thread: runs f on the loop thread (from OnWake) and waits for it.
  void Exec(std::function<void()> f) {
    std::promise<void> done;
    {
      std::lock_guard lock(commands_mu_);
      commands_.push_back([&] {
        f();
        done.set_value();
      });
    }
    loop->Wake();
    if (done.get_future().wait_for(kTimeout) != std::future_status::ready) {
      std::fprintf(stderr, "the loop did not run a command within the timeout\n");
      std::abort();  // f and done are on this stack: nothing sane can follow
    }
  }

  // Test thread: waits until pred() holds (checked under mu).
  bool WaitFor(const std::function<bool()>& pred) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, kTimeout, pred);
  }

  // Loop thread, mu held: what the handler does.
  void Pump(ConnId id, Conn& c) {
    if (c.sending || c.close_called) return;
    if (c.inflight_offset == c.inflight.size()) {
      c.inflight.swap(c.out);
      c.out.clear();
      c.inflight_offset = 0;
    }
    if (c.inflight.empty()) return;
    c.iov = {c.inflight.data() + c.inflight_offset, c.inflight.size() - c.inflight_offset};
    c.sending = true;
    Call([&] { loop->Send(id, &c.iov, 1); });
  }
  void Pause(ConnId id) {
    conns[id].paused = true;
    Call([&] { loop->PauseReceive(id); });
  }
  void Resume(ConnId id) {
    conns[id].paused = false;
    Call([&] { loop->ResumeReceive(id); });
  }
  void CloseConn(ConnId id) {
    conns[id].close_called = true;
    Call([&] { loop->Close(id); });
  }
  void Call(const std::function<void()>& f) {
    in_call_ = true;
    f();
    in_call_ = false;
  }

  void OnAccept(ConnId id) override {
    std::lock_guard lock(mu);
    if (conns.count(id) != 0) Violation("OnAccept: id reused", id);
    Check("OnAccept", id, /*may_be_new=*/true);
    conns[id].events = "A";
    accepted.push_back(id);
    cv.notify_all();
  }
  void OnReceive(ConnId id, std::string_view bytes) override {
    std::lock_guard lock(mu);
    Conn& c = Check("OnReceive", id);
    if (bytes.empty()) Violation("OnReceive: empty", id);
    if (c.paused) Violation("OnReceive while paused", id);
    c.received += bytes.size();
    Note(c, 'R');
    if (echo) {
      c.out.append(bytes);
      Pump(id, c);
    }
    if (pause_at != 0 && c.received >= pause_at && c.received - bytes.size() < pause_at) {
      Pause(id);
    }
    cv.notify_all();
  }
  void OnHangup(ConnId id, int error) override {
    std::lock_guard lock(mu);
    Conn& c = Check("OnHangup", id);
    ++c.hangups;
    c.hangup_error = error;
    Note(c, 'H');
    CloseConn(id);
    cv.notify_all();
  }
  void OnSent(ConnId id, int64_t bytes) override {
    std::lock_guard lock(mu);
    Conn& c = Check("OnSent", id);
    if (!c.sending) Violation("OnSent without Send", id);
    c.sending = false;
    Note(c, 'S');
    if (bytes > 0) {
      if (static_cast<size_t>(bytes) < c.iov.iov_len) ++c.partial_sends;
      c.inflight_offset += static_cast<size_t>(bytes);
      c.sent += static_cast<size_t>(bytes);
      Pump(id, c);
    }
    cv.notify_all();
  }
  void OnClosed(ConnId id) override {
    std::lock_guard lock(mu);
    if (in_call_) Violation("OnClosed inside a call into the loop", id);
    auto it = conns.find(id);
    if (it == conns.end() || it->second.closed || !it->second.close_called) {
      Violation("OnClosed unexpected", id);
    } else {
      it->second.closed = true;
      it->second.events += 'C';
    }
    ++closed_count;
    cv.notify_all();
  }
  void OnWake() override {
    if (in_call_) Violation("OnWake inside a call into the loop", 0);
    std::vector<std::function<void()>> commands;
    {
      std::lock_guard lock(commands_mu_);
      commands.swap(commands_);
    }
    for (auto& command : commands) command();
    std::lock_guard lock(mu);
    ++wakes;
    cv.notify_all();
  }
  void OnTick() override {
    std::lock_guard lock(mu);
    ++ticks;
    cv.notify_all();
  }
  void OnTurnEnd() override {}

 private:
  Conn& Check(const char* what, ConnId id, bool may_be_new = false) {
    if (in_call_) Violation(std::string(what) + " inside a call into the loop", id);
    Conn& c = conns[id];
    if (!may_be_new && c.events.empty()) Violation(std::string(what) + " before OnAccept", id);
    if (c.close_called) Violation(std::string(what) + " after Close", id);
    return c;
  }
  void Note(Conn& c, char event) {
    if (c.events.back() != event) c.events += event;
  }
  void Violation(const std::string& what, ConnId id) {
    violations.push_back(what + " (conn " + std::to_string(id) + ")");
  }

  bool in_call_ = false;
  std::mutex commands_mu_;
  std::vector<std::function<void()>> commands_;
};

// A blocking client socket whose reads and writes give up after kTimeout.
class Client {
 public:
  explicit Client(int port, int rcvbuf = 0) {
    fd_ = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (rcvbuf > 0) setsockopt(fd_, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    timeval tv{};
    tv.tv_sec = std::chrono::seconds(kTimeout).count();
    setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(static_cast<uint16_t>(port));
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = connect(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }
  ~Client() { Close(); }
  void Close() {
    if (fd_ >= 0) close(fd_);
    fd_ = -1;
  }
  bool connected() const { return connected_; }

  bool Write(std::string_view bytes) {
    while (!bytes.empty()) {
      const ssize_t n = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  // Exactly n bytes, or fewer on timeout, EOF or error.
  std::string Read(size_t n) {
    std::string out(n, '\0');
    size_t got = 0;
    while (got < n) {
      const ssize_t r = recv(fd_, out.data() + got, n - got, 0);
      if (r < 0 && errno == EINTR) continue;
      if (r <= 0) break;
      got += static_cast<size_t>(r);
    }
    out.resize(got);
    return out;
  }

 private:
  int fd_ = -1;
  bool connected_ = false;
};

class LoopTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    if (GetParam() == "epoll") {
      loop_ = MakeEpollLoop(&handler_);
    } else {
      std::string why_not;
      loop_ = MakeUringLoop(&handler_, &why_not);
      if (loop_ == nullptr) GTEST_SKIP() << "io_uring not usable here: " << why_not;
    }
    ASSERT_EQ(loop_->name(), GetParam());
    handler_.loop = loop_.get();
    const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    ASSERT_GE(fd, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    // Accepted sockets inherit a small send buffer: sends of any size come out partial.
    const int sndbuf = 32 * 1024;
    ASSERT_EQ(setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf), 0);
    ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    ASSERT_EQ(listen(fd, 128), 0);
    ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
    port_ = ntohs(addr.sin_port);
    loop_->Listen(fd);
  }

  void TearDown() override {
    if (thread_.joinable()) {
      loop_->Stop();
      if (done_.wait_for(kTimeout) != std::future_status::ready) {
        std::fprintf(stderr, "Run did not return after Stop\n");
        std::abort();
      }
      thread_.join();
    }
    loop_.reset();
    EXPECT_TRUE(handler_.violations.empty()) << ::testing::PrintToString(handler_.violations);
  }

  void Start() {
    std::promise<void> done;
    done_ = done.get_future();
    thread_ = std::thread([this, done = std::move(done)]() mutable {
      loop_->Run();
      done.set_value();
    });
  }

  // The single accepted connection's id, once there.
  ConnId WaitAccepted(size_t count = 1) {
    EXPECT_TRUE(handler_.WaitFor([&] { return handler_.accepted.size() >= count; }));
    std::lock_guard lock(handler_.mu);
    return handler_.accepted.size() >= count ? handler_.accepted[count - 1] : 0;
  }

  TestHandler handler_;
  std::unique_ptr<EventLoop> loop_;
  int port_ = 0;
  std::thread thread_;
  std::future<void> done_;
};

TEST_P(LoopTest, EchoesManyPipelinedWritesAndAMegabyte) {
  Start();
  Client client(port_, /*rcvbuf=*/4096);  // a small window forces partial sends
  ASSERT_TRUE(client.connected());
  std::string expected;
  for (int i = 0; i < 2000; ++i) {
    const std::string message = "message " + std::to_string(i) + "\r\n";
    ASSERT_TRUE(client.Write(message));
    expected += message;
  }
  EXPECT_EQ(client.Read(expected.size()), expected);

  // All of it before reading any: the echo backs up and the server's sends come out partial.
  const std::string big = Pattern(1 << 20, 1);
  ASSERT_TRUE(client.Write(big));
  const std::string back = client.Read(big.size());
  EXPECT_EQ(back.size(), big.size());
  EXPECT_TRUE(back == big) << "the echoed megabyte differs";

  const ConnId id = WaitAccepted();
  // The client can read the last bytes before their OnSent has run.
  EXPECT_TRUE(
      handler_.WaitFor([&] { return handler_.conns[id].sent == expected.size() + big.size(); }));
  std::lock_guard lock(handler_.mu);
  // epoll's nonblocking sendmsg must come out short here; io_uring may retry inside the kernel.
  if (GetParam() == "epoll") {
    EXPECT_GT(handler_.conns[id].partial_sends, 0u);
  }
  std::printf("[ %s ] %zu partial sends\n", GetParam().c_str(), handler_.conns[id].partial_sends);
}

TEST_P(LoopTest, ServesSeveralConnectionsAtOnce) {
  Start();
  constexpr int kClients = 8;
  std::vector<std::thread> threads;
  std::atomic<int> good{0};
  for (int i = 0; i < kClients; ++i) {
    threads.emplace_back([&, i] {
      Client client(port_);
      const std::string data = Pattern(64 * 1024, static_cast<uint32_t>(i + 10));
      bool ok = client.connected();
      for (size_t at = 0; ok && at < data.size(); at += 1000) {
        ok = client.Write(std::string_view(data).substr(at, 1000));
      }
      if (ok && client.Read(data.size()) == data) ++good;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(good.load(), kClients);
  std::lock_guard lock(handler_.mu);
  EXPECT_EQ(handler_.accepted.size(), size_t{kClients});
}

TEST_P(LoopTest, PeerCloseHangsUpAndCloseDeliversOnClosedOnce) {
  Start();
  Client client(port_);
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.Write("hi"));
  ASSERT_EQ(client.Read(2), "hi");
  client.Close();
  ASSERT_TRUE(handler_.WaitFor([&] { return handler_.closed_count == 1; }));

  // A new connection gets a new id and works; the old one stays closed once.
  Client second(port_);
  ASSERT_TRUE(second.connected());
  ASSERT_TRUE(second.Write("again"));
  ASSERT_EQ(second.Read(5), "again");
  std::lock_guard lock(handler_.mu);
  ASSERT_EQ(handler_.accepted.size(), 2u);
  EXPECT_NE(handler_.accepted[0], handler_.accepted[1]);
  const TestHandler::Conn& c = handler_.conns[handler_.accepted[0]];
  EXPECT_EQ(c.hangups, 1);
  EXPECT_EQ(c.hangup_error, 0);
  // OnSent may be skipped: the Close made on hangup can come before it is delivered.
  EXPECT_TRUE(c.events == "ARSHC" || c.events == "ARHC") << c.events;
  EXPECT_EQ(handler_.closed_count, 1);
}

TEST_P(LoopTest, WakeFromAnotherThreadDeliversOnWake) {
  Start();
  std::thread other([&] { loop_->Wake(); });
  other.join();
  EXPECT_TRUE(handler_.WaitFor([&] { return handler_.wakes >= 1; }));
}

TEST_P(LoopTest, TickDeliversOnTickAndFollowsANewPeriod) {
  loop_->SetTick(10ms);  // before Run, from the thread that built the loop, as a shard does
  Start();
  EXPECT_TRUE(handler_.WaitFor([&] { return handler_.ticks >= 3; }));
  int before = 0;
  handler_.Exec([&] {
    loop_->SetTick(5ms);
    std::lock_guard lock(handler_.mu);
    before = handler_.ticks;
  });
  EXPECT_TRUE(handler_.WaitFor([&] { return handler_.ticks >= before + 3; }));
}

TEST_P(LoopTest, PauseHoldsBytesAndResumeDeliversTheRestInOrder) {
  Start();
  Client client(port_);
  ASSERT_TRUE(client.connected());
  ASSERT_TRUE(client.Write("hello"));
  ASSERT_EQ(client.Read(5), "hello");
  const ConnId id = WaitAccepted();
  size_t at_pause = 0;
  handler_.Exec([&] {
    std::lock_guard lock(handler_.mu);
    handler_.Pause(id);
    at_pause = handler_.conns[id].received;
  });

  // The client keeps writing while paused; the kernel's buffers fill and it blocks until the
  // resume below.
  const std::string big = Pattern(1 << 20, 2);
  std::promise<void> some_written;
  std::thread writer([&] {
    constexpr size_t kChunk = 16 * 1024;
    bool ok = true;
    for (size_t at = 0; ok && at < big.size(); at += kChunk) {
      ok = client.Write(std::string_view(big).substr(at, kChunk));
      if (at == 4 * kChunk) some_written.set_value();
    }
    EXPECT_TRUE(ok);
  });
  some_written.get_future().wait();
  // A round trip on another connection: the loop has had turns since those bytes arrived.
  Client other(port_);
  ASSERT_TRUE(other.Write("ping"));
  ASSERT_EQ(other.Read(4), "ping");
  {
    std::lock_guard lock(handler_.mu);
    EXPECT_EQ(handler_.conns[id].received, at_pause) << "OnReceive while paused";
  }
  handler_.Exec([&] {
    std::lock_guard lock(handler_.mu);
    handler_.Resume(id);
  });
  const std::string back = client.Read(big.size());
  writer.join();
  EXPECT_EQ(back.size(), big.size());
  EXPECT_TRUE(back == big) << "bytes lost or reordered across the pause";
  std::lock_guard lock(handler_.mu);
  EXPECT_EQ(handler_.conns[id].events.find('H'), std::string::npos)
      << handler_.conns[id].events << " error " << handler_.conns[id].hangup_error;
}

// Pausing from inside OnReceive, as a connection over its output cap does: completions already
// on their way (io_uring) must be held, not delivered and not lost.
TEST_P(LoopTest, PauseInsideOnReceiveHoldsWhatFollows) {
  handler_.pause_at = 100 * 1024;
  Start();
  Client client(port_);
  ASSERT_TRUE(client.connected());
  const ConnId id = WaitAccepted();
  const std::string big = Pattern(1 << 20, 5);
  std::thread writer([&] { EXPECT_TRUE(client.Write(big)); });
  ASSERT_TRUE(handler_.WaitFor([&] { return handler_.conns[id].paused; }));
  Client other(port_);
  ASSERT_TRUE(other.Write("ping"));
  ASSERT_EQ(other.Read(4), "ping");
  size_t at_pause = 0;
  {
    std::lock_guard lock(handler_.mu);
    at_pause = handler_.conns[id].received;
    EXPECT_LT(at_pause, big.size());
  }
  ASSERT_EQ(client.Read(at_pause), big.substr(0, at_pause));  // what came before the pause
  handler_.Exec([&] {
    std::lock_guard lock(handler_.mu);
    handler_.Resume(id);
  });
  const std::string rest = client.Read(big.size() - at_pause);
  writer.join();
  EXPECT_TRUE(rest == big.substr(at_pause)) << "bytes lost or reordered across the pause";
}

TEST_P(LoopTest, CloseWithASendInFlightEndsWithOnClosed) {
  handler_.echo = false;
  Start();
  // The client never reads: the server's sends stall with most of 16 MiB still to go.
  Client client(port_, /*rcvbuf=*/4096);
  ASSERT_TRUE(client.connected());
  const ConnId id = WaitAccepted();
  handler_.Exec([&] {
    std::lock_guard lock(handler_.mu);
    handler_.conns[id].out = Pattern(16 << 20, 3);
    handler_.Pump(id, handler_.conns[id]);
  });
  ASSERT_TRUE(handler_.WaitFor([&] { return handler_.conns[id].sent > 0; }));
  handler_.Exec([&] {
    std::lock_guard lock(handler_.mu);
    EXPECT_TRUE(handler_.conns[id].sending);
    handler_.CloseConn(id);
  });
  ASSERT_TRUE(handler_.WaitFor([&] { return handler_.conns[id].closed; }));

  // And a Close in the same turn as the Send, before anything could be submitted.
  Client second(port_, /*rcvbuf=*/4096);
  ASSERT_TRUE(second.connected());
  const ConnId id2 = WaitAccepted(2);
  handler_.Exec([&] {
    std::lock_guard lock(handler_.mu);
    handler_.conns[id2].out = Pattern(4 << 20, 4);
    handler_.Pump(id2, handler_.conns[id2]);
    handler_.CloseConn(id2);
  });
  ASSERT_TRUE(handler_.WaitFor([&] { return handler_.conns[id2].closed; }));
  std::lock_guard lock(handler_.mu);
  EXPECT_EQ(handler_.conns[id].events.back(), 'C');
  EXPECT_EQ(handler_.conns[id2].events, "AC");
  EXPECT_EQ(handler_.closed_count, 2);
}

TEST_P(LoopTest, StopFromAnotherThreadEndsRun) {
  Start();
  Client client(port_);
  ASSERT_TRUE(client.connected());
  WaitAccepted();
  std::thread other([&] { loop_->Stop(); });
  other.join();
  ASSERT_EQ(done_.wait_for(kTimeout), std::future_status::ready);
  thread_.join();
}

INSTANTIATE_TEST_SUITE_P(Backends, LoopTest, ::testing::Values("epoll", "io_uring"),
                         [](const auto& info) {
                           return info.param == "epoll" ? std::string("Epoll")
                                                        : std::string("IoUring");
                         });

}  // namespace
}  // namespace spillway::server
