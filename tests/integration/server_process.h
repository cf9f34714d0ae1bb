// A real spillway process for tests: started with --port=0, its port read from --ready_fd, its
// own data directory and log file, and a blocking client socket with timeouts, so no test can
// hang.

#ifndef SPILLWAY_TESTS_INTEGRATION_SERVER_PROCESS_H_
#define SPILLWAY_TESTS_INTEGRATION_SERVER_PROCESS_H_

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace spillway::testing {

// A fresh directory under $TMPDIR (or /tmp), made by mkdtemp and removed with everything in it
// when this goes away. path() is "" when it could not be made.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

class ServerProcess {
 public:
  // Starts the binary with `args` (plus --ready_fd and, unless `args` name them, --port=0 and
  // --data_dir=<a fresh temporary directory>). Check port() > 0. A --port=N in `args` restarts a
  // node where it was (ketama places keys by "host:port"): this first waits (at most 10 s) until
  // nothing accepts on that port, since an io_uring server's sockets outlive its reaped process
  // by a few milliseconds; spillway binds with SO_REUSEADDR, so TIME_WAIT connections of the old
  // process do not stand in the way. The server's stderr goes to a log file of its own (Log()),
  // which is printed when the test fails or the server did not exit cleanly.
  explicit ServerProcess(std::vector<std::string> args);
  // SIGTERM, then SIGKILL if it has not exited within 10 s; then removes the data directory if
  // this made it (one passed in with --data_dir= is left alone).
  ~ServerProcess();
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  int port() const { return port_; }
  pid_t pid() const { return pid_; }
  const std::string& data_dir() const { return data_dir_; }
  // What the server has written to stderr so far (also after it exited, until destruction).
  std::string Log() const;
  // SIGTERM and wait: the exit status (as waitpid reports it), or -1 on timeout.
  int Stop();
  // SIGKILL and reap: the wait status, or -1 when there was no process.
  int Kill();

 private:
  TempDir scratch_;  // the log and, unless given, the data directory
  std::string data_dir_;
  std::string log_path_;
  pid_t pid_ = -1;
  int port_ = 0;
  int status_ = 0;        // the last wait status, once reaped
  bool expected_ = true;  // whether the way it ended (so far) is the normal one
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

// The `stats` answer as name -> value; empty when the answer did not end in END.
using StatsMap = std::map<std::string, std::string>;
StatsMap Stats(Client& c);
// A numeric stat, or nullopt when absent or not a number.
std::optional<int64_t> StatNumber(const StatsMap& stats, const std::string& name);
// Polls `stats` until the server's clock (the `time` field, Unix seconds) reaches `unix_seconds`,
// at most until that time plus 10 s by this machine's clock. False when it did not (or when the
// time is more than a minute away).
bool WaitForServerTime(Client& c, int64_t unix_seconds);

}  // namespace spillway::testing

#endif  // SPILLWAY_TESTS_INTEGRATION_SERVER_PROCESS_H_
