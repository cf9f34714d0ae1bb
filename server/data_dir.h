// The spill tier's directory (--data_dir): one RocksDB database per shard (shard-<i>), a lock
// that keeps a second server out, and the clean-shutdown marker that decides between a warm
// restart and a cold start.
//
// The marker is written only after every shard's memory tier is on disk and flushed, and removed
// at start before anything is served. So a directory without it was left by a crash (kill -9,
// power loss) and may hold values older than writes that were acknowledged: it is wiped.

#ifndef SPILLWAY_SERVER_DATA_DIR_H_
#define SPILLWAY_SERVER_DATA_DIR_H_

#include <cstdint>
#include <string>
#include <vector>

namespace spillway::server {

class DataDir {
 public:
  DataDir() = default;
  ~DataDir();  // releases the lock
  DataDir(const DataDir&) = delete;
  DataDir& operator=(const DataDir&) = delete;

  // Creates the directory if need be and locks it. Then: a marker for `shards` shards means a
  // warm restart (the marker is removed); anything else means a cold start (the shards'
  // databases are removed). False, with the reason in *error, when it cannot.
  bool Open(const std::string& path, uint32_t shards, std::string* error);
  bool warm() const { return warm_; }
  // Why the start was warm or cold, for the log.
  const std::string& how() const { return how_; }
  // Per shard: records below this seq were flushed (from the marker; 0 after a cold start).
  uint64_t flushed_below(uint32_t shard) const {
    return shard < flushed_below_.size() ? flushed_below_[shard] : 0;
  }
  std::string ShardPath(uint32_t shard) const;
  // After a clean stop with every shard persisted: writes the marker (durably).
  bool MarkClean(const std::vector<uint64_t>& flushed_below, std::string* error);

 private:
  std::string path_;
  int lock_fd_ = -1;
  bool warm_ = false;
  std::string how_;
  std::vector<uint64_t> flushed_below_;
};

}  // namespace spillway::server

#endif  // SPILLWAY_SERVER_DATA_DIR_H_
