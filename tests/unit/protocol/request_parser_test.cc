#include "protocol/request_parser.h"

#include <gtest/gtest.h>

#include "protocol/errors.h"
#include "protocol/response.h"

namespace spillway::protocol {
namespace {

TEST(RequestParser, ParsesSetWithItsDataBlock) {
  RequestParser parser;
  const std::string input = "set foo 5 0 3\r\nbar\r\n";
  ParseResult r = parser.Parse(input);
  ASSERT_EQ(r.status, ParseStatus::kRequest);
  EXPECT_EQ(r.consumed, input.size());
  EXPECT_EQ(r.request.command, Command::kSet);
  EXPECT_EQ(r.request.key, "foo");
  EXPECT_EQ(r.request.client_flags, 5u);
  EXPECT_EQ(r.request.value, "bar");
}

// Recorded from memcached 1.6.18 (tests/data/memcached_oracle.tsv: mg_miss_q, mg_hit_q,
// ms_q_failure_shown, md_miss_q, md_hit_q, ma_hit_q, ma_miss_q).
TEST(QuietHides, HidesOnlyEachCommandsNothingToReportAnswer) {
  EXPECT_TRUE(QuietHides(Command::kMetaGet, ResponseType::kMetaMiss));
  EXPECT_FALSE(QuietHides(Command::kMetaGet, ResponseType::kMetaHeader));
  EXPECT_FALSE(QuietHides(Command::kMetaGet, ResponseType::kMetaValue));
  EXPECT_TRUE(QuietHides(Command::kMetaSet, ResponseType::kMetaHeader));
  EXPECT_FALSE(QuietHides(Command::kMetaSet, ResponseType::kMetaNotStored));
  EXPECT_TRUE(QuietHides(Command::kMetaDelete, ResponseType::kMetaHeader));
  EXPECT_FALSE(QuietHides(Command::kMetaDelete, ResponseType::kMetaNotFound));
  EXPECT_TRUE(QuietHides(Command::kMetaArithmetic, ResponseType::kMetaValue));
  EXPECT_FALSE(QuietHides(Command::kMetaArithmetic, ResponseType::kMetaNotFound));
  EXPECT_FALSE(QuietHides(Command::kMetaSet, ResponseType::kClientError));
  EXPECT_FALSE(QuietHides(Command::kGet, ResponseType::kEnd));
}

}  // namespace
}  // namespace spillway::protocol
