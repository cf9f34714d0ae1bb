// Anonymous mappings, and the huge-page groups that segments are mapped in.

#include "storage/internal/mapped.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <cstring>
#include <vector>

namespace spillway::storage {
namespace {

TEST(Mapped, HugeGroupStartsOnAHugePageBoundaryAndSplitsIntoPieces) {
  std::vector<Mapped> pieces = Mapped::MapHuge(1 << 20, 4);
  ASSERT_EQ(pieces.size(), 4u);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(pieces[0].data()) % Mapped::kHugePage, 0u);
  for (size_t i = 0; i < pieces.size(); ++i) {
    EXPECT_EQ(pieces[i].size(), size_t{1} << 20);
    EXPECT_EQ(pieces[i].data(), pieces[0].data() + i * (1 << 20));
    EXPECT_EQ(pieces[i].data()[0], 0) << "not zeroed";
    std::memset(pieces[i].data(), static_cast<int>(i + 1), pieces[i].size());
  }
  // One piece unmapped alone leaves the others whole.
  pieces[1] = Mapped();
  EXPECT_EQ(pieces[0].data()[(1 << 20) - 1], 1);
  EXPECT_EQ(pieces[2].data()[0], 3);
  EXPECT_EQ(pieces[3].data()[(1 << 20) - 1], 4);
}

TEST(Mapped, PiecesAreWholePages) {
  std::vector<Mapped> pieces = Mapped::MapHuge(5000, 3);
  ASSERT_EQ(pieces.size(), 3u);
  EXPECT_EQ(pieces[0].size(), 2 * Mapped::kPage);
  EXPECT_EQ(pieces[2].data(), pieces[0].data() + 4 * Mapped::kPage);
}

}  // namespace
}  // namespace spillway::storage
