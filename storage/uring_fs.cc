#include "storage/uring_fs.h"

#include <fcntl.h>
#include <liburing.h>
#include <rocksdb/file_system.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

namespace spillway::storage {
namespace {

constexpr unsigned kRingDepth = 64;

thread_local int no_wait_depth = 0;

// The calling thread's ring, made at its first use; null when io_uring is not usable.
io_uring* ThreadRing() {
  struct Ring {
    Ring() { ok = io_uring_queue_init(kRingDepth, &ring, 0) == 0; }
    ~Ring() {
      if (ok) io_uring_queue_exit(&ring);
    }
    io_uring ring{};
    bool ok = false;
  };
  thread_local Ring r;
  return r.ok ? &r.ring : nullptr;
}

// pread until `n` bytes or the end of the file; the count, or -errno.
ssize_t ReadFully(int fd, char* to, size_t n, uint64_t offset) {
  size_t done = 0;
  while (done < n) {
    const ssize_t got = pread(fd, to + done, n - done, static_cast<off_t>(offset + done));
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) return -errno;
    if (got == 0) break;
    done += static_cast<size_t>(got);
  }
  return static_cast<ssize_t>(done);
}

// preadv2 with RWF_NOWAIT: the bytes if the page cache has all of them, else TryAgain.
rocksdb::IOStatus ReadCached(int fd, char* to, size_t n, uint64_t offset, rocksdb::Slice* result) {
  iovec iov{to, n};
  ssize_t got;
  do {
    got = preadv2(fd, &iov, 1, static_cast<off_t>(offset), RWF_NOWAIT);
  } while (got < 0 && errno == EINTR);
  if (got < 0 && errno != EAGAIN) {
    *result = rocksdb::Slice(to, 0);
    return rocksdb::IOStatus::IOError("read", std::strerror(errno));
  }
  // A short read may be the end of the file, or a page not cached: RocksDB asks only for what
  // the file holds, so treat it as not cached and let the storage thread read it.
  if (got < 0 || static_cast<size_t>(got) < n) {
    *result = rocksdb::Slice(to, 0);
    return rocksdb::IOStatus::Busy("not in the page cache");
  }
  *result = rocksdb::Slice(to, n);
  return rocksdb::IOStatus::OK();
}

rocksdb::IOStatus Finish(ssize_t got, char* scratch, rocksdb::Slice* result) {
  if (got < 0) {
    *result = rocksdb::Slice(scratch, 0);
    return rocksdb::IOStatus::IOError("read", std::strerror(static_cast<int>(-got)));
  }
  *result = rocksdb::Slice(scratch, static_cast<size_t>(got));
  return rocksdb::IOStatus::OK();
}

class UringFile : public rocksdb::FSRandomAccessFileOwnerWrapper {
 public:
  UringFile(std::unique_ptr<rocksdb::FSRandomAccessFile> target, int fd, bool io_uring)
      : FSRandomAccessFileOwnerWrapper(std::move(target)), fd_(fd), io_uring_(io_uring) {}
  ~UringFile() override { close(fd_); }

  rocksdb::IOStatus Read(uint64_t offset, size_t n, const rocksdb::IOOptions& options,
                         rocksdb::Slice* result, char* scratch,
                         rocksdb::IODebugContext* dbg) const override {
    rocksdb::FSReadRequest req;
    req.offset = offset;
    req.len = n;
    req.scratch = scratch;
    const rocksdb::IOStatus s = ReadBatch(&req, 1);
    (void)options;
    (void)dbg;
    *result = req.result;
    return s.ok() ? req.status : s;
  }

  rocksdb::IOStatus MultiRead(rocksdb::FSReadRequest* reqs, size_t num_reqs,
                              const rocksdb::IOOptions& /*options*/,
                              rocksdb::IODebugContext* /*dbg*/) override {
    for (size_t at = 0; at < num_reqs; at += kRingDepth) {
      const rocksdb::IOStatus s = ReadBatch(reqs + at, std::min<size_t>(kRingDepth, num_reqs - at));
      if (!s.ok()) return s;
    }
    return rocksdb::IOStatus::OK();
  }

 private:
  // At most kRingDepth requests: all submitted with one call, then every completion reaped.
  rocksdb::IOStatus ReadBatch(rocksdb::FSReadRequest* reqs, size_t n) const {
    if (no_wait_depth > 0) {
      for (size_t i = 0; i < n; ++i) {
        reqs[i].status =
            ReadCached(fd_, reqs[i].scratch, reqs[i].len, reqs[i].offset, &reqs[i].result);
      }
      return rocksdb::IOStatus::OK();
    }
    io_uring* ring = io_uring_ ? ThreadRing() : nullptr;
    if (ring == nullptr) {
      for (size_t i = 0; i < n; ++i) {
        reqs[i].status = Finish(ReadFully(fd_, reqs[i].scratch, reqs[i].len, reqs[i].offset),
                                reqs[i].scratch, &reqs[i].result);
      }
      return rocksdb::IOStatus::OK();
    }
    for (size_t i = 0; i < n; ++i) {
      io_uring_sqe* sqe = io_uring_get_sqe(ring);  // never null: the ring holds kRingDepth
      io_uring_prep_read(sqe, fd_, reqs[i].scratch, static_cast<unsigned>(reqs[i].len),
                         reqs[i].offset);
      io_uring_sqe_set_data64(sqe, i);
    }
    int submitted;
    do {
      submitted = io_uring_submit_and_wait(ring, static_cast<unsigned>(n));
    } while (submitted == -EINTR);
    if (submitted < 0) {
      return rocksdb::IOStatus::IOError("io_uring_submit", std::strerror(-submitted));
    }
    for (size_t reaped = 0; reaped < n;) {
      io_uring_cqe* cqe = nullptr;
      const int rc = io_uring_wait_cqe(ring, &cqe);
      if (rc == -EINTR) continue;
      if (rc < 0) return rocksdb::IOStatus::IOError("io_uring_wait_cqe", std::strerror(-rc));
      rocksdb::FSReadRequest& req = reqs[io_uring_cqe_get_data64(cqe)];
      ssize_t got = cqe->res;
      io_uring_cqe_seen(ring, cqe);
      ++reaped;
      // A short read that is not at the end of the file: the rest with pread.
      if (got >= 0 && static_cast<size_t>(got) < req.len) {
        const size_t have = static_cast<size_t>(got);
        const ssize_t more = ReadFully(fd_, req.scratch + have, req.len - have, req.offset + have);
        got = more < 0 ? more : got + more;
      }
      req.status = Finish(got, req.scratch, &req.result);
    }
    return rocksdb::IOStatus::OK();
  }

  int fd_;
  bool io_uring_;
};

class UringFileSystem : public rocksdb::FileSystemWrapper {
 public:
  explicit UringFileSystem(bool io_uring)
      : FileSystemWrapper(rocksdb::FileSystem::Default()), io_uring_(io_uring) {}
  const char* Name() const override { return "spillway.UringFileSystem"; }

  rocksdb::IOStatus NewRandomAccessFile(const std::string& name,
                                        const rocksdb::FileOptions& options,
                                        std::unique_ptr<rocksdb::FSRandomAccessFile>* result,
                                        rocksdb::IODebugContext* dbg) override {
    // Opening a table reads its footer, index and filter: not on a thread that must not wait.
    if (no_wait_depth > 0) return rocksdb::IOStatus::Busy("opening a table file");
    std::unique_ptr<rocksdb::FSRandomAccessFile> file;
    rocksdb::IOStatus s = target()->NewRandomAccessFile(name, options, &file, dbg);
    if (!s.ok() || options.use_direct_reads || options.use_mmap_reads) {
      *result = std::move(file);
      return s;
    }
    const int fd = open(name.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return rocksdb::IOStatus::IOError("open " + name, std::strerror(errno));
    *result = std::make_unique<UringFile>(std::move(file), fd, io_uring_);
    return s;
  }

 private:
  bool io_uring_;
};

}  // namespace

std::shared_ptr<rocksdb::FileSystem> NewUringFileSystem(bool io_uring) {
  return std::make_shared<UringFileSystem>(io_uring);
}

NoWaitScope::NoWaitScope() { ++no_wait_depth; }
NoWaitScope::~NoWaitScope() { --no_wait_depth; }
bool NoWaitScope::active() { return no_wait_depth > 0; }

}  // namespace spillway::storage
