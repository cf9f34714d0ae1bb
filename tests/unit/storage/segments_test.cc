// The segment pool maps a huge page's worth at a time and, when it runs dry, maps the next group
// ahead and has it faulted in on another thread.

#include "storage/internal/segments.h"

#include <gtest/gtest.h>
#include <sys/mman.h>

#include <vector>

namespace spillway::storage {
namespace {

constexpr size_t kSegment = 1 << 20;

// How many of the pages of [data, data + bytes) are resident.
size_t ResidentPages(const char* data, size_t bytes) {
  std::vector<unsigned char> pages(bytes / Mapped::kPage);
  if (mincore(const_cast<char*>(data), bytes, pages.data()) != 0) return 0;
  size_t n = 0;
  for (unsigned char p : pages) n += p & 1;
  return n;
}

TEST(Segments, TheNextGroupIsMappedAheadAndFaultedIn) {
  Segments segments(kSegment, 64 << 20);
  ASSERT_EQ(segments.map_group(), 2u);
  const uint32_t first = segments.TakeFree(64);
  ASSERT_NE(first, 0u);
  EXPECT_EQ(segments.mapped(), 2u);  // one group, one of it left free
  EXPECT_EQ(ResidentPages(segments[first].memory.data(), kSegment), 0u) << "faulted in early";
  const uint32_t second = segments.TakeFree(62);
  ASSERT_NE(second, 0u);
  // The free list ran dry: the next group is mapped, and faulted in off this thread.
  EXPECT_EQ(segments.mapped(), 4u);
  EXPECT_EQ(segments.free_mapped(), 2u);
  segments.WaitPrefaulted();
  const uint32_t third = segments.TakeFree(60);
  ASSERT_NE(third, 0u);
  EXPECT_EQ(ResidentPages(segments[third].memory.data(), kSegment), kSegment / Mapped::kPage);
  EXPECT_EQ(ResidentPages(segments[second].memory.data(), kSegment), 0u);
}

TEST(Segments, NothingIsMappedAheadPastTheBudget) {
  Segments segments(kSegment, 64 << 20);
  ASSERT_NE(segments.TakeFree(2), 0u);
  ASSERT_NE(segments.TakeFree(0), 0u);  // the group's second segment
  EXPECT_EQ(segments.mapped(), 2u);
  EXPECT_EQ(segments.TakeFree(0), 0u);
  ASSERT_NE(segments.TakeFree(1), 0u);  // room for one: mapped alone, nothing ahead
  EXPECT_EQ(segments.mapped(), 3u);
  EXPECT_EQ(segments.free_mapped(), 0u);
}

}  // namespace
}  // namespace spillway::storage
