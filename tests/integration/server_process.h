// A real spillway process for tests: started with --port=0, its port read from --ready_fd, and a
// blocking client socket with timeouts, so no test can hang.

#ifndef SPILLWAY_TESTS_INTEGRATION_SERVER_PROCESS_H_
#define SPILLWAY_TESTS_INTEGRATION_SERVER_PROCESS_H_

#include <sys/types.h>

#include <string>
#include <vector>

namespace spillway::testing {

class ServerProcess {
 public:
  // Starts the binary with `args` (plus --port=0 and --ready_fd). Check port() > 0.
  explicit ServerProcess(std::vector<std::string> args);
  ~ServerProcess();  // SIGTERM, then SIGKILL if it has not exited within 10 s
  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  // SIGTERM and wait: the exit status (as waitpid reports it), or -1 on timeout.
  int Stop();

 private:
  pid_t pid_ = -1;
  int port_ = 0;
};

// Whether the server can run on io_uring here (asked once, by starting it with --io=uring).
// Tests of the io_uring backend skip, saying so, where the kernel does not allow it.
bool UringUsable();

class Client {
 public:
  explicit Client(int port);  // connects to 127.0.0.1:port; check ok()
  ~Client();
  bool ok() const { return fd_ >= 0; }
  int fd() const { return fd_; }
  bool Send(std::string_view bytes);
  // Reads until `bytes` more bytes arrived; what arrived before a timeout or EOF otherwise.
  std::string Read(size_t bytes);
  // Reads until the received text ends with `terminator` (or timeout/EOF).
  std::string ReadUntil(std::string_view terminator);
  // Sends `request` and reads until `terminator`.
  std::string Call(std::string_view request, std::string_view terminator = "\r\n");
  // True when the server closed the connection (read returns 0) within the timeout.
  bool Closed();

 private:
  int fd_ = -1;
  std::string pending_;
};

}  // namespace spillway::testing

#endif  // SPILLWAY_TESTS_INTEGRATION_SERVER_PROCESS_H_
