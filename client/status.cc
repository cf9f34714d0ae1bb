#include "client/status.h"

namespace spillway::client {

std::string_view StatusCodeName(StatusCode code) {
  switch (code) {
    case StatusCode::kOk:
      return "OK";
    case StatusCode::kInvalidArgument:
      return "invalid argument";
    case StatusCode::kNoServers:
      return "no servers";
    case StatusCode::kServerDown:
      return "server down";
    case StatusCode::kConnectFailed:
      return "connect failed";
    case StatusCode::kTimeout:
      return "timeout";
    case StatusCode::kIoError:
      return "I/O error";
    case StatusCode::kProtocolError:
      return "protocol error";
    case StatusCode::kError:
      return "ERROR";
    case StatusCode::kClientError:
      return "CLIENT_ERROR";
    case StatusCode::kServerError:
      return "SERVER_ERROR";
  }
  return "unknown";
}

std::string Status::ToString() const {
  if (ok()) return "OK";
  std::string text(StatusCodeName(code_));
  if (!message_.empty()) text.append(": ").append(message_);
  return text;
}

bool Status::IsServerFailure() const {
  switch (code_) {
    case StatusCode::kConnectFailed:
    case StatusCode::kTimeout:
    case StatusCode::kIoError:
    case StatusCode::kProtocolError:
      return true;
    default:
      return false;
  }
}

}  // namespace spillway::client
