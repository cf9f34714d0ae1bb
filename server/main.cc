// spillway's entry point. Flags live here and nowhere else in the server (STYLE.md, 12).

#include <gflags/gflags.h>
#include <glog/logging.h>
#include <malloc.h>
#include <signal.h>
#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <thread>

#include "server/server.h"

DEFINE_string(listen, "127.0.0.1", "Address to listen on; an operator opts in to exposure.");
DEFINE_int32(port, 11211, "TCP port to listen on (0: any free port, see --ready_fd).");
DEFINE_uint32(threads, 0, "Shards, one thread each (0: one per CPU).");
DEFINE_bool(pin, false, "Pin each shard's thread to its own CPU.");
DEFINE_string(io, "auto", "I/O backend: auto (io_uring, else epoll), uring or epoll.");
DEFINE_uint64(memory_limit, 64, "Memory for items, in MiB, for the whole process (memcached -m).");
DEFINE_uint64(max_connections, 1024, "Open connections allowed (memcached -c).");
DEFINE_string(max_item_size, "1m", "Largest item: bytes, or with a k/m suffix (memcached -I).");
DEFINE_uint64(idle_timeout, 0, "Close connections idle this many seconds (0: never).");
DEFINE_bool(enable_shutdown, false, "Allow the shutdown command (memcached -A).");
DEFINE_string(data_dir, "./data", "Directory of the spill tier and the warm-restart marker.");
DEFINE_string(disk_limit, "4096",
              "Disk for items evicted from memory (the spill tier), for the whole process: MiB, "
              "or with a k/m/g suffix. 0 turns the spill tier off (evicted items are gone).");
DEFINE_uint64(send_zc_threshold, 0,
              "io_uring: send answers of at least this many bytes with zero-copy sendmsg "
              "(0: never; over loopback it only costs, see docs/benchmarks.md).");
DEFINE_int32(ready_fd, -1, "Write the bound port and a newline to this fd once serving (tests).");

namespace {

spillway::server::Server* g_server = nullptr;

void OnSignal(int) {
  if (g_server != nullptr) g_server->Shutdown();
}

// "1m", "512k", "2048": bytes; 0 when malformed.
size_t ParseSize(const std::string& text) {
  if (text.empty()) return 0;
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  if (digits == 0) return 0;
  size_t value = std::stoull(text.substr(0, digits));
  const std::string suffix = text.substr(digits);
  if (suffix == "k" || suffix == "K") return value << 10;
  if (suffix == "m" || suffix == "M") return value << 20;
  return suffix.empty() ? value : 0;
}

// --disk_limit: MiB, or bytes with a k/m/g suffix; nullopt when malformed.
std::optional<uint64_t> ParseDiskLimit(const std::string& text) {
  size_t digits = 0;
  while (digits < text.size() && std::isdigit(static_cast<unsigned char>(text[digits]))) ++digits;
  if (digits == 0 || digits > 12) return std::nullopt;
  const uint64_t value = std::stoull(text.substr(0, digits));
  const std::string suffix = text.substr(digits);
  if (suffix.empty() || suffix == "m" || suffix == "M") return value << 20;
  if (suffix == "k" || suffix == "K") return value << 10;
  if (suffix == "g" || suffix == "G") return value << 30;
  return std::nullopt;
}

// memcached's users write --memory-limit; gflags knows --memory_limit. Flag names take either.
void DashesToUnderscores(int argc, char** argv) {
  for (int i = 1; i < argc; ++i) {
    char* arg = argv[i];
    if (std::strncmp(arg, "--", 2) != 0) continue;
    if (arg[2] == '\0') break;  // "--": the rest are not flags
    for (char* p = arg + 2; *p != '\0' && *p != '='; ++p) {
      if (*p == '-') *p = '_';
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  // Two malloc arenas, not eight per CPU: the shard threads allocate little (their items live in
  // segments), and every arena keeps freed memory of its own resident.
  mallopt(M_ARENA_MAX, 2);
  // Large blocks (the spill index's table, RocksDB's memtable arenas) always get their own
  // mapping and go back to the kernel when freed. (By default glibc raises the threshold after
  // the first such free, and freed tables stayed resident in the heap: 20 MiB of RSS over the
  // budget at 500k keys on disk.)
  mallopt(M_MMAP_THRESHOLD, 256 << 10);
  DashesToUnderscores(argc, argv);
  gflags::SetVersionString(SPILLWAY_VERSION);
  gflags::SetUsageMessage("spillway: a memcached-compatible cache server");
  gflags::ParseCommandLineFlags(&argc, &argv, /*remove_flags=*/true);
  FLAGS_logtostderr = true;
  google::InitGoogleLogging(argv[0]);

  spillway::server::ServerOptions o;
  o.listen = FLAGS_listen;
  o.port = FLAGS_port;
  o.threads =
      FLAGS_threads != 0 ? FLAGS_threads : std::max(1u, std::thread::hardware_concurrency());
  o.pin = FLAGS_pin;
  o.io = FLAGS_io;
  o.memory_limit_bytes = FLAGS_memory_limit << 20;
  o.max_connections = FLAGS_max_connections;
  o.max_item_size = ParseSize(FLAGS_max_item_size);
  o.idle_timeout_seconds = static_cast<int64_t>(FLAGS_idle_timeout);
  o.enable_shutdown = FLAGS_enable_shutdown;
  o.zero_copy_threshold = FLAGS_send_zc_threshold;
  o.data_dir = FLAGS_data_dir;
  const std::optional<uint64_t> disk_limit = ParseDiskLimit(FLAGS_disk_limit);
  if (!disk_limit) {
    LOG(ERROR) << "--disk_limit must be MiB, or a size with a k/m/g suffix, not "
               << FLAGS_disk_limit;
    return 2;
  }
  o.disk_limit_bytes = *disk_limit;
  // Clients read the version to decide what a server supports (libmemcached's memcapable treats
  // "0.1.0" as a pre-1.3 memcached), so it leads with the memcached release whose protocol
  // spillway speaks.
  o.version = "1.6.18-spillway-" SPILLWAY_VERSION;
  if (o.io != "auto" && o.io != "uring" && o.io != "epoll") {
    LOG(ERROR) << "--io must be auto, uring or epoll, not " << o.io;
    return 2;
  }
  if (o.max_item_size < 1024 || o.max_item_size > (16u << 20) - 4096) {
    LOG(ERROR) << "--max_item_size must be between 1k and 16m minus 4k, not "
               << FLAGS_max_item_size;
    return 2;
  }
  if (o.memory_limit_bytes / o.threads < (1u << 20) ||
      o.memory_limit_bytes / o.threads < 8 * o.max_item_size) {
    LOG(ERROR) << "--memory_limit too small: each of the " << o.threads
               << " shards needs at least 8 items of --max_item_size";
    return 2;
  }

  spillway::server::Server server(o);
  if (!server.Start()) return 1;
  g_server = &server;
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigaction(SIGTERM, &sa, nullptr);
  sigaction(SIGINT, &sa, nullptr);
  signal(SIGPIPE, SIG_IGN);
  if (FLAGS_ready_fd >= 0) {
    const std::string line = std::to_string(server.port()) + "\n";
    [[maybe_unused]] const ssize_t n = write(FLAGS_ready_fd, line.data(), line.size());
    close(FLAGS_ready_fd);
  }
  server.Wait();
  g_server = nullptr;
  LOG(INFO) << "spillway stopped";
  return 0;
}
