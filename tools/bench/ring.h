// A FIFO of fixed capacity for what a connection has in flight: the worker knows the most it will
// ever hold (pipeline, pipeline * mget), so pushing never allocates, unlike std::deque.
//
// Thread safety: none; one connection's, on its worker's thread.

#ifndef SPILLWAY_TOOLS_BENCH_RING_H_
#define SPILLWAY_TOOLS_BENCH_RING_H_

#include <glog/logging.h>

#include <bit>
#include <cstddef>
#include <vector>

namespace spillway::bench {

template <typename T>
class Ring {
 public:
  // Room for at least `capacity`; empties the ring.
  void Reserve(size_t capacity) {
    slots_.assign(std::bit_ceil(capacity < 1 ? size_t{1} : capacity), T{});
    mask_ = slots_.size() - 1;
    head_ = size_ = 0;
  }

  bool empty() const { return size_ == 0; }
  size_t size() const { return size_; }
  T& front() { return slots_[head_]; }
  // The i-th from the front.
  T& at(size_t i) { return slots_[(head_ + i) & mask_]; }

  void push_back(const T& value) {
    DCHECK_LT(size_, slots_.size());
    slots_[(head_ + size_) & mask_] = value;
    ++size_;
  }
  void pop_front(size_t n = 1) {
    DCHECK_LE(n, size_);
    head_ = (head_ + n) & mask_;
    size_ -= n;
  }
  void clear() { head_ = size_ = 0; }

 private:
  std::vector<T> slots_;
  size_t mask_ = 0;
  size_t head_ = 0;
  size_t size_ = 0;
};

}  // namespace spillway::bench

#endif  // SPILLWAY_TOOLS_BENCH_RING_H_
