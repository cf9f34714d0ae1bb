// Faults in fresh segment memory on a thread of its own, ahead of the writes that will use it.
// A store that grows writes into memory the kernel has not given it yet, and the first touch of
// a huge page zeroes 2 MiB at once: measured at up to 2 ms on this VM, a stall that showed as the
// p99 of every request queued behind it (docs/benchmarks.md). Segments maps the next group before
// it is needed and hands it here. MADV_POPULATE_WRITE only faults pages in; it never changes
// their contents, so the shard may write to a range while it is being populated, and a range
// unmapped meanwhile makes the call fail harmlessly. Internal to the storage module.

#ifndef SPILLWAY_STORAGE_INTERNAL_PREFAULT_H_
#define SPILLWAY_STORAGE_INTERNAL_PREFAULT_H_

#include <pthread.h>

#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <utility>
#include <vector>

namespace spillway::storage {

class Prefaulter {
 public:
  Prefaulter() = default;
  ~Prefaulter();
  Prefaulter(const Prefaulter&) = delete;
  Prefaulter& operator=(const Prefaulter&) = delete;

  // Queues [data, data + bytes) to be faulted in; starts the thread on first use.
  void Add(char* data, size_t bytes);
  // Returns once everything queued so far has been faulted in (tests).
  void WaitIdle();

 private:
  void Run();
  bool Idle() const { return next_ == queue_.size() && !busy_; }

  std::mutex mu_;
  std::condition_variable cv_;
  // Ranges queued, done up to next_; cleared (capacity kept) when all are done. The thread
  // neither allocates nor frees: a thread's first free() gives it a malloc arena of its own,
  // 64 MiB or more of address space, which the store's budget tests rightly count.
  std::vector<std::pair<char*, size_t>> queue_;
  size_t next_ = 0;
  bool busy_ = false;
  bool stop_ = false;
  bool started_ = false;
  pthread_t thread_{};
};

}  // namespace spillway::storage

#endif  // SPILLWAY_STORAGE_INTERNAL_PREFAULT_H_
