#include "protocol/request_parser.h"

#include <gtest/gtest.h>

#include "protocol/errors.h"

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

}  // namespace
}  // namespace spillway::protocol
