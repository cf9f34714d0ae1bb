// Regression: Sweep kept its cursor (segment, offset) across calls; when that segment was emptied,
// freed and refilled in between, the next Sweep parsed an "item" in the middle of a new one and
// read its "key" past the segment's end. A guard page after every segment turns such a read into
// a crash. (Found in review; the reproduction is the reviewer's.)

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cstdio>
#include <cstring>
#include <string>

#include "storage/internal/item.h"
#include "storage/store.h"

namespace {

constexpr size_t kSegment = 64 << 10;
constexpr size_t kGuard = 4096;

}  // namespace

// Every mapping of exactly one segment gets a PROT_NONE page after it. (munmap of the segment
// leaves the guard page mapped: a few KiB of address space for the length of this test binary.)
extern "C" void* mmap(void* addr, size_t length, int prot, int flags, int fd, off_t offset) {
  if (length != kSegment) {
    return reinterpret_cast<void*>(syscall(SYS_mmap, addr, length, prot, flags, fd, offset));
  }
  auto* p =
      reinterpret_cast<char*>(syscall(SYS_mmap, addr, length + kGuard, prot, flags, fd, offset));
  if (p != MAP_FAILED) syscall(SYS_mprotect, p + length, kGuard, PROT_NONE);
  return p;
}

namespace spillway::storage {
namespace {

constexpr int64_t kNow = 1'700'000'000;
constexpr size_t kHeader = sizeof(ItemHeader);

std::string Name(const char* prefix, int i) {
  char key[16];
  std::snprintf(key, sizeof key, "%s%06d", prefix, i);
  return key;
}

TEST(SweepAfterSegmentReuse, NeverParsesAStaleOffset) {
  Options o;
  o.memory_limit_bytes = 1 << 20;
  o.segment_size = kSegment;
  Store store(o);
  // Segments 1 and 2: 64 items of 1024 bytes each.
  for (int i = 0; i < 128; ++i) {
    store.Write(Key(Name("f", i)), std::string(1024 - kHeader - 7, 'f'), 0, 0, kNow);
  }
  // Segment 3: an item of 65336 bytes, then one of 200 (the segment is full).
  store.Write(Key("big"), std::string(65336 - kHeader - 3, 'x'), 0, 3600, kNow);
  store.Write(Key("s1"), std::string(200 - kHeader - 2, 'y'), 0, 3600, kNow);
  // The cursor stops in segment 3, at offset 65336.
  ASSERT_EQ(store.Sweep(kNow, 129), 129u);
  // Churn until segment 3 is evicted and refilled with 1024-byte items whose bytes at offset
  // 65336 read as an expired header with a 255-byte key: 81 bytes past the segment's end.
  std::string value(1024 - kHeader - 7, 'z');
  const size_t fake_at = 65336 - 63 * 1024 - kHeader - 7;
  ItemHeader fake{};
  fake.exptime = 1;
  fake.key_length = 255;
  fake.bits = kItemHasFlags;
  std::memcpy(value.data() + fake_at, &fake, sizeof fake);
  for (int i = 0; i < 2000; ++i) store.Write(Key(Name("n", i)), value, 0, 0, kNow);
  EXPECT_GT(store.stats().evictions, 0u);
  store.Sweep(kNow + 1, 10);
  // Nothing live was reclaimed by mistake: the newest items read back whole.
  for (int i = 1990; i < 2000; ++i) {
    ReadResult r = store.Read(Key(Name("n", i)), kNow + 1);
    ASSERT_TRUE(r.item) << i;
    EXPECT_EQ(r.item.value(), value);
  }
}

}  // namespace
}  // namespace spillway::storage
