// A bounded single-producer single-consumer ring of pointers: one per ordered pair of shards.
// The producer batches a turn's messages and wakes the consumer once (see Shard).

#ifndef SPILLWAY_SERVER_SPSC_H_
#define SPILLWAY_SERVER_SPSC_H_

#include <atomic>
#include <cstddef>
#include <memory>

namespace spillway::server {

template <typename T>
class SpscRing {
 public:
  explicit SpscRing(size_t capacity) : mask_(RoundUp(capacity) - 1), slots_(new T*[mask_ + 1]) {}

  // Producer thread. False when full (the caller keeps the item and retries later).
  bool Push(T* item) {
    const size_t tail = tail_.load(std::memory_order_relaxed);
    if (tail - head_cache_ > mask_) {
      head_cache_ = head_.load(std::memory_order_acquire);
      if (tail - head_cache_ > mask_) return false;
    }
    slots_[tail & mask_] = item;
    tail_.store(tail + 1, std::memory_order_release);
    return true;
  }
  // Consumer thread. Null when empty.
  T* Pop() {
    const size_t head = head_.load(std::memory_order_relaxed);
    if (head == tail_cache_) {
      tail_cache_ = tail_.load(std::memory_order_acquire);
      if (head == tail_cache_) return nullptr;
    }
    T* item = slots_[head & mask_];
    head_.store(head + 1, std::memory_order_release);
    return item;
  }

 private:
  static size_t RoundUp(size_t n) {
    size_t p = 1;
    while (p < n) p *= 2;
    return p;
  }
  const size_t mask_;
  std::unique_ptr<T*[]> slots_;
  alignas(64) std::atomic<size_t> head_{0};
  size_t tail_cache_ = 0;  // consumer's view of tail
  alignas(64) std::atomic<size_t> tail_{0};
  size_t head_cache_ = 0;  // producer's view of head
};

}  // namespace spillway::server

#endif  // SPILLWAY_SERVER_SPSC_H_
