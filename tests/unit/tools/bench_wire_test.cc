// spillway-bench's reply fast path must agree with the shared response parser on every input:
// the replies it is built for, every prefix of them, and every one-byte change of them.

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "protocol/response_parser.h"
#include "tools/bench/wire.h"

namespace spillway::bench {
namespace {

using protocol::ParseResponse;
using protocol::ResponseParseStatus;

void ExpectSame(const std::string& input) {
  const protocol::ResponseParseResult fast = ParseReply(input);
  const protocol::ResponseParseResult slow = ParseResponse(input);
  ASSERT_EQ(fast.status, slow.status) << "input: " << testing::PrintToString(input);
  ASSERT_EQ(fast.consumed, slow.consumed) << "input: " << testing::PrintToString(input);
  if (slow.status == ResponseParseStatus::kNeedMore) {
    ASSERT_EQ(fast.need, slow.need) << "input: " << testing::PrintToString(input);
  }
  if (slow.status == ResponseParseStatus::kResponse) {
    ASSERT_TRUE(protocol::SameResponse(fast.response, slow.response))
        << "input: " << testing::PrintToString(input);
  }
}

const std::vector<std::string>& Replies() {
  static const std::vector<std::string> replies = {
      "END\r\n",
      "STORED\r\n",
      "NOT_STORED\r\n",
      "EN\r\n",
      "HD\r\n",
      "NS\r\n",
      "MN\r\n",
      "VALUE key:1 7 3\r\nabc\r\nEND\r\n",
      "VALUE key:12345 4294967295 0\r\n\r\n",
      "VALUE k 0 5 99\r\nhello\r\n",
      "VA 3 f7\r\nabc\r\n",
      "VA 2 f1 kkey:9\r\nxy\r\nMN\r\n",
      "SERVER_ERROR out of memory\r\n",
      "CLIENT_ERROR bad data chunk\r\n",
      "ERROR\r\n",
  };
  return replies;
}

TEST(BenchWire, FastPathAgreesOnWholeRepliesAndEveryPrefix) {
  for (const std::string& reply : Replies()) {
    for (size_t n = 0; n <= reply.size(); ++n) ExpectSame(reply.substr(0, n));
    ExpectSame(reply + reply);
  }
}

TEST(BenchWire, FastPathAgreesOnEveryOneByteChange) {
  const std::string bytes = std::string("\r\n 0719azAZ-_:") + '\0' + '\xff';
  for (const std::string& reply : Replies()) {
    for (size_t i = 0; i < reply.size(); ++i) {
      for (char c : bytes) {
        std::string changed = reply;
        changed[i] = c;
        ExpectSame(changed);
      }
      std::string removed = reply;
      removed.erase(i, 1);
      ExpectSame(removed);
      for (char c : bytes) {
        std::string inserted = reply;
        inserted.insert(i, 1, c);
        ExpectSame(inserted);
      }
    }
  }
}

}  // namespace
}  // namespace spillway::bench
