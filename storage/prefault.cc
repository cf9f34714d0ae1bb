#include "storage/internal/prefault.h"

#include <glog/logging.h>
#include <sched.h>
#include <sys/mman.h>

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23  // Linux 5.14; older kernels answer EINVAL, and nothing happens
#endif

namespace spillway::storage {
namespace {
// It only calls madvise: a small stack keeps the thread's address space small too.
constexpr size_t kStackBytes = 64 << 10;
}  // namespace

Prefaulter::~Prefaulter() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (started_) pthread_join(thread_, nullptr);
}

void Prefaulter::Add(char* data, size_t bytes) {
  std::lock_guard lock(mu_);
  queue_.emplace_back(data, bytes);
  if (!started_) {
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, kStackBytes);
    started_ = pthread_create(
                   &thread_, &attr,
                   [](void* self) -> void* {
                     static_cast<Prefaulter*>(self)->Run();
                     return nullptr;
                   },
                   this) == 0;
    pthread_attr_destroy(&attr);
    if (!started_) {
      LOG_FIRST_N(WARNING, 1) << "no prefault thread: fresh memory is faulted in by writes";
      queue_.clear();
      return;
    }
  }
  cv_.notify_all();
}

void Prefaulter::WaitIdle() {
  std::unique_lock lock(mu_);
  cv_.wait(lock, [this] { return Idle(); });
}

void Prefaulter::Run() {
  // Idle priority: the zeroing runs when the shard's core has nothing else to do and gives way
  // the moment the shard wakes up, so it takes no latency from requests.
  sched_param param{};
  pthread_setschedparam(pthread_self(), SCHED_IDLE, &param);
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return stop_ || next_ < queue_.size(); });
    if (stop_) return;
    const auto [data, bytes] = queue_[next_++];
    busy_ = true;
    lock.unlock();
    madvise(data, bytes, MADV_POPULATE_WRITE);
    lock.lock();
    busy_ = false;
    if (next_ == queue_.size()) {
      queue_.clear();
      next_ = 0;
    }
    cv_.notify_all();
  }
}

}  // namespace spillway::storage
