#include "tools/bench/net.h"

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <utility>

namespace spillway::bench {

int ConnectTo(const ServerAddress& server, std::string* error) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  const std::string port = std::to_string(server.port);
  const int r = getaddrinfo(server.host.c_str(), port.c_str(), &hints, &found);
  if (r != 0) {
    *error = server.ToString() + ": " + gai_strerror(r);
    return -1;
  }
  int fd = -1;
  int last_errno = 0;
  for (addrinfo* a = found; a != nullptr && fd < 0; a = a->ai_next) {
    fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
    if (fd < 0) {
      last_errno = errno;
      continue;
    }
    // A blocking connect keeps this simple; connections are made before the run starts.
    if (connect(fd, a->ai_addr, a->ai_addrlen) != 0) {
      last_errno = errno;
      close(fd);
      fd = -1;
    }
  }
  freeaddrinfo(found);
  if (fd < 0) {
    *error = server.ToString() + ": " + std::strerror(last_errno);
    return -1;
  }
  const int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

bool ParseServers(const std::string& text, std::vector<ServerAddress>* out, std::string* error) {
  std::vector<ServerAddress> servers;
  const client::Status status = client::ParseServerList(text, &servers);
  if (!status.ok()) {
    *error = status.message();
    return false;
  }
  *out = std::move(servers);
  return true;
}

}  // namespace spillway::bench
