// The outcome of a client call that can fail. Protocol outcomes (a miss, NOT_STORED, EXISTS) are
// not failures: they come back in the call's result. A Status says why a request got no answer,
// or why its answer was an error line.

#ifndef SPILLWAY_CLIENT_STATUS_H_
#define SPILLWAY_CLIENT_STATUS_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace spillway::client {

enum class StatusCode : uint8_t {
  kOk,
  kInvalidArgument,  // rejected before sending: a bad key, meta flags, server list or option
  kNoServers,        // every server is ejected
  kServerDown,       // the key's server failed recently and is not retried until its interval ends
  kConnectFailed,    // connect() was refused or did not finish in time
  kTimeout,          // the request did not complete within Options::request_timeout
  kIoError,          // send or receive failed, or the server closed the connection
  kProtocolError,    // the answer is not memcached's protocol, or not an answer to the request
  kError,            // the server answered ERROR
  kClientError,      // the server answered CLIENT_ERROR <message>
  kServerError,      // the server answered SERVER_ERROR <message>
};

class [[nodiscard]] Status {
 public:
  Status() = default;  // ok
  Status(StatusCode code, std::string message) : code_(code), message_(std::move(message)) {}
  static Status Ok() { return Status(); }

  bool ok() const { return code_ == StatusCode::kOk; }
  StatusCode code() const { return code_; }
  // For server errors, the server's text ("object too large for cache"); otherwise what failed
  // and where ("127.0.0.1:11211: connect: Connection refused").
  const std::string& message() const { return message_; }
  // "<code name>: <message>", or "OK".
  std::string ToString() const;
  // Whether the failure says the server (or the path to it) is unhealthy, as opposed to an
  // answer it gave: these count towards ejecting it.
  bool IsServerFailure() const;

  // Marks a value computed from a Status as deliberately unused.
  void IgnoreError() const {}

 private:
  StatusCode code_ = StatusCode::kOk;
  std::string message_;
};

std::string_view StatusCodeName(StatusCode code);

}  // namespace spillway::client

#endif  // SPILLWAY_CLIENT_STATUS_H_
