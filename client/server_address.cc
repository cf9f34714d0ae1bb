#include "client/server_address.h"

#include <charconv>

namespace spillway::client {
namespace {

bool ParseNumber(std::string_view text, uint64_t max, uint64_t* value) {
  if (text.empty()) return false;
  auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), *value);
  return error == std::errc() && end == text.data() + text.size() && *value <= max;
}

Status ParseOne(std::string_view item, ServerAddress* server) {
  auto bad = [&](std::string_view why) {
    return Status(StatusCode::kInvalidArgument,
                  "server \"" + std::string(item) + "\": " + std::string(why));
  };
  std::string_view rest = item;
  if (rest.starts_with('[')) {
    size_t close = rest.find(']');
    if (close == std::string_view::npos || close == 1) return bad("unclosed or empty [address]");
    server->host = std::string(rest.substr(1, close - 1));
    rest.remove_prefix(close + 1);
    if (!rest.empty() && !rest.starts_with(':')) return bad("expected ':' after ']'");
  } else {
    size_t colon = rest.find(':');
    server->host = std::string(rest.substr(0, colon));
    rest = colon == std::string_view::npos ? std::string_view() : rest.substr(colon);
    if (server->host.empty()) return bad("no host");
  }
  if (rest.empty()) return Status::Ok();
  rest.remove_prefix(1);  // ':'
  size_t colon = rest.find(':');
  uint64_t port = 0;
  if (!ParseNumber(rest.substr(0, colon), 65535, &port) || port == 0) {
    return bad("the port is not a number from 1 to 65535");
  }
  server->port = static_cast<uint16_t>(port);
  if (colon == std::string_view::npos) return Status::Ok();
  uint64_t weight = 0;
  if (!ParseNumber(rest.substr(colon + 1), UINT32_MAX, &weight)) {
    return bad("the weight is not a number from 0 to 4294967295");
  }
  server->weight = static_cast<uint32_t>(weight);
  return Status::Ok();
}

}  // namespace

std::string ServerAddress::PointName() const {
  if (port == kDefaultPort) return host;
  return host + ":" + std::to_string(port);
}

std::string ServerAddress::ToString() const {
  bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

Status ParseServerList(std::string_view text, std::vector<ServerAddress>* servers) {
  std::vector<ServerAddress> parsed;
  constexpr std::string_view kSeparators = ", \t\r\n";
  size_t pos = 0;
  while ((pos = text.find_first_not_of(kSeparators, pos)) != std::string_view::npos) {
    size_t end = text.find_first_of(kSeparators, pos);
    std::string_view item = text.substr(pos, end - pos);
    ServerAddress server;
    if (Status status = ParseOne(item, &server); !status.ok()) return status;
    parsed.push_back(std::move(server));
    pos = end;
  }
  if (parsed.empty()) return Status(StatusCode::kInvalidArgument, "the server list is empty");
  servers->insert(servers->end(), parsed.begin(), parsed.end());
  return Status::Ok();
}

}  // namespace spillway::client
