// ParseResponse at its edges: partial input, malformed lines and data blocks, the size limits,
// and the few lines memcached words irregularly.

#include "protocol/response_parser.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "protocol/errors.h"

namespace spillway::protocol {
namespace {

using std::string_literals::operator""s;

std::string Quoted(std::string_view bytes) { return ::testing::PrintToString(bytes); }

void ExpectMalformed(std::string_view input,
                     const ResponseParserOptions& options = ResponseParserOptions()) {
  SCOPED_TRACE("input " + Quoted(input));
  const ResponseParseResult r = ParseResponse(input, options);
  EXPECT_EQ(r.status, ResponseParseStatus::kMalformed);
  EXPECT_EQ(r.consumed, 0u);
}

void ExpectNeedMore(std::string_view input,
                    const ResponseParserOptions& options = ResponseParserOptions()) {
  SCOPED_TRACE("input " + Quoted(input));
  const ResponseParseResult r = ParseResponse(input, options);
  EXPECT_EQ(r.status, ResponseParseStatus::kNeedMore);
  EXPECT_EQ(r.consumed, 0u);
  EXPECT_GT(r.need, input.size());
}

// Parses `input`, which must be exactly one unit.
Response ParseOne(std::string_view input,
                  const ResponseParserOptions& options = ResponseParserOptions()) {
  SCOPED_TRACE("input " + Quoted(input));
  const ResponseParseResult r = ParseResponse(input, options);
  EXPECT_EQ(r.status, ResponseParseStatus::kResponse);
  EXPECT_EQ(r.consumed, input.size());
  return r.response;
}

// Checks that no strict prefix of each unit parses, whatever the units that follow.
void ExpectEveryPrefixNeedsMore(const std::vector<std::string>& units,
                                const ResponseParserOptions& options = ResponseParserOptions()) {
  std::string stream;
  for (const std::string& unit : units) stream += unit;
  size_t offset = 0;
  for (const std::string& unit : units) {
    const std::string_view rest = std::string_view(stream).substr(offset);
    for (size_t length = 0; length < unit.size(); ++length) {
      SCOPED_TRACE("prefix of " + std::to_string(length) + " bytes");
      const std::string_view prefix = rest.substr(0, length);
      ExpectNeedMore(prefix, options);
      EXPECT_LE(ParseResponse(prefix, options).need, unit.size());  // a lower bound
    }
    const ResponseParseResult whole = ParseResponse(rest, options);
    EXPECT_EQ(whole.status, ResponseParseStatus::kResponse) << Quoted(unit);
    EXPECT_EQ(whole.consumed, unit.size()) << Quoted(unit);
    offset += unit.size();
  }
}

TEST(ResponseParser, EveryPrefixOfAStreamNeedsMore) {
  ExpectEveryPrefixNeedsMore({
      "VALUE k 4294967295 5 18446744073709551615\r\na\r\n\0b\r\n"s,
      "VALUE k2 0 0\r\n\r\n",
      "END\r\n",
      "STORED\r\n",
      "42\r\n",
      "STAT pid 1234\r\n",
      "VERSION 1.6.21\r\n",
      "ERROR\r\n",
      "CLIENT_ERROR bad data chunk\r\n",
      "VA 3 f5 t-1\r\nabc\r\n",
      "VA 0\r\n\r\n",
      "HD\r\n",
      "EN\r\n",
      "MN\r\n",
      "ME k exp=-1 la=3 cas=2 fetch=no cls=1 size=63\r\n",
  });
}

TEST(ResponseParser, EmptyInputNeedsOneByte) {
  const ResponseParseResult r = ParseResponse("");
  EXPECT_EQ(r.status, ResponseParseStatus::kNeedMore);
  EXPECT_EQ(r.need, 1u);
}

// Regression: the limit once counted the CR, so "STORED<CR>" failed while its LF was in flight.
TEST(ResponseParser, PrefixOfALineAtTheLengthLimitNeedsMore) {
  ResponseParserOptions options;
  options.max_line_length = 6;
  ExpectEveryPrefixNeedsMore({"STORED\r\n", "END\r\n"}, options);
}

TEST(ResponseParser, ValueLineWithBadNumbersIsMalformed) {
  for (const char* line : {
           "VALUE k x 3",
           "VALUE k 1 x",
           "VALUE k 1 3x",
           "VALUE k -1 3",
           "VALUE k 1 -3",
           "VALUE k +1 3",
           "VALUE k 1 +3",
           "VALUE k 1 3 x",
           "VALUE k 1 3 -5",
           "VALUE k 1 3 5 6",
           "VALUE k 1",
           "VALUE k",
           "VALUE",
           "VALUE  k 1 3",
           "VALUE k 1 3 18446744073709551616",
           "VALUE k 1 99999999999999999999999",
           "VA",
           "VA x",
           "VA -3",
           "VA 3x f1",
       }) {
    ExpectMalformed(std::string(line) + "\r\nabc\r\n");
  }
}

// Regression: flags were once read with memcached's server-side truncation (2^32 became 0).
TEST(ResponseParser, ValueFlagsOver32BitsAreMalformed) {
  ExpectMalformed("VALUE k 4294967296 3\r\nabc\r\n");
}

TEST(ResponseParser, LineWithoutCarriageReturnIsMalformed) {
  ExpectMalformed("\n");
  ExpectMalformed("END\n");
  ExpectMalformed("STORED\nEND\r\n");
  ExpectMalformed("VALUE k 0 3\nabc\r\n");
  ExpectMalformed("42\n");
}

TEST(ResponseParser, DataBlockWithWrongTerminatorIsMalformed) {
  ExpectMalformed("VALUE k 0 3\r\nabcXY");
  ExpectMalformed("VALUE k 0 3\r\nabc\n\r");
  ExpectMalformed("VALUE k 0 3\r\nabc\r\r");
  ExpectMalformed("VALUE k 0 3\r\nabcd\r\n");       // block longer than announced
  ExpectMalformed("VALUE k 0 3\r\nab\r\nEND\r\n");  // shorter
  ExpectMalformed("VALUE k 0 0\r\nEND\r\n");
  ExpectMalformed("VA 3 f1\r\nabc\n\r");
  // The terminator is only judged once both of its bytes are here.
  ExpectNeedMore("VALUE k 0 3\r\nabcX");
  ExpectNeedMore("VALUE k 0 3\r\nabc\r");
}

TEST(ResponseParser, ValueOverMaxValueSizeIsMalformed) {
  ResponseParserOptions options;
  options.max_value_size = 8;
  EXPECT_EQ(ParseOne("VALUE k 0 8\r\n12345678\r\n", options).value, "12345678");
  EXPECT_EQ(ParseOne("VA 8\r\n12345678\r\n", options).value, "12345678");
  // Refused from the line alone, before any of the block arrives.
  ExpectMalformed("VALUE k 0 9\r\n", options);
  ExpectMalformed("VA 9 f1\r\n", options);
  ExpectMalformed("VALUE k 0 18446744073709551615\r\n");
}

// Regression: with max_value_size = SIZE_MAX, line + bytes + 2 once wrapped around.
TEST(ResponseParser, HugeValueLengthDoesNotWrap) {
  ResponseParserOptions options;
  options.max_value_size = SIZE_MAX;
  const ResponseParseResult r = ParseResponse("VALUE k 0 18446744073709551614\r\n", options);
  EXPECT_NE(r.status, ResponseParseStatus::kResponse);
}

TEST(ResponseParser, LongLineWithoutNewlineIsMalformed) {
  ResponseParserOptions options;
  options.max_line_length = 16;
  ExpectNeedMore(std::string(16, '1'), options);
  ExpectMalformed(std::string(17, '1'), options);
  ExpectMalformed("SERVER_ERROR " + std::string(100, 'x'), options);
  // The data block is not a line: it may be far longer.
  EXPECT_EQ(ParseOne("VA 40\r\n" + std::string(40, 'v') + "\r\n", options).value.size(), 40u);
}

// Regression: the limit was once applied only while the newline was missing.
TEST(ResponseParser, LongLineWithNewlineIsMalformed) {
  ResponseParserOptions options;
  options.max_line_length = 16;
  ExpectMalformed("SERVER_ERROR " + std::string(100, 'x') + "\r\n", options);
}

TEST(ResponseParser, ErrorTextIsVerbatimAfterTheWord) {
  struct Case {
    std::string_view line;
    std::string_view text;
  };
  const Case kCases[] = {
      {"ERROR", ""},
      {errors::kShutdownDisabled, ": shutdown not enabled"},
      {errors::kTooManyConnections, " Too many open connections"},
      {"ERROR  two spaces ", "  two spaces "},
  };
  for (const Case& c : kCases) {
    const std::string input = std::string(c.line) + "\r\n";
    const Response r = ParseOne(input);
    EXPECT_EQ(r.type, ResponseType::kError) << c.line;
    EXPECT_EQ(r.text, c.text) << c.line;
  }
  const Response client = ParseOne("CLIENT_ERROR bad data chunk\r\n");
  EXPECT_EQ(client.type, ResponseType::kClientError);
  EXPECT_EQ(client.text, "bad data chunk");
}

TEST(ResponseParser, IncrNumberMayHaveTrailingSpaces) {
  struct Case {
    std::string_view line;
    uint64_t number;
  };
  const Case kCases[] = {
      {"0", 0},         {"42", 42}, {"42 ", 42},
      {"42      ", 42}, {"007", 7}, {"18446744073709551615  ", UINT64_MAX},
  };
  for (const Case& c : kCases) {
    const std::string input = std::string(c.line) + "\r\n";
    const Response r = ParseOne(input);
    EXPECT_EQ(r.type, ResponseType::kNumber) << Quoted(c.line);
    EXPECT_EQ(r.number, c.number) << Quoted(c.line);
  }
  for (const char* line :
       {"", " ", " 42", "42\t", "4 2", "42 x", "-1", "+1", "0x10", "18446744073709551616"}) {
    ExpectMalformed(std::string(line) + "\r\n");
  }
}

TEST(ResponseParser, UnknownOrDecoratedWordsAreMalformed) {
  for (const char* line : {"BOGUS", "END ", "END x", "STORED!", "MN x", "STAT", "end", "Stored"}) {
    ExpectMalformed(std::string(line) + "\r\n");
  }
}

}  // namespace
}  // namespace spillway::protocol
