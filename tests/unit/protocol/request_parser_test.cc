#include "protocol/request_parser.h"

#include <gtest/gtest.h>

#include "feed.h"
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

// Regression (found by the fuzzer): with a discard pending, Parse("") answered need == 0.
TEST(RequestParser, EmptyInputWhileDiscardingNeedsAByte) {
  RequestParser parser;
  ASSERT_EQ(parser.Parse("ms a 3 b\r\n").status, ParseStatus::kError);
  ASSERT_GT(parser.pending_discard(), 0u);
  const ParseResult r = parser.Parse("");
  EXPECT_EQ(r.status, ParseStatus::kNeedMore);
  EXPECT_GE(r.need, 1u);
}

// Regression (found by the fuzzer): with a tiny line limit, a multi-get behind spaces was judged
// too long before enough of it had arrived to tell, so the verdict depended on the split.
TEST(RequestParser, LineLimitNeverBelowWhatAMultigetNeedsToBeRecognised) {
  ParserOptions options;
  options.max_line_length = 8;
  const std::string line = std::string(10, ' ') + "get k\r\n";
  for (size_t chunk : testing::kChunkSizes) {
    EXPECT_EQ(testing::Feed(line, chunk, options), testing::Feed(line, 0, options)) << chunk;
  }
  EXPECT_EQ(testing::Feed(line, 1, options).front().substr(0, 9), "get key=k");
}

// memcached checks for HTTP only after a word missed every command family it dispatches by its
// first letter: "stat / HTTP/1.1" is an ERROR, "GET / HTTP/1.1" closes.
TEST(RequestParser, HttpCheckOnlyForWordsOutsideTheLetterDispatch) {
  RequestParser parser;
  ParseResult r = parser.Parse("stat / HTTP/1.1\r\n");
  EXPECT_EQ(r.error, errors::kError);
  EXPECT_FALSE(r.close);
  r = parser.Parse("GET / HTTP/1.1\r\n");
  EXPECT_TRUE(r.close);
  EXPECT_TRUE(r.error.empty());
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
