// One shard's spill files: a RocksDB database of SpillRecords keyed by item key, with FIFO
// compaction under a byte budget (the oldest files go first) and a compaction filter that drops
// expired and flushed records as files are merged. Every call may block on disk: the server calls
// them only from a storage thread, never from a shard's loop (docs/storage.md, "The spill tier").
//
// Threading: Write, Read and ForEach may run on any one thread at a time; SetFlushedBelow and
// bytes() on any thread.

#ifndef SPILLWAY_STORAGE_DISK_H_
#define SPILLWAY_STORAGE_DISK_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace rocksdb {
class CompactionFilter;
class DB;
class Env;
class WriteBatch;
}  // namespace rocksdb

namespace spillway::storage {

struct DiskOptions {
  std::string path;  // the database's directory (created if missing)
  uint64_t limit_bytes = 4ull << 30;
  // Random reads through io_uring (uring_fs.h); otherwise plain preads.
  bool io_uring = false;
};

// Writes made on a shard's thread, applied together by Disk::Write.
class DiskBatch {
 public:
  DiskBatch();
  ~DiskBatch();
  DiskBatch(DiskBatch&&) noexcept;
  DiskBatch& operator=(DiskBatch&&) noexcept;

  void Put(std::string_view key, std::string_view record);
  void Delete(std::string_view key);
  bool empty() const { return count_ == 0; }
  size_t count() const { return count_; }
  size_t bytes() const;

 private:
  friend class Disk;
  std::unique_ptr<rocksdb::WriteBatch> batch_;
  size_t count_ = 0;
};

class Disk {
 public:
  // Opens the database at options.path, creating it if missing. Null, with the reason in
  // *error, when it cannot (another process holds it, no space, not a database...).
  static std::unique_ptr<Disk> Open(const DiskOptions& options, std::string* error);
  ~Disk();  // closes without flushing: call Flush() first to keep what the memtable holds

  // Applies a batch without a write-ahead log (a crash loses the memtable, and a crash wipes the
  // directory at the next start anyway). False on a disk error (logged).
  bool Write(DiskBatch batch);
  // Looks the keys up together; (*records)[i] is keys[i]'s record, or empty. With `blocked`,
  // the call never waits for the device (NoWaitScope): (*blocked)[i] is true for the keys whose
  // blocks were not in the page cache (or whose table was not open yet); read those again
  // without it, from a thread that may wait.
  void Read(const std::vector<std::string>& keys, std::vector<std::optional<std::string>>* records,
            std::vector<bool>* blocked = nullptr);
  // Every record, in key order.
  void ForEach(const std::function<void(std::string_view key, std::string_view record)>& f);
  // Writes the memtable out to files. False on a disk error (logged).
  bool Flush();

  // Records with a seq below this are dead (flush_all): compaction drops them.
  void SetFlushedBelow(uint64_t seq) { flushed_below_->store(seq, std::memory_order_relaxed); }
  // Bytes of the database's table files.
  uint64_t bytes() const;
  // RAM the database may hold outside any budget (its memtables), for the caller to count.
  static size_t memory_bytes(const DiskOptions& options);

 private:
  Disk();
  std::shared_ptr<std::atomic<uint64_t>> flushed_below_;
  std::unique_ptr<rocksdb::CompactionFilter> filter_;  // these two outlive db_, which uses them
  std::unique_ptr<rocksdb::Env> env_;
  std::unique_ptr<rocksdb::DB> db_;
};

}  // namespace spillway::storage

#endif  // SPILLWAY_STORAGE_DISK_H_
