// A RocksDB file system whose random-access files read through io_uring: MultiRead (what a
// MultiGet of several keys becomes, per table file) goes to the kernel as one batch, one
// io_uring_enter for the lot, and a single Read as a batch of one. Each thread that reads gets
// its own small ring at its first read; where io_uring is missing the reads are plain preads.
// Everything else is the default (POSIX) file system's.

#ifndef SPILLWAY_STORAGE_URING_FS_H_
#define SPILLWAY_STORAGE_URING_FS_H_

#include <memory>

namespace rocksdb {
class FileSystem;
}  // namespace rocksdb

namespace spillway::storage {

// `io_uring` false: MultiRead and Read use pread.
std::shared_ptr<rocksdb::FileSystem> NewUringFileSystem(bool io_uring);

// While one lives on a thread, that thread's reads through this file system never wait for the
// device: data not in the page cache fails the read (Busy) instead, and so does opening a
// table file. A shard's thread reads this way, and hands what failed to its storage thread.
class NoWaitScope {
 public:
  NoWaitScope();
  ~NoWaitScope();
  NoWaitScope(const NoWaitScope&) = delete;
  NoWaitScope& operator=(const NoWaitScope&) = delete;
  static bool active();
};

}  // namespace spillway::storage

#endif  // SPILLWAY_STORAGE_URING_FS_H_
