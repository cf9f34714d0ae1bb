// One TCP connection to one server, for the client library (internal to client/). Blocking
// calls over a non-blocking socket: every call takes a deadline and returns kTimeout when it
// passes. One thread at a time (the pool hands a connection to one call).

#ifndef SPILLWAY_CLIENT_CONNECTION_H_
#define SPILLWAY_CLIENT_CONNECTION_H_

#include <chrono>
#include <memory>
#include <string>
#include <string_view>

#include "client/server_address.h"
#include "client/status.h"
#include "protocol/response.h"

namespace spillway::client {

class Connection {
 public:
  using Clock = std::chrono::steady_clock;

  // Resolves and connects, trying each address until one accepts before `deadline`.
  static Status Open(const ServerAddress& server, Clock::time_point deadline,
                     std::unique_ptr<Connection>* connection);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Sends all of `bytes`. Answers that arrive meanwhile are buffered, so that a long pipeline
  // cannot deadlock against a server that stops reading while its own answers go unread.
  Status Send(std::string_view bytes, Clock::time_point deadline);
  // The next response unit. Its views point into this connection's buffer and stay valid until
  // the next Read or Send.
  Status Read(protocol::Response* response, Clock::time_point deadline);
  // Whether the connection is unusable as an idle one: the server closed it, or sent bytes
  // nobody asked for. Checked before a pooled connection is reused.
  bool Stale();

  const std::string& peer() const { return peer_; }

 private:
  Connection(int fd, std::string peer) : fd_(fd), peer_(std::move(peer)) {}
  // Waits for `events` on the socket until `deadline`: ok, kTimeout or kIoError.
  Status Wait(short events, Clock::time_point deadline, short* revents);
  // Receives what is there into the buffer: ok (maybe nothing, when it would block) or kIoError
  // (including the server closing).
  Status ReceiveSome();
  Status Failure(StatusCode code, std::string_view what) const;

  int fd_;
  std::string peer_;
  std::string in_;  // [begin_, end_) holds received, unparsed bytes
  size_t begin_ = 0;
  size_t end_ = 0;
  size_t consumed_ = 0;  // bytes of the unit the last Read returned, dropped at the next Read
};

}  // namespace spillway::client

#endif  // SPILLWAY_CLIENT_CONNECTION_H_
