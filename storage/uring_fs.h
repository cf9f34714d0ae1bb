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

std::shared_ptr<rocksdb::FileSystem> NewUringFileSystem();

}  // namespace spillway::storage

#endif  // SPILLWAY_STORAGE_URING_FS_H_
