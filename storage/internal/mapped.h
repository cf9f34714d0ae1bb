// Anonymous memory mappings: what the store's budget counts is exactly what the kernel gives it,
// and freeing returns it to the kernel (no allocator slack, no heap fragmentation).
// Internal to the storage module.

#ifndef SPILLWAY_STORAGE_INTERNAL_MAPPED_H_
#define SPILLWAY_STORAGE_INTERNAL_MAPPED_H_

#include <sys/mman.h>

#include <cstddef>
#include <cstdint>
#include <utility>
#include <vector>

namespace spillway::storage {

class Mapped {
 public:
  static constexpr size_t kPage = 4096;
  static constexpr size_t kHugePage = 2 << 20;

  Mapped() = default;
  // Maps `bytes` of zeroed memory, rounded up to whole pages (size() says how much, so that
  // what is counted is what the kernel gives); empty (data() == nullptr) when it refuses.
  explicit Mapped(size_t bytes) {
    bytes = (bytes + kPage - 1) / kPage * kPage;
    data_ = Map(bytes);
    if (data_ != nullptr) size_ = bytes;
  }
  // `count` adjacent mappings of `piece` bytes each (whole pages), the first on a huge-page
  // boundary and all marked for transparent huge pages: a fault then maps 2 MiB at once, which
  // measured 5x cheaper per byte than 4 KiB faults on this kind of VM (docs/benchmarks.md).
  // Each piece is a Mapped of its own and may be unmapped alone. Empty when the kernel refuses.
  static std::vector<Mapped> MapHuge(size_t piece, size_t count) {
    piece = (piece + kPage - 1) / kPage * kPage;
    const size_t bytes = piece * count;
    // Kernels since 6.7 place such a mapping on a huge-page boundary by themselves; on older
    // ones, map one huge page more and trim to the boundary (a moment's extra address space,
    // never touched).
    char* start = Map(bytes);
    if (start == nullptr) return {};
    if (bytes >= kHugePage && reinterpret_cast<uintptr_t>(start) % kHugePage != 0) {
      munmap(start, bytes);
      const size_t span = bytes + kHugePage;
      char* raw = Map(span);
      if (raw == nullptr) return {};
      const uintptr_t at = reinterpret_cast<uintptr_t>(raw);
      start = raw + (kHugePage - at % kHugePage) % kHugePage;
      if (start > raw) munmap(raw, static_cast<size_t>(start - raw));
      const size_t tail = static_cast<size_t>(raw + span - (start + bytes));
      if (tail > 0) munmap(start + bytes, tail);
    }
    madvise(start, bytes, MADV_HUGEPAGE);  // advice: without THP the pages are simply small
    std::vector<Mapped> pieces(count);
    for (size_t i = 0; i < count; ++i) {
      pieces[i].data_ = start + i * piece;
      pieces[i].size_ = piece;
    }
    return pieces;
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
  static char* Map(size_t bytes) {
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? nullptr : static_cast<char*>(p);
  }

  char* data_ = nullptr;
  size_t size_ = 0;
};

}  // namespace spillway::storage

#endif  // SPILLWAY_STORAGE_INTERNAL_MAPPED_H_
