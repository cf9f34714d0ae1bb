// spillway::client::Client against servers that are absent, silent or broken: a refused
// connect, a server that never answers, one that hangs up mid-answer, one that answers nonsense
// or answers late. The broken servers are small fakes in the test, so that each misbehaves
// exactly once and on cue; a real spillway stands beside a dead one where a test needs both.

#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <functional>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <ostream>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "client/client.h"
#include "tests/integration/client_support.h"
#include "tests/integration/server_process.h"

namespace spillway::testing {
namespace {

using client::Item;
using client::Status;
using client::StatusCode;
using CacheClient = client::Client;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

// A listening socket on 127.0.0.1 and a free port; -1 when it could not be made.
int Listen(uint16_t* port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t length = sizeof address;
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&address), sizeof address) != 0 ||
      listen(fd, 64) != 0 || getsockname(fd, reinterpret_cast<sockaddr*>(&address), &length) != 0) {
    if (fd >= 0) close(fd);
    return -1;
  }
  *port = ntohs(address.sin_port);
  return fd;
}

// A port on 127.0.0.1 that nobody listens on: one the kernel gave out and that is free again.
uint16_t DeadPort() {
  uint16_t port = 0;
  const int fd = Listen(&port);
  if (fd >= 0) close(fd);
  return port;
}

// The requests arriving on one connection, one at a time. A storage command comes with its data
// block, which in these tests is one line.
class Requests {
 public:
  explicit Requests(int fd) : fd_(fd) {}

  // The next request; "" when the peer closed or went quiet.
  std::string Next() {
    std::string request = Line();
    const std::string word = request.substr(0, request.find(' '));
    if (word == "set" || word == "add" || word == "replace" || word == "append" ||
        word == "prepend" || word == "cas" || word == "ms") {
      const std::string data = Line();
      if (data.empty()) return "";
      request += data;
    }
    return request;
  }

 private:
  std::string Line() {
    size_t end;
    while ((end = buffer_.find("\r\n")) == std::string::npos) {
      char bytes[4096];
      const ssize_t n = read(fd_, bytes, sizeof bytes);
      if (n <= 0) return "";
      buffer_.append(bytes, static_cast<size_t>(n));
    }
    std::string line = buffer_.substr(0, end + 2);
    buffer_.erase(0, end + 2);
    return line;
  }

  int fd_;
  std::string buffer_;
};

void WriteAll(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    const ssize_t n = send(fd, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n <= 0) return;  // the client has gone: nothing left to tell it
    bytes.remove_prefix(static_cast<size_t>(n));
  }
}

// A server whose every accepted connection runs `handler(fd, index)` on a thread of its own
// (index counts connections from 0); the connection is closed when the handler returns. A pipe,
// not a timer, stops the accepting thread, and shutting the open connections down ends handlers
// still reading.
class FakeServer {
 public:
  using Handler = std::function<void(int fd, int index)>;

  explicit FakeServer(Handler handler) : handler_(std::move(handler)) {
    listen_fd_ = Listen(&port_);
    if (listen_fd_ < 0 || pipe2(stop_, O_CLOEXEC) != 0) return;
    acceptor_ = std::thread([this] { Accept(); });
  }
  ~FakeServer() {
    if (acceptor_.joinable()) {
      if (write(stop_[1], "x", 1) != 1) std::abort();  // the acceptor would never stop
      acceptor_.join();
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (int fd : open_) shutdown(fd, SHUT_RDWR);
    }
    for (std::thread& t : handlers_) t.join();
    for (int fd : {listen_fd_, stop_[0], stop_[1]}) {
      if (fd >= 0) close(fd);
    }
  }
  FakeServer(const FakeServer&) = delete;
  FakeServer& operator=(const FakeServer&) = delete;

  uint16_t port() const { return port_; }
  int connections() const { return connections_.load(); }

 private:
  void Accept() {
    for (;;) {
      pollfd fds[2] = {{listen_fd_, POLLIN, 0}, {stop_[0], POLLIN, 0}};
      if (poll(fds, 2, -1) < 0 && errno != EINTR) return;
      if (fds[1].revents != 0) return;
      if (fds[0].revents == 0) continue;
      const int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) continue;
      // A client that never sends must not hold a handler (and the test) forever.
      timeval patience{10, 0};
      setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &patience, sizeof patience);
      {
        std::lock_guard<std::mutex> lock(mu_);
        open_.insert(fd);
      }
      const int index = connections_++;
      handlers_.emplace_back([this, fd, index] {
        handler_(fd, index);
        std::lock_guard<std::mutex> lock(mu_);
        open_.erase(fd);
        close(fd);
      });
    }
  }

  Handler handler_;
  int listen_fd_ = -1;
  int stop_[2] = {-1, -1};
  uint16_t port_ = 0;
  std::atomic<int> connections_{0};
  std::thread acceptor_;
  std::vector<std::thread> handlers_;  // the acceptor's until it has stopped
  std::mutex mu_;
  std::set<int> open_;  // guarded by mu_
};

// Answers every request with `answer`, on one connection for as long as the client keeps it.
FakeServer::Handler AnswerEach(std::string answer) {
  return [answer](int fd, int) {
    Requests requests(fd);
    while (!requests.Next().empty()) WriteAll(fd, answer);
  };
}

// Answers the first request with `answer` and hangs up. Only the sending half is shut, and the
// rest is read until the client closes, so that the client sees the answer and then the end,
// never a reset for bytes left unread.
FakeServer::Handler AnswerThenHangUp(std::string answer) {
  return [answer](int fd, int) {
    Requests requests(fd);
    if (!requests.Next().empty()) WriteAll(fd, answer);
    shutdown(fd, SHUT_WR);
    while (!requests.Next().empty()) {
    }
  };
}

// Options under which a server never goes down, so that every call meets it afresh.
client::Options Patient(milliseconds request_timeout = milliseconds(1000)) {
  client::Options options;
  options.request_timeout = request_timeout;
  options.failure_limit = 1000;
  options.auto_eject = false;
  return options;
}

std::unique_ptr<CacheClient> ClientOf(std::vector<uint16_t> ports,
                                      const client::Options& options = Patient()) {
  std::vector<client::ServerAddress> servers;
  for (uint16_t port : ports) servers.push_back({"127.0.0.1", port, 1});
  std::unique_ptr<CacheClient> c;
  const Status s = CacheClient::Create(servers, options, &c);
  EXPECT_TRUE(IsOk(s));
  return c;
}

TEST(ClientFailureTest, CreateRejectsAnEmptyServerListAndBadOptions) {
  std::unique_ptr<CacheClient> c;
  Status s = CacheClient::Create({}, client::Options(), &c);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  EXPECT_EQ(c, nullptr);
  client::Options zero_limit;
  zero_limit.failure_limit = 0;
  s = CacheClient::Create({{"127.0.0.1", 11211, 1}}, zero_limit, &c);
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s.ToString();
  EXPECT_EQ(c, nullptr);
  // Timeouts that would make no sense, or overflow a deadline.
  for (int which = 0; which < 4; ++which) {
    client::Options bad;
    if (which == 0) bad.connect_timeout = milliseconds(0);
    if (which == 1) bad.request_timeout = milliseconds(-1);
    if (which == 2) bad.retry_interval = milliseconds(-1);
    if (which == 3) bad.request_timeout = milliseconds::max();
    s = CacheClient::Create({{"127.0.0.1", 11211, 1}}, bad, &c);
    EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << which << ": " << s.ToString();
  }
}

TEST(ClientFailureTest, RefusedConnectIsConnectFailed) {
  const uint16_t port = DeadPort();
  ASSERT_NE(port, 0);
  auto c = ClientOf({port});
  ASSERT_NE(c, nullptr);
  std::optional<Item> item;
  std::string text;
  client::MetaResult r;
  std::vector<std::pair<std::string, std::string>> stats;
  const Status statuses[] = {c->Get("k", &item),       c->Set("k", "v"), c->Delete("k"),
                             c->MetaGet("k", "v", &r), c->MetaNoop(0),   c->Version(0, &text),
                             c->Stats(0, "", &stats),  c->FlushAll()};
  for (const Status& s : statuses) {
    EXPECT_EQ(s.code(), StatusCode::kConnectFailed) << s.ToString();
    EXPECT_NE(s.message().find("127.0.0.1:" + std::to_string(port)), std::string::npos)
        << "the message names the server: " << s.message();
  }
}

// Connects succeed (the kernel completes them into the backlog of a socket nobody accepts
// from), and then nothing: neither the answer nor room for a large request ever comes.
TEST(ClientFailureTest, SilentServerTimesOut) {
  uint16_t port = 0;
  const int silent = Listen(&port);
  ASSERT_GE(silent, 0);
  auto c = ClientOf({port}, Patient(milliseconds(200)));
  ASSERT_NE(c, nullptr);
  const std::string large(16 << 20, 'x');  // more than the socket buffers hold
  const std::string keys[] = {"a", "b", "c"};
  std::vector<Item> items;
  std::optional<Item> item;
  for (int call = 0; call < 3; ++call) {
    const auto start = steady_clock::now();
    const Status s = call == 0   ? c->Get("k", &item)
                     : call == 1 ? c->Set("k", large)
                                 : c->GetMulti(keys, &items);
    EXPECT_EQ(s.code(), StatusCode::kTimeout) << "call " << call << ": " << s.ToString();
    EXPECT_LT(steady_clock::now() - start, std::chrono::seconds(5)) << "call " << call;
  }
  close(silent);
}

TEST(ClientFailureTest, AnswerCutShortIsAnIoOrProtocolError) {
  FakeServer fake(AnswerThenHangUp("VALUE k 0 10\r\nabc"));
  ASSERT_NE(fake.port(), 0);
  auto c = ClientOf({fake.port()});
  ASSERT_NE(c, nullptr);
  std::optional<Item> item;
  const Status s = c->Get("k", &item);
  EXPECT_TRUE(s.code() == StatusCode::kIoError || s.code() == StatusCode::kProtocolError)
      << s.ToString();
  EXPECT_FALSE(item.has_value());
}

TEST(ClientFailureTest, NonsenseAnswerIsAProtocolError) {
  struct Case {
    std::string answer;
    bool get;  // answers a get of "k"; otherwise a set of "k"
  };
  const Case cases[] = {
      {"HELLO\r\n", true},
      {"STORED\r\n", true},  // an answer, but not to a get
      {"VALUE k 0 abc\r\nabc\r\nEND\r\n", true},
      // Limits: the client must not buffer a line or a block without end until the timeout.
      {std::string(1 << 20, 'x'), true},
      {"VALUE k 0 99999999999\r\n", true},
      {"HELLO\r\n", false},
      {"END\r\n", false},
      {"VALUE k 0 1\r\nx\r\nEND\r\n", false},
  };
  for (const Case& test : cases) {
    SCOPED_TRACE((test.get ? "get answered " : "set answered ") + test.answer.substr(0, 40));
    FakeServer fake(AnswerEach(test.answer));
    ASSERT_NE(fake.port(), 0);
    auto c = ClientOf({fake.port()});
    ASSERT_NE(c, nullptr);
    std::optional<Item> item;
    const Status s = test.get ? c->Get("k", &item) : c->Set("k", "v");
    EXPECT_EQ(s.code(), StatusCode::kProtocolError) << s.ToString();
    EXPECT_FALSE(item.has_value());
  }
}

// A VALUE for a key nobody asked for is not the answer to this get: a connection out of step, or
// a server gone wrong. Returning it would hand the caller another key's data.
TEST(ClientFailureTest, ValueOfAnotherKeyIsAProtocolError) {
  FakeServer fake(AnswerEach("VALUE other 0 5\r\nwrong\r\nEND\r\n"));
  ASSERT_NE(fake.port(), 0);
  auto c = ClientOf({fake.port()});
  ASSERT_NE(c, nullptr);
  std::optional<Item> item;
  const Status s = c->Get("k", &item);
  EXPECT_EQ(s.code(), StatusCode::kProtocolError) << s.ToString();
  EXPECT_FALSE(item.has_value()) << "got " << item->key << " = " << item->value;
  const std::string keys[] = {"k", "j"};
  std::vector<Item> items;
  const Status multi = c->GetMulti(keys, &items);
  EXPECT_EQ(multi.code(), StatusCode::kProtocolError) << multi.ToString();
  EXPECT_TRUE(items.empty()) << "got " << items.front().key;
}

// A key answered twice is as out of step as a key never asked for; it would also let a server
// grow the result without end.
TEST(ClientFailureTest, SecondValueOfAKeyIsAProtocolError) {
  FakeServer fake(AnswerEach("VALUE k 0 1\r\na\r\nVALUE k 0 1\r\na\r\nEND\r\n"));
  ASSERT_NE(fake.port(), 0);
  auto c = ClientOf({fake.port()});
  ASSERT_NE(c, nullptr);
  std::optional<Item> item;
  Status s = c->Get("k", &item);
  EXPECT_EQ(s.code(), StatusCode::kProtocolError) << s.ToString();
  const std::string keys[] = {"k", "j"};
  std::vector<Item> items;
  s = c->GetMulti(keys, &items);
  EXPECT_EQ(s.code(), StatusCode::kProtocolError) << s.ToString();
  EXPECT_LE(items.size(), 1u);
}

// A quiet meta command owes its mn an MN even after an error line; memcached sends it once it
// has swallowed the value it refused. The connection must not go back to the pool before that:
// the next quiet mg would read the late MN as its own (a miss) and leave its VA unread.
TEST(ClientFailureTest, QuietMetaCommandAfterAnErrorDoesNotLeaveItsMnToTheNextCall) {
  FakeServer fake([](int fd, int index) {
    Requests requests(fd);
    if (index == 0) {
      if (requests.Next().empty() || requests.Next().empty()) return;  // ms ... q, mn
      WriteAll(fd, "SERVER_ERROR object too large for cache\r\n");
      // Only a client that reused this connection gets the late MN, then the real answer.
      if (requests.Next().empty() || requests.Next().empty()) return;
      WriteAll(fd, "MN\r\nVA 5 f0\r\nhello\r\nMN\r\n");
      return;
    }
    while (!requests.Next().empty() && !requests.Next().empty()) {  // mg ... q, mn
      WriteAll(fd, "VA 5 f0\r\nhello\r\nMN\r\n");
    }
  });
  ASSERT_NE(fake.port(), 0);
  auto c = ClientOf({fake.port()});
  ASSERT_NE(c, nullptr);
  client::MetaResult result;
  Status s = c->MetaSet("k", "big", "q", &result);
  EXPECT_EQ(s.code(), StatusCode::kServerError) << s.ToString();
  s = c->MetaGet("k", "v f q", &result);
  ASSERT_TRUE(IsOk(s));
  EXPECT_EQ(result.code, protocol::ResponseType::kMetaValue);
  EXPECT_EQ(result.value, "hello");
  EXPECT_EQ(fake.connections(), 2);
}

// Error lines are answers: they become the call's Status, and a server that gives them is not
// failing, however many it gives.
TEST(ClientFailureTest, ErrorAnswersAreStatusesNotServerFailures) {
  struct Case {
    std::string answer;
    StatusCode code;
    std::string message;
  };
  const Case cases[] = {
      {"ERROR\r\n", StatusCode::kError, ""},
      {"CLIENT_ERROR bad data chunk\r\n", StatusCode::kClientError, "bad data chunk"},
      {"SERVER_ERROR out of memory storing object\r\n", StatusCode::kServerError,
       "out of memory storing object"},
  };
  for (const Case& test : cases) {
    SCOPED_TRACE(test.answer);
    FakeServer fake(AnswerEach(test.answer));
    ASSERT_NE(fake.port(), 0);
    client::Options options;
    options.failure_limit = 1;
    options.auto_eject = false;
    auto c = ClientOf({fake.port()}, options);
    ASSERT_NE(c, nullptr);
    for (int i = 0; i < 3; ++i) {
      const Status s = c->Set("k", "v");
      EXPECT_EQ(s.code(), test.code) << s.ToString();
      if (!test.message.empty()) {
        EXPECT_EQ(s.message(), test.message);
      }
    }
    EXPECT_FALSE(c->IsDown(0));
  }
}

// A connection whose exchange failed is closed: an answer that comes after the client gave up
// must not be read as the answer to the next request.
TEST(ClientFailureTest, LateAnswerDoesNotReachTheNextCall) {
  std::promise<void> gave_up;
  std::shared_future<void> gave_up_future = gave_up.get_future().share();
  FakeServer fake([gave_up_future](int fd, int index) {
    Requests requests(fd);
    if (index == 0) {
      if (requests.Next().empty()) return;
      gave_up_future.wait_for(std::chrono::seconds(10));
      WriteAll(fd, "VALUE k 0 5\r\nstale\r\nEND\r\n");
    }
    while (!requests.Next().empty()) WriteAll(fd, "END\r\n");  // then: a miss, every time
  });
  ASSERT_NE(fake.port(), 0);
  auto c = ClientOf({fake.port()}, Patient(milliseconds(200)));
  ASSERT_NE(c, nullptr);
  std::optional<Item> item;
  Status s = c->Get("k", &item);
  gave_up.set_value();
  EXPECT_EQ(s.code(), StatusCode::kTimeout) << s.ToString();
  s = c->Get("k", &item);
  EXPECT_TRUE(IsOk(s));
  EXPECT_FALSE(item.has_value()) << "read the late answer: " << item->value;
}

// A server may close an idle connection (its idle timeout, a restart); the next call should
// notice before using it and open another, not fail.
TEST(ClientFailureTest, ConnectionTheServerClosedWhileIdleIsReplaced) {
  std::promise<void> closed;
  std::future<void> closed_future = closed.get_future();
  FakeServer fake([&closed](int fd, int index) {
    Requests requests(fd);
    if (index == 0) {
      if (!requests.Next().empty()) WriteAll(fd, "END\r\n");
      shutdown(fd, SHUT_RDWR);  // on loopback the FIN has reached the client when this returns
      closed.set_value();
      return;
    }
    while (!requests.Next().empty()) WriteAll(fd, "END\r\n");
  });
  ASSERT_NE(fake.port(), 0);
  auto c = ClientOf({fake.port()});
  ASSERT_NE(c, nullptr);
  std::optional<Item> item;
  ASSERT_TRUE(IsOk(c->Get("k", &item)));
  ASSERT_EQ(closed_future.wait_for(std::chrono::seconds(10)), std::future_status::ready);
  EXPECT_TRUE(IsOk(c->Get("k", &item)));
  EXPECT_EQ(fake.connections(), 2);
}

TEST(ClientFailureTest, DeadServerIsDownAfterFailureLimit) {
  const uint16_t port = DeadPort();
  ASSERT_NE(port, 0);
  client::Options options;
  options.failure_limit = 3;
  options.auto_eject = false;
  options.retry_interval = std::chrono::hours(1);
  auto c = ClientOf({port}, options);
  ASSERT_NE(c, nullptr);
  std::optional<Item> item;
  for (int i = 0; i < 3; ++i) {
    EXPECT_FALSE(c->IsDown(0)) << "after " << i << " failures";
    const Status s = c->Get("k", &item);
    EXPECT_EQ(s.code(), StatusCode::kConnectFailed) << s.ToString();
  }
  EXPECT_TRUE(c->IsDown(0));
  Status s = c->Get("k", &item);
  EXPECT_EQ(s.code(), StatusCode::kServerDown) << s.ToString();
  s = c->Set("k", "v");
  EXPECT_EQ(s.code(), StatusCode::kServerDown) << s.ToString();
  EXPECT_EQ(c->ServerFor("k"), 0u) << "without auto_eject the server stays in the ring";
}

// One dead server among live ones costs a multi-get that server's keys, not the others'.
// A multi-get sends to every server before reading any: a server whose connect hangs must not
// use up the time another has to answer, or the healthy one times out and is ejected.
TEST(ClientFailureTest, SlowConnectToOneServerDoesNotEjectAnother) {
  const std::string value(32 << 20, 'v');  // far more than the socket buffers hold
  FakeServer healthy([&value](int fd, int) {
    Requests requests(fd);
    for (std::string r = requests.Next(); !r.empty(); r = requests.Next()) {
      const std::string key = r.substr(4, r.size() - 6);  // "get <key>\r\n"
      WriteAll(fd, "VALUE " + key + " 0 " + std::to_string(value.size()) + "\r\n" + value +
                       "\r\nEND\r\n");
    }
  });
  ASSERT_NE(healthy.port(), 0);
  // A listener whose accept queue is full: the kernel drops further SYNs, so connects hang.
  uint16_t full_port = 0;
  const int full = Listen(&full_port);
  ASSERT_GE(full, 0);
  ASSERT_EQ(listen(full, 0), 0);
  std::vector<int> fillers;
  for (int i = 0; i < 2; ++i) {
    const int f = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_in to{};
    to.sin_family = AF_INET;
    to.sin_port = htons(full_port);
    to.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connect(f, reinterpret_cast<sockaddr*>(&to), sizeof to);
    fillers.push_back(f);
  }
  client::Options options;
  options.connect_timeout = milliseconds(600);
  options.request_timeout = milliseconds(500);
  options.failure_limit = 1;
  auto c = ClientOf({healthy.port(), full_port}, options);
  ASSERT_NE(c, nullptr);
  std::vector<std::string> keys;
  for (int i = 0; keys.size() < 2; ++i) {
    const std::string key = "key:" + std::to_string(i);
    const size_t server = c->ServerFor(key);
    if (keys.empty() ? server == 0 : server == 1) keys.push_back(key);
  }
  std::vector<Item> items;
  const Status s = c->GetMulti(keys, &items);
  EXPECT_EQ(s.code(), StatusCode::kConnectFailed) << s.ToString();
  ASSERT_EQ(items.size(), 1u);
  EXPECT_EQ(items[0].key, keys[0]);
  EXPECT_TRUE(items[0].value == value);
  EXPECT_FALSE(c->IsDown(0)) << "the healthy server was charged the other's connect time";
  EXPECT_TRUE(c->IsDown(1));
  for (int f : fillers) close(f);
  close(full);
}

TEST(ClientFailureTest, GetMultiKeepsTheHitsOfHealthyServers) {
  ServerProcess live({"--io=epoll", "--threads=1", "--memory_limit=16"});
  ASSERT_GT(live.port(), 0);
  const uint16_t dead = DeadPort();
  ASSERT_NE(dead, 0);
  for (bool dead_first : {true, false}) {
    SCOPED_TRACE(dead_first ? "dead server first" : "dead server second");
    auto c = dead_first ? ClientOf({dead, static_cast<uint16_t>(live.port())})
                        : ClientOf({static_cast<uint16_t>(live.port()), dead});
    ASSERT_NE(c, nullptr);
    const uint32_t live_index = dead_first ? 1 : 0;
    std::vector<std::string> keys;
    std::map<std::string, std::string> stored;
    for (int i = 0; i < 200; ++i) {
      keys.push_back("key:" + std::to_string(i));
      if (c->ServerFor(keys.back()) != live_index) continue;
      stored[keys.back()] = "value " + std::to_string(i);
      ASSERT_TRUE(IsOk(c->Set(keys.back(), stored[keys.back()])));
    }
    ASSERT_GT(stored.size(), 0u);
    ASSERT_LT(stored.size(), keys.size());
    std::vector<Item> items;
    const Status s = c->GetMulti(keys, &items);
    EXPECT_EQ(s.code(), StatusCode::kConnectFailed) << s.ToString();
    std::map<std::string, std::string> got;
    for (const Item& item : items) got[item.key] = item.value;
    EXPECT_EQ(got, stored);
  }
}

}  // namespace
}  // namespace spillway::testing
