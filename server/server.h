// The process: its settings, its shards and what they share (connection count, start time).

#ifndef SPILLWAY_SERVER_SERVER_H_
#define SPILLWAY_SERVER_SERVER_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "protocol/request_parser.h"
#include "server/data_dir.h"

namespace spillway::server {

class Shard;

struct ServerOptions {
  std::string listen = "127.0.0.1";
  int port = 11211;
  uint32_t threads = 1;
  bool pin = false;
  std::string io = "auto";               // auto | uring | epoll
  size_t memory_limit_bytes = 64 << 20;  // the whole process, split across shards
  size_t max_connections = 1024;
  size_t max_item_size = 1 << 20;
  size_t max_line_length = 2048;
  int64_t idle_timeout_seconds = 0;  // 0: off
  bool enable_shutdown = false;
  // A connection whose unsent output passes this stops being read until it drains.
  size_t output_cap_bytes = 4 << 20;
  // io_uring: sends of at least this many bytes use zero-copy sendmsg (0: never; see
  // docs/benchmarks.md, "Zero-copy send").
  size_t zero_copy_threshold = 0;
  // The spill tier: its directory and its disk budget for the whole process, split across the
  // shards (0: no spill tier; evicted items are gone, as in memcached).
  std::string data_dir = "./data";
  uint64_t disk_limit_bytes = 0;
  std::string version;
};

class Server {
 public:
  explicit Server(const ServerOptions& options);
  ~Server();

  // Binds, starts every shard's thread. False (with the reason logged) when it cannot.
  bool Start();
  // The port actually bound (useful with port 0).
  int port() const { return port_; }
  // Blocks until Shutdown() (or a signal handler calling it), then stops every shard.
  void Wait();
  // Any thread (async-signal-safe: it only writes to an eventfd-backed wake-up).
  void Shutdown();

  const ServerOptions& options() const { return options_; }
  const protocol::ParserOptions& parser_options() const { return parser_options_; }
  uint32_t shards() const { return static_cast<uint32_t>(shards_.size()); }
  Shard& shard(uint32_t i) { return *shards_[i]; }
  // The shard that owns a key: hash bits 32..47 (storage::Key documents the split).
  uint32_t OwnerOf(uint64_t hash) const {
    return static_cast<uint32_t>((((hash >> 32) & 0xffff) * shards_.size()) >> 16);
  }
  std::string_view io_backend() const { return io_backend_; }
  // The spill tier started from what a clean shutdown left (false: cold, or no spill tier).
  bool warm_restart() const { return data_dir_.warm(); }
  int64_t started() const { return started_; }

  // Connection accounting across shards.
  std::atomic<uint64_t> curr_connections{0};
  std::atomic<uint64_t> total_connections{0};
  std::atomic<uint64_t> rejected_connections{0};

 private:
  // After the shards stopped: writes the memory tier to disk and marks the directory clean.
  void Persist();

  ServerOptions options_;
  protocol::ParserOptions parser_options_;
  std::vector<std::unique_ptr<Shard>> shards_;
  std::string io_backend_;
  int port_ = 0;
  int64_t started_ = 0;
  std::atomic<bool> shutdown_{false};
  DataDir data_dir_;
  int shutdown_fd_ = -1;
};

}  // namespace spillway::server

#endif  // SPILLWAY_SERVER_SERVER_H_
