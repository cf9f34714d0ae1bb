#include "client/connection.h"

#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "protocol/response_parser.h"

namespace spillway::client {
namespace {

constexpr size_t kReceiveChunk = 64 * 1024;
// Answers that arrive while a request is still being sent are buffered unparsed, so the parser's
// limits do not bound them: this does. Far above what a real pipeline buffers while sending.
constexpr size_t kMaxUnreadWhileSending = size_t{256} << 20;
// A buffer grown for a large answer is given back when an exchange starts with it empty, so that
// an idle pooled connection does not keep it.
constexpr size_t kKeptBuffer = size_t{1} << 20;

int RemainingMs(Connection::Clock::time_point deadline) {
  auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Connection::Clock::now());
  return left.count() <= 0 ? 0 : static_cast<int>(std::min<int64_t>(left.count(), INT32_MAX));
}

// Connects one socket to `address`, waiting no later than `deadline`: the fd, or -1 with *error.
int ConnectOne(const addrinfo& address, Connection::Clock::time_point deadline,
               std::string* error) {
  int fd = socket(address.ai_family, address.ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                  address.ai_protocol);
  if (fd < 0) {
    *error = std::string("socket: ") + strerror(errno);
    return -1;
  }
  if (connect(fd, address.ai_addr, address.ai_addrlen) != 0) {
    if (errno != EINPROGRESS) {
      *error = std::string("connect: ") + strerror(errno);
      close(fd);
      return -1;
    }
    pollfd p{fd, POLLOUT, 0};
    int ready;
    while ((ready = poll(&p, 1, RemainingMs(deadline))) < 0 && errno == EINTR) {
    }
    int so_error = 0;
    socklen_t len = sizeof(so_error);
    if (ready == 0) {
      *error = "connect: timed out";
    } else if (ready < 0 || getsockopt(fd, SOL_SOCKET, SO_ERROR, &so_error, &len) != 0) {
      *error = std::string("connect: ") + strerror(errno);
    } else if (so_error != 0) {
      *error = std::string("connect: ") + strerror(so_error);
    }
    if (ready <= 0 || so_error != 0) {
      close(fd);
      return -1;
    }
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  return fd;
}

}  // namespace

Status Connection::Open(const ServerAddress& server, Clock::time_point deadline,
                        std::unique_ptr<Connection>* connection) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  hints.ai_flags = AI_NUMERICSERV;
  addrinfo* addresses = nullptr;
  std::string port = std::to_string(server.port);
  if (int rc = getaddrinfo(server.host.c_str(), port.c_str(), &hints, &addresses); rc != 0) {
    return Status(StatusCode::kConnectFailed, server.ToString() + ": resolve: " + gai_strerror(rc));
  }
  std::string error = "no address";
  int fd = -1;
  for (addrinfo* a = addresses; a != nullptr && fd < 0; a = a->ai_next) {
    fd = ConnectOne(*a, deadline, &error);
  }
  freeaddrinfo(addresses);
  if (fd < 0) return Status(StatusCode::kConnectFailed, server.ToString() + ": " + error);
  connection->reset(new Connection(fd, server.ToString()));
  return Status::Ok();
}

Connection::~Connection() { close(fd_); }

Status Connection::Failure(StatusCode code, std::string_view what) const {
  return Status(code, peer_ + ": " + std::string(what));
}

Status Connection::Wait(short events, Clock::time_point deadline, short* revents) {
  pollfd p{fd_, events, 0};
  for (;;) {
    int ready = poll(&p, 1, RemainingMs(deadline));
    if (ready > 0) {
      *revents = p.revents;
      return Status::Ok();
    }
    if (ready == 0) return Failure(StatusCode::kTimeout, "no answer within the request timeout");
    if (errno != EINTR)
      return Failure(StatusCode::kIoError, std::string("poll: ") + strerror(errno));
  }
}

Status Connection::ReceiveSome() {
  if (begin_ > 0 && (begin_ == end_ || begin_ >= in_.size() / 2)) {
    std::memmove(in_.data(), in_.data() + begin_, end_ - begin_);
    end_ -= begin_;
    begin_ = 0;
  }
  if (in_.size() - end_ < kReceiveChunk / 2)
    in_.resize(std::max(in_.size() * 2, end_ + kReceiveChunk));
  for (;;) {
    ssize_t n = recv(fd_, in_.data() + end_, in_.size() - end_, 0);
    if (n > 0) {
      end_ += static_cast<size_t>(n);
      return Status::Ok();
    }
    if (n == 0) return Failure(StatusCode::kIoError, "the server closed the connection");
    if (errno == EAGAIN || errno == EWOULDBLOCK) return Status::Ok();
    if (errno != EINTR)
      return Failure(StatusCode::kIoError, std::string("recv: ") + strerror(errno));
  }
}

Status Connection::Send(std::string_view bytes, Clock::time_point deadline) {
  begin_ += consumed_;  // the caller is done with the last unit's views
  consumed_ = 0;
  if (begin_ == end_ && in_.size() > kKeptBuffer) {
    in_ = std::string();
    begin_ = end_ = 0;
  }
  while (!bytes.empty()) {
    ssize_t n = send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
    if (n > 0) {
      bytes.remove_prefix(static_cast<size_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
      return Failure(StatusCode::kIoError, std::string("send: ") + strerror(errno));
    }
    short revents = 0;
    if (Status s = Wait(POLLOUT | POLLIN, deadline, &revents); !s.ok()) return s;
    if (revents & (POLLIN | POLLHUP | POLLERR)) {
      if (Status s = ReceiveSome(); !s.ok()) return s;
      if (end_ - begin_ > kMaxUnreadWhileSending) {
        return Failure(StatusCode::kProtocolError,
                       "more than 256 MiB of answers arrived while the request was being sent");
      }
    }
  }
  return Status::Ok();
}

Status Connection::Read(protocol::Response* response, Clock::time_point deadline) {
  begin_ += consumed_;
  consumed_ = 0;
  for (;;) {
    std::string_view pending(in_.data() + begin_, end_ - begin_);
    protocol::ResponseParseResult parsed = protocol::ParseResponse(pending);
    if (parsed.status == protocol::ResponseParseStatus::kResponse) {
      consumed_ = parsed.consumed;
      *response = parsed.response;
      return Status::Ok();
    }
    if (parsed.status == protocol::ResponseParseStatus::kMalformed) {
      size_t line = pending.find("\r\n");
      return Failure(StatusCode::kProtocolError,
                     "not a memcached answer: \"" +
                         std::string(pending.substr(0, std::min<size_t>(line, 80))) + "\"");
    }
    short revents = 0;
    if (Status s = Wait(POLLIN, deadline, &revents); !s.ok()) return s;
    size_t before = end_;
    if (Status s = ReceiveSome(); !s.ok()) return s;
    if (end_ == before && (revents & (POLLHUP | POLLERR))) {
      return Failure(StatusCode::kIoError, "the connection broke");
    }
  }
}

bool Connection::Stale() {
  if (begin_ + consumed_ != end_) return true;
  pollfd p{fd_, POLLIN, 0};
  return poll(&p, 1, 0) != 0;
}

}  // namespace spillway::client
