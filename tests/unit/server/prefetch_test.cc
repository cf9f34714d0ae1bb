// Which keys the server hints to the store ahead of a pipeline of reads.

#include "server/prefetch.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace spillway::server {
namespace {

struct Visit {
  std::vector<std::string> keys;
  size_t covered = 0;
};

Visit Scan(std::string_view input, size_t max_keys = kMaxPrefetchKeys) {
  Visit v;
  v.covered =
      ForEachReadKey(input, max_keys, [&](std::string_view key) { v.keys.emplace_back(key); });
  return v;
}

TEST(PrefetchReads, VisitsTheKeysOfLeadingReads) {
  const std::string reads = "get a\r\ngets b c\r\nmg d v f\r\nget  e  \n";
  const Visit v = Scan(reads + "get f");  // the last line is not complete yet
  EXPECT_EQ(v.keys, (std::vector<std::string>{"a", "b", "c", "d", "e"}));
  EXPECT_EQ(v.covered, reads.size());
}

TEST(PrefetchReads, StopsAtTheFirstOtherRequest) {
  // A set's data block could look like anything: nothing past its line is read.
  const Visit v = Scan("get a\r\nset b 0 0 9\r\nget x y\r\n\r\nget c\r\n");
  EXPECT_EQ(v.keys, (std::vector<std::string>{"a"}));
  EXPECT_EQ(v.covered, 7u);
  EXPECT_EQ(Scan("gat 10 a\r\nget b\r\n").keys.size(), 0u);
  EXPECT_EQ(Scan("get\r\nget b\r\n").keys.size(), 0u);
  EXPECT_EQ(Scan("").covered, 0u);
}

TEST(PrefetchReads, StopsAtTheKeyLimitWithoutCoveringAPartlyVisitedLine) {
  const Visit v = Scan("get a b\r\nget c d e\r\nget f\r\n", 4);
  EXPECT_EQ(v.keys, (std::vector<std::string>{"a", "b", "c", "d"}));
  EXPECT_EQ(v.covered, 9u);  // "get a b\r\n" only
}

}  // namespace
}  // namespace spillway::server
