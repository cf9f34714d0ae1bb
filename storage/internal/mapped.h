// Anonymous memory mappings: what the store's budget counts is exactly what the kernel gives it,
// and freeing returns it to the kernel (no allocator slack, no heap fragmentation).
// Internal to the storage module.

#ifndef SPILLWAY_STORAGE_INTERNAL_MAPPED_H_
#define SPILLWAY_STORAGE_INTERNAL_MAPPED_H_

#include <sys/mman.h>

#include <cstddef>
#include <utility>

namespace spillway::storage {

class Mapped {
 public:
  static constexpr size_t kPage = 4096;

  Mapped() = default;
  // Maps `bytes` of zeroed memory, rounded up to whole pages (size() says how much, so that
  // what is counted is what the kernel gives); empty (data() == nullptr) when it refuses.
  explicit Mapped(size_t bytes) {
    bytes = (bytes + kPage - 1) / kPage * kPage;
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p != MAP_FAILED) {
      data_ = static_cast<char*>(p);
      size_ = bytes;
    }
  }
  ~Mapped() {
    if (data_ != nullptr) munmap(data_, size_);
  }
  Mapped(Mapped&& o) noexcept
      : data_(std::exchange(o.data_, nullptr)), size_(std::exchange(o.size_, 0)) {}
  Mapped& operator=(Mapped&& o) noexcept {
    std::swap(data_, o.data_);
    std::swap(size_, o.size_);
    return *this;
  }
  Mapped(const Mapped&) = delete;
  Mapped& operator=(const Mapped&) = delete;

  char* data() const { return data_; }
  size_t size() const { return size_; }

 private:
  char* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace spillway::storage

#endif  // SPILLWAY_STORAGE_INTERNAL_MAPPED_H_
