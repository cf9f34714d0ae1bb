// EventLoop::Adopt on both backends: an outgoing connection to a plain listening socket, bytes
// both ways, then close. The peer side is a blocking socket with timeouts so nothing can hang.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "server/event_loop.h"

namespace spillway::server {
namespace {

using namespace std::chrono_literals;

class AdoptHandler : public LoopHandler {
 public:
  std::mutex mu;
  std::condition_variable cv;
  std::string received;
  int accepts = 0;
  int hangups = 0;
  int closed = 0;
  int64_t sent = 0;
  std::function<void()> on_wake;  // set before Wake(): runs on the loop thread

  template <typename P>
  bool WaitFor(P pred) {
    std::unique_lock lock(mu);
    return cv.wait_for(lock, 5s, pred);
  }

  void OnAccept(ConnId) override {
    Note([&] { ++accepts; });
  }
  void OnReceive(ConnId, std::string_view bytes) override {
    Note([&] { received.append(bytes); });
  }
  void OnHangup(ConnId, int) override {
    Note([&] { ++hangups; });
  }
  void OnSent(ConnId, int64_t bytes) override {
    Note([&] { sent += bytes; });
  }
  void OnClosed(ConnId) override {
    Note([&] { ++closed; });
  }
  void OnWake() override {
    std::function<void()> f;
    {
      std::lock_guard lock(mu);
      f.swap(on_wake);
    }
    if (f) f();
  }
  void OnTick() override {}
  void OnTurnEnd() override {}

 private:
  template <typename F>
  void Note(F f) {
    {
      std::lock_guard lock(mu);
      f();
    }
    cv.notify_all();
  }
};

class AdoptTest : public ::testing::TestWithParam<std::string> {};

TEST_P(AdoptTest, ExchangesBytesBothWaysAndCloses) {
  AdoptHandler handler;
  std::unique_ptr<EventLoop> loop;
  if (GetParam() == "epoll") {
    loop = MakeEpollLoop(&handler);
  } else {
    std::string why_not;
    loop = MakeUringLoop(&handler, &why_not);
    if (loop == nullptr) GTEST_SKIP() << "io_uring not usable here: " << why_not;
  }

  // A plain listening socket: not the loop's, so the loop never accepts on it.
  const int listener = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(bind(listener, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(listener, 4), 0);
  ASSERT_EQ(getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);

  const int client = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(client, 0);
  ASSERT_EQ(connect(client, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const int peer = accept(listener, nullptr, nullptr);
  ASSERT_GE(peer, 0);
  timeval tv{5, 0};
  setsockopt(peer, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);

  // Bytes sent before Adopt must still be delivered.
  ASSERT_EQ(write(peer, "early ", 6), 6);
  const ConnId id = loop->Adopt(client);
  struct Runner {  // joins even when an ASSERT returns early
    EventLoop* loop;
    std::thread thread;
    ~Runner() {
      loop->Stop();
      thread.join();
    }
  } runner{loop.get(), std::thread([&] { loop->Run(); })};

  ASSERT_TRUE(handler.WaitFor([&] { return handler.received == "early "; })) << handler.received;
  ASSERT_EQ(write(peer, "hello", 5), 5);
  ASSERT_TRUE(handler.WaitFor([&] { return handler.received == "early hello"; }))
      << handler.received;

  // Send and Close are for the loop's thread: run them from OnWake.
  static const char kOut[] = "from the loop";
  iovec iov{const_cast<char*>(kOut), sizeof kOut - 1};
  {
    std::lock_guard lock(handler.mu);
    handler.on_wake = [&] { loop->Send(id, &iov, 1); };
  }
  loop->Wake();
  std::string got(sizeof kOut - 1, '\0');
  size_t have = 0;
  while (have < got.size()) {
    const ssize_t n = read(peer, got.data() + have, got.size() - have);
    ASSERT_GT(n, 0);
    have += static_cast<size_t>(n);
  }
  EXPECT_EQ(got, kOut);
  ASSERT_TRUE(handler.WaitFor([&] { return handler.sent == int64_t{sizeof kOut - 1}; }));

  // The peer closes: a hangup with error 0; then Close gives OnClosed once.
  close(peer);
  ASSERT_TRUE(handler.WaitFor([&] { return handler.hangups == 1; }));
  {
    std::lock_guard lock(handler.mu);
    handler.on_wake = [&] { loop->Close(id); };
  }
  loop->Wake();
  ASSERT_TRUE(handler.WaitFor([&] { return handler.closed == 1; }));

  std::lock_guard lock(handler.mu);
  EXPECT_EQ(handler.accepts, 0) << "Adopt must not report OnAccept";
  EXPECT_EQ(handler.hangups, 1);
  close(listener);
}

INSTANTIATE_TEST_SUITE_P(Backends, AdoptTest, ::testing::Values("epoll", "io_uring"),
                         [](const auto& info) {
                           return info.param == "io_uring" ? std::string("uring") : info.param;
                         });

}  // namespace
}  // namespace spillway::server
