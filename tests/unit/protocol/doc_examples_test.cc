// Every request example and syntax form of memcached's protocol.txt (shared/reference), parsed
// whole and in every fragment size; its response examples, parsed whole and from every prefix;
// and the errors the document itself specifies. The expectations are read off the document, not
// off the parser.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "feed.h"
#include "protocol/errors.h"
#include "protocol/request_parser.h"
#include "protocol/response_parser.h"

namespace spillway::protocol {
namespace {

using namespace std::literals;
using testing::Describe;
using testing::Feed;
using testing::kChunkSizes;

// Requests.

// What a row should parse to. Rows name only the fields that differ from these defaults.
struct Want {
  Command cmd = Command::kNone;
  std::string_view key;
  std::optional<std::string_view> key_token;  // unset: the same as `key`
  std::string_view keys;
  std::string_view value;
  uint32_t flags = 0;
  int64_t exptime = 0;
  uint64_t cas = 0;
  uint64_t delta = 0;
  uint32_t level = 0;
  std::string_view argument;  // checked for stats and shutdown, the commands that define it
  bool noreply = false;
  // Meta: the flag tokens as sent. The flags present are exactly their first characters.
  std::string_view tokens;
  uint64_t compare_cas = 0;
  uint64_t new_cas = 0;
  uint64_t meta_delta = 1;  // "D(token): delta to apply (... default 1)"
  uint64_t initial = 0;
  int64_t ttl = 0;
  int64_t vivify = 0;
  int64_t recache = 0;
  uint32_t meta_flags = 0;
  char mode = 0;
};

struct RequestRow {
  std::string_view name;
  std::string_view input;
  Want want;
};
void PrintTo(const RequestRow& row, std::ostream* os) { *os << row.name; }

// The flags a MetaFlags holds, in ASCII order, found through Has().
std::string PresentFlags(const MetaFlags& m) {
  std::string out;
  for (char c = 'A'; c <= 'z'; ++c) {
    if (MetaFlags::Bit(c) != 63 && m.Has(c)) out.push_back(c);
  }
  return out;
}

// The flag characters of a token list ("T30 v" -> "Tv"), in ASCII order.
std::string FlagsOf(std::string_view tokens) {
  std::string out;
  TokenIterator it(tokens);
  std::string_view token;
  while (it.Next(&token)) out.push_back(token[0]);
  std::sort(out.begin(), out.end());
  return out;
}

void ExpectRequest(const Request& r, const Want& w) {
  EXPECT_EQ(CommandName(r.command), CommandName(w.cmd));
  EXPECT_EQ(r.key, w.key);
  EXPECT_EQ(r.key_token, w.key_token.value_or(w.key));
  EXPECT_EQ(r.keys, w.keys);
  EXPECT_EQ(r.value, w.value);
  EXPECT_EQ(r.client_flags, w.flags);
  EXPECT_EQ(r.exptime, w.exptime);
  EXPECT_EQ(r.cas_unique, w.cas);
  EXPECT_EQ(r.delta, w.delta);
  EXPECT_EQ(r.level, w.level);
  if (w.cmd == Command::kStats || w.cmd == Command::kShutdown) {
    EXPECT_EQ(r.argument, w.argument);
  }
  EXPECT_EQ(r.noreply, w.noreply);
  const MetaFlags& m = r.meta;
  EXPECT_EQ(m.tokens, w.tokens);
  EXPECT_EQ(PresentFlags(m), FlagsOf(w.tokens));
  EXPECT_EQ(m.present >> 52, 0u) << "a bit outside A-Z a-z is set";
  EXPECT_EQ(m.compare_cas, w.compare_cas);
  EXPECT_EQ(m.new_cas, w.new_cas);
  EXPECT_EQ(m.delta, w.meta_delta);
  EXPECT_EQ(m.initial, w.initial);
  EXPECT_EQ(m.ttl, w.ttl);
  EXPECT_EQ(m.vivify_ttl, w.vivify);
  EXPECT_EQ(m.recache_ttl, w.recache);
  EXPECT_EQ(m.client_flags, w.meta_flags);
  EXPECT_EQ(m.mode, w.mode);
}

// GCC 12 warns about members a designated initializer leaves out; leaving them at their
// defaults is the point of the table.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmissing-field-initializers"

std::vector<RequestRow> RequestRows() {
  using enum Command;
  constexpr uint64_t kMax64 = 18446744073709551615u;
  // One row per example reads better than one field per line.
  // clang-format off
  return {
    // Retrieval: get <key>*, gets <key>*, gat <exptime> <key>*, gats <exptime> <key>*.
    {"Get", "get foo\r\n", {.cmd = kGet, .key = "foo", .keys = "foo"}},
    {"GetManyKeys", "get foo bar baz\r\n", {.cmd = kGet, .key = "foo", .keys = "foo bar baz"}},
    {"Gets", "gets foo\r\n", {.cmd = kGets, .key = "foo", .keys = "foo"}},
    {"GetsManyKeys", "gets foo bar\r\n", {.cmd = kGets, .key = "foo", .keys = "foo bar"}},
    {"Gat", "gat 100 foo\r\n", {.cmd = kGat, .key = "foo", .keys = "foo", .exptime = 100}},
    {"GatManyKeys", "gat 100 foo bar\r\n",
     {.cmd = kGat, .key = "foo", .keys = "foo bar", .exptime = 100}},
    {"Gats", "gats 100 foo\r\n", {.cmd = kGats, .key = "foo", .keys = "foo", .exptime = 100}},
    {"GatsManyKeys", "gats 3600 foo bar\r\n",
     {.cmd = kGats, .key = "foo", .keys = "foo bar", .exptime = 3600}},
    // Storage: <command name> <key> <flags> <exptime> <bytes> [noreply]\r\n<data block>\r\n
    {"Set", "set foo 5 0 3\r\nbar\r\n", {.cmd = kSet, .key = "foo", .value = "bar", .flags = 5}},
    {"SetNoreply", "set foo 5 100 3 noreply\r\nbar\r\n",
     {.cmd = kSet, .key = "foo", .value = "bar", .flags = 5, .exptime = 100, .noreply = true}},
    {"SetEmptyBlock", "set foo 0 0 0\r\n\r\n", {.cmd = kSet, .key = "foo", .value = ""}},
    {"SetBlockWithCrLfInside", "set foo 0 0 8\r\nab\r\ncd\r\n\r\n",
     {.cmd = kSet, .key = "foo", .value = "ab\r\ncd\r\n"}},
    {"SetBinaryBlock", "set foo 0 0 4\r\n\0\xff\r\x01\r\n"sv,
     {.cmd = kSet, .key = "foo", .value = "\0\xff\r\x01"sv}},
    {"SetUnixTimeExptime", "set foo 0 1700000000 3\r\nbar\r\n",
     {.cmd = kSet, .key = "foo", .value = "bar", .exptime = 1700000000}},
    {"SetNegativeExptime", "set foo 0 -1 3\r\nbar\r\n",
     {.cmd = kSet, .key = "foo", .value = "bar", .exptime = -1}},
    {"Set32BitFlags", "set foo 4294967295 0 3\r\nbar\r\n",
     {.cmd = kSet, .key = "foo", .value = "bar", .flags = 4294967295u}},
    {"SetAuthentication", "set any 0 0 17\r\nusername password\r\n",
     {.cmd = kSet, .key = "any", .value = "username password"}},
    {"Add", "add foo 5 0 3\r\nbar\r\n", {.cmd = kAdd, .key = "foo", .value = "bar", .flags = 5}},
    {"AddNoreply", "add foo 0 0 3 noreply\r\nbar\r\n",
     {.cmd = kAdd, .key = "foo", .value = "bar", .noreply = true}},
    {"Replace", "replace foo 5 60 3\r\nbar\r\n",
     {.cmd = kReplace, .key = "foo", .value = "bar", .flags = 5, .exptime = 60}},
    {"ReplaceNoreply", "replace foo 0 0 3 noreply\r\nbar\r\n",
     {.cmd = kReplace, .key = "foo", .value = "bar", .noreply = true}},
    {"Append", "append foo 0 0 3\r\nbar\r\n", {.cmd = kAppend, .key = "foo", .value = "bar"}},
    {"AppendNoreply", "append foo 0 0 3 noreply\r\nbar\r\n",
     {.cmd = kAppend, .key = "foo", .value = "bar", .noreply = true}},
    {"Prepend", "prepend foo 0 0 3\r\nbar\r\n", {.cmd = kPrepend, .key = "foo", .value = "bar"}},
    {"PrependNoreply", "prepend foo 0 0 3 noreply\r\nbar\r\n",
     {.cmd = kPrepend, .key = "foo", .value = "bar", .noreply = true}},
    // cas <key> <flags> <exptime> <bytes> <cas unique> [noreply]
    {"Cas", "cas foo 5 0 3 12345\r\nbar\r\n",
     {.cmd = kCas, .key = "foo", .value = "bar", .flags = 5, .cas = 12345}},
    {"CasNoreply", "cas foo 0 0 3 12345 noreply\r\nbar\r\n",
     {.cmd = kCas, .key = "foo", .value = "bar", .cas = 12345, .noreply = true}},
    {"Cas64Bit", "cas foo 0 0 3 18446744073709551615\r\nbar\r\n",
     {.cmd = kCas, .key = "foo", .value = "bar", .cas = kMax64}},
    // incr|decr <key> <value> [noreply], <value> a 64-bit unsigned integer.
    {"Incr", "incr foo 5\r\n", {.cmd = kIncr, .key = "foo", .delta = 5}},
    {"IncrNoreply", "incr foo 5 noreply\r\n",
     {.cmd = kIncr, .key = "foo", .delta = 5, .noreply = true}},
    {"Incr64Bit", "incr foo 18446744073709551615\r\n",
     {.cmd = kIncr, .key = "foo", .delta = kMax64}},
    {"Decr", "decr foo 3\r\n", {.cmd = kDecr, .key = "foo", .delta = 3}},
    {"DecrNoreply", "decr foo 3 noreply\r\n",
     {.cmd = kDecr, .key = "foo", .delta = 3, .noreply = true}},
    // delete <key> [noreply], touch <key> <exptime> [noreply]
    {"Delete", "delete foo\r\n", {.cmd = kDelete, .key = "foo"}},
    {"DeleteNoreply", "delete foo noreply\r\n", {.cmd = kDelete, .key = "foo", .noreply = true}},
    {"Touch", "touch foo 20\r\n", {.cmd = kTouch, .key = "foo", .exptime = 20}},
    {"TouchNoreply", "touch foo 20 noreply\r\n",
     {.cmd = kTouch, .key = "foo", .exptime = 20, .noreply = true}},
    // Other commands.
    {"FlushAll", "flush_all\r\n", {.cmd = kFlushAll}},
    {"FlushAllDelay", "flush_all 10\r\n", {.cmd = kFlushAll, .exptime = 10}},
    {"FlushAllNoreply", "flush_all noreply\r\n", {.cmd = kFlushAll, .noreply = true}},
    {"FlushAllDelayNoreply", "flush_all 10 noreply\r\n",
     {.cmd = kFlushAll, .exptime = 10, .noreply = true}},
    {"Stats", "stats\r\n", {.cmd = kStats}},
    {"StatsItems", "stats items\r\n", {.cmd = kStats, .argument = "items"}},
    {"StatsSlabs", "stats slabs\r\n", {.cmd = kStats, .argument = "slabs"}},
    {"StatsSizes", "stats sizes\r\n", {.cmd = kStats, .argument = "sizes"}},
    {"StatsSizesEnable", "stats sizes_enable\r\n", {.cmd = kStats, .argument = "sizes_enable"}},
    {"StatsSettings", "stats settings\r\n", {.cmd = kStats, .argument = "settings"}},
    {"StatsConns", "stats conns\r\n", {.cmd = kStats, .argument = "conns"}},
    {"StatsReset", "stats reset\r\n", {.cmd = kStats, .argument = "reset"}},
    {"Version", "version\r\n", {.cmd = kVersion}},
    {"Verbosity", "verbosity 1\r\n", {.cmd = kVerbosity, .level = 1}},
    {"VerbosityNoreply", "verbosity 1 noreply\r\n",
     {.cmd = kVerbosity, .level = 1, .noreply = true}},
    {"Quit", "quit\r\n", {.cmd = kQuit}},
    {"Shutdown", "shutdown\r\n", {.cmd = kShutdown}},
    {"ShutdownGraceful", "shutdown graceful\r\n", {.cmd = kShutdown, .argument = "graceful"}},
    // mg <key> <flags>*   ("Zm9v" is "foo" in base64)
    {"MgNoFlags", "mg foo\r\n", {.cmd = kMetaGet, .key = "foo"}},
    {"MgBase64Key", "mg Zm9v b v\r\n",
     {.cmd = kMetaGet, .key = "foo", .key_token = "Zm9v", .tokens = "b v"}},
    {"MgReturnCas", "mg foo c\r\n", {.cmd = kMetaGet, .key = "foo", .tokens = "c"}},
    {"MgCheckCas", "mg foo C12345 v\r\n",
     {.cmd = kMetaGet, .key = "foo", .tokens = "C12345 v", .compare_cas = 12345}},
    {"MgNewCas", "mg foo E999\r\n",
     {.cmd = kMetaGet, .key = "foo", .tokens = "E999", .new_cas = 999}},
    {"MgReturnFlags", "mg foo f\r\n", {.cmd = kMetaGet, .key = "foo", .tokens = "f"}},
    {"MgHitBefore", "mg foo h\r\n", {.cmd = kMetaGet, .key = "foo", .tokens = "h"}},
    {"MgReturnKey", "mg foo k\r\n", {.cmd = kMetaGet, .key = "foo", .tokens = "k"}},
    {"MgLastAccess", "mg foo l\r\n", {.cmd = kMetaGet, .key = "foo", .tokens = "l"}},
    {"MgOpaque", "mg foo O123 v\r\n", {.cmd = kMetaGet, .key = "foo", .tokens = "O123 v"}},
    {"MgQuiet", "mg foo q v\r\n", {.cmd = kMetaGet, .key = "foo", .tokens = "q v"}},
    {"MgReturnSize", "mg foo s\r\n", {.cmd = kMetaGet, .key = "foo", .tokens = "s"}},
    {"MgReturnTtl", "mg foo t\r\n", {.cmd = kMetaGet, .key = "foo", .tokens = "t"}},
    {"MgNoLruBump", "mg foo u\r\n", {.cmd = kMetaGet, .key = "foo", .tokens = "u"}},
    {"MgReturnValue", "mg foo v\r\n", {.cmd = kMetaGet, .key = "foo", .tokens = "v"}},
    {"MgVivify", "mg foo N30\r\n", {.cmd = kMetaGet, .key = "foo", .tokens = "N30", .vivify = 30}},
    {"MgRecache", "mg foo R30\r\n",
     {.cmd = kMetaGet, .key = "foo", .tokens = "R30", .recache = 30}},
    {"MgTouch", "mg foo T30\r\n", {.cmd = kMetaGet, .key = "foo", .tokens = "T30", .ttl = 30}},
    {"MgEveryFlag", "mg Zm9v b c C7 f h k l O1 q s t u v E8 N30 R10 T60\r\n",
     {.cmd = kMetaGet, .key = "foo", .key_token = "Zm9v",
      .tokens = "b c C7 f h k l O1 q s t u v E8 N30 R10 T60", .compare_cas = 7, .new_cas = 8,
      .ttl = 60, .vivify = 30, .recache = 10}},
    {"MgPathInKey", "mg /path/foo v\r\n", {.cmd = kMetaGet, .key = "/path/foo", .tokens = "v"}},
    {"MgProxyHintL", "mg foo Lpath/ v\r\n", {.cmd = kMetaGet, .key = "foo", .tokens = "Lpath/ v"}},
    {"MgProxyHintP", "mg foo Phint v\r\n", {.cmd = kMetaGet, .key = "foo", .tokens = "Phint v"}},
    // ms <key> <datalen> <flags>*\r\n<data block>\r\n
    {"MsNoFlags", "ms foo 3\r\nbar\r\n", {.cmd = kMetaSet, .key = "foo", .value = "bar"}},
    {"MsEmptyBlock", "ms foo 0\r\n\r\n", {.cmd = kMetaSet, .key = "foo", .value = ""}},
    {"MsBase64Key", "ms Zm9v 3 b\r\nbar\r\n",
     {.cmd = kMetaSet, .key = "foo", .key_token = "Zm9v", .value = "bar", .tokens = "b"}},
    {"MsReturnCas", "ms foo 3 c\r\nbar\r\n",
     {.cmd = kMetaSet, .key = "foo", .value = "bar", .tokens = "c"}},
    {"MsCompareCas", "ms foo 3 C12345\r\nbar\r\n",
     {.cmd = kMetaSet, .key = "foo", .value = "bar", .tokens = "C12345", .compare_cas = 12345}},
    {"MsNewCas", "ms foo 3 E999\r\nbar\r\n",
     {.cmd = kMetaSet, .key = "foo", .value = "bar", .tokens = "E999", .new_cas = 999}},
    {"MsClientFlags", "ms foo 3 F4294967295\r\nbar\r\n",
     {.cmd = kMetaSet, .key = "foo", .value = "bar", .tokens = "F4294967295",
      .meta_flags = 4294967295u}},
    {"MsInvalidate", "ms foo 3 C5 I\r\nbar\r\n",
     {.cmd = kMetaSet, .key = "foo", .value = "bar", .tokens = "C5 I", .compare_cas = 5}},
    {"MsReturnKey", "ms foo 3 k\r\nbar\r\n",
     {.cmd = kMetaSet, .key = "foo", .value = "bar", .tokens = "k"}},
    {"MsOpaque", "ms foo 3 Oabc\r\nbar\r\n",
     {.cmd = kMetaSet, .key = "foo", .value = "bar", .tokens = "Oabc"}},
    {"MsQuiet", "ms foo 3 q\r\nbar\r\n",
     {.cmd = kMetaSet, .key = "foo", .value = "bar", .tokens = "q"}},
    {"MsReturnSize", "ms foo 3 s\r\nbar\r\n",
     {.cmd = kMetaSet, .key = "foo", .value = "bar", .tokens = "s"}},
    {"MsTtl", "ms foo 3 T60\r\nbar\r\n",
     {.cmd = kMetaSet, .key = "foo", .value = "bar", .tokens = "T60", .ttl = 60}},
    {"MsModeAdd", "ms foo 3 ME\r\nbar\r\n",
     {.cmd = kMetaSet, .key = "foo", .value = "bar", .tokens = "ME", .mode = 'E'}},
    {"MsModeAppend", "ms foo 3 MA\r\nbar\r\n",
     {.cmd = kMetaSet, .key = "foo", .value = "bar", .tokens = "MA", .mode = 'A'}},
    {"MsModePrepend", "ms foo 3 MP\r\nbar\r\n",
     {.cmd = kMetaSet, .key = "foo", .value = "bar", .tokens = "MP", .mode = 'P'}},
    {"MsModeReplace", "ms foo 3 MR\r\nbar\r\n",
     {.cmd = kMetaSet, .key = "foo", .value = "bar", .tokens = "MR", .mode = 'R'}},
    {"MsModeSet", "ms foo 3 MS\r\nbar\r\n",
     {.cmd = kMetaSet, .key = "foo", .value = "bar", .tokens = "MS", .mode = 'S'}},
    {"MsAppendVivify", "ms foo 3 MA N60\r\nbar\r\n",
     {.cmd = kMetaSet, .key = "foo", .value = "bar", .tokens = "MA N60", .vivify = 60,
      .mode = 'A'}},
    {"MsProxyHints", "ms foo 3 Lpath/ Phint\r\nbar\r\n",
     {.cmd = kMetaSet, .key = "foo", .value = "bar", .tokens = "Lpath/ Phint"}},
    // md <key> <flags>*
    {"MdNoFlags", "md foo\r\n", {.cmd = kMetaDelete, .key = "foo"}},
    {"MdBase64Key", "md Zm9v b\r\n",
     {.cmd = kMetaDelete, .key = "foo", .key_token = "Zm9v", .tokens = "b"}},
    {"MdCompareCas", "md foo C12345\r\n",
     {.cmd = kMetaDelete, .key = "foo", .tokens = "C12345", .compare_cas = 12345}},
    {"MdNewCas", "md foo E999\r\n",
     {.cmd = kMetaDelete, .key = "foo", .tokens = "E999", .new_cas = 999}},
    {"MdInvalidate", "md foo I\r\n", {.cmd = kMetaDelete, .key = "foo", .tokens = "I"}},
    {"MdReturnKey", "md foo k\r\n", {.cmd = kMetaDelete, .key = "foo", .tokens = "k"}},
    {"MdOpaque", "md foo Oabc\r\n", {.cmd = kMetaDelete, .key = "foo", .tokens = "Oabc"}},
    {"MdQuiet", "md foo q\r\n", {.cmd = kMetaDelete, .key = "foo", .tokens = "q"}},
    {"MdInvalidateWithTtl", "md foo I T30\r\n",
     {.cmd = kMetaDelete, .key = "foo", .tokens = "I T30", .ttl = 30}},
    {"MdRemoveValue", "md foo x\r\n", {.cmd = kMetaDelete, .key = "foo", .tokens = "x"}},
    {"MdProxyHints", "md foo Lpath/ Phint\r\n",
     {.cmd = kMetaDelete, .key = "foo", .tokens = "Lpath/ Phint"}},
    // ma <key> <flags>*
    {"MaNoFlags", "ma foo\r\n", {.cmd = kMetaArithmetic, .key = "foo"}},
    {"MaBase64Key", "ma Zm9v b\r\n",
     {.cmd = kMetaArithmetic, .key = "foo", .key_token = "Zm9v", .tokens = "b"}},
    {"MaCompareCas", "ma foo C12345\r\n",
     {.cmd = kMetaArithmetic, .key = "foo", .tokens = "C12345", .compare_cas = 12345}},
    {"MaNewCas", "ma foo E999\r\n",
     {.cmd = kMetaArithmetic, .key = "foo", .tokens = "E999", .new_cas = 999}},
    {"MaAutoCreate", "ma foo N60 J10\r\n",
     {.cmd = kMetaArithmetic, .key = "foo", .tokens = "N60 J10", .initial = 10, .vivify = 60}},
    {"MaDelta", "ma foo D18446744073709551615\r\n",
     {.cmd = kMetaArithmetic, .key = "foo", .tokens = "D18446744073709551615",
      .meta_delta = kMax64}},
    {"MaTtl", "ma foo T60\r\n", {.cmd = kMetaArithmetic, .key = "foo", .tokens = "T60", .ttl = 60}},
    {"MaModeIncr", "ma foo MI\r\n",
     {.cmd = kMetaArithmetic, .key = "foo", .tokens = "MI", .mode = 'I'}},
    {"MaModeIncrAlias", "ma foo M+\r\n",
     {.cmd = kMetaArithmetic, .key = "foo", .tokens = "M+", .mode = '+'}},
    {"MaModeDecr", "ma foo MD\r\n",
     {.cmd = kMetaArithmetic, .key = "foo", .tokens = "MD", .mode = 'D'}},
    {"MaModeDecrAlias", "ma foo M-\r\n",
     {.cmd = kMetaArithmetic, .key = "foo", .tokens = "M-", .mode = '-'}},
    {"MaOpaque", "ma foo Oabc\r\n", {.cmd = kMetaArithmetic, .key = "foo", .tokens = "Oabc"}},
    {"MaQuiet", "ma foo q\r\n", {.cmd = kMetaArithmetic, .key = "foo", .tokens = "q"}},
    {"MaReturnTtl", "ma foo t\r\n", {.cmd = kMetaArithmetic, .key = "foo", .tokens = "t"}},
    {"MaReturnCas", "ma foo c\r\n", {.cmd = kMetaArithmetic, .key = "foo", .tokens = "c"}},
    {"MaReturnValue", "ma foo v\r\n", {.cmd = kMetaArithmetic, .key = "foo", .tokens = "v"}},
    {"MaReturnKey", "ma foo k\r\n", {.cmd = kMetaArithmetic, .key = "foo", .tokens = "k"}},
    {"MaDecrEveryFlag", "ma foo MD D5 N60 J100 T30 C1 E2 O1 q t c v k\r\n",
     {.cmd = kMetaArithmetic, .key = "foo", .tokens = "MD D5 N60 J100 T30 C1 E2 O1 q t c v k",
      .compare_cas = 1, .new_cas = 2, .meta_delta = 5, .initial = 100, .ttl = 30, .vivify = 60,
      .mode = 'D'}},
    {"MaProxyHints", "ma foo Lpath/ Phint\r\n",
     {.cmd = kMetaArithmetic, .key = "foo", .tokens = "Lpath/ Phint"}},
    // mn takes nothing; me <key> [b].
    {"Mn", "mn\r\n", {.cmd = kMetaNoop}},
    {"Me", "me foo\r\n", {.cmd = kMetaDebug, .key = "foo"}},
    {"MeBase64Key", "me Zm9v b\r\n",
     {.cmd = kMetaDebug, .key = "foo", .key_token = "Zm9v", .tokens = "b"}},
  };
  // clang-format on
}

class DocRequestTest : public ::testing::TestWithParam<RequestRow> {};

TEST_P(DocRequestTest, ParsesToTheDocumentedFields) {
  const RequestRow& row = GetParam();
  RequestParser parser;
  const ParseResult r = parser.Parse(row.input);
  ASSERT_EQ(r.status, ParseStatus::kRequest) << Describe(r);
  EXPECT_EQ(r.consumed, row.input.size());
  ExpectRequest(r.request, row.want);
}

TEST_P(DocRequestTest, EveryFragmentSizeGivesTheWholeInputResult) {
  const std::string_view input = GetParam().input;
  const std::vector<std::string> whole = Feed(input, 0);
  ASSERT_EQ(whole.size(), 1u);
  for (size_t chunk : kChunkSizes) EXPECT_EQ(Feed(input, chunk), whole) << "chunk " << chunk;
}

INSTANTIATE_TEST_SUITE_P(Doc, DocRequestTest, ::testing::ValuesIn(RequestRows()),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(DocRequests, PipelinedRowsGiveTheConcatenatedResults) {
  std::string stream;
  std::vector<std::string> want;
  for (const RequestRow& row : RequestRows()) {
    stream.append(row.input);
    for (std::string& one : Feed(row.input, 0)) want.push_back(std::move(one));
  }
  for (size_t chunk : kChunkSizes) EXPECT_EQ(Feed(stream, chunk), want) << "chunk " << chunk;
}

// The O(token) value is the token after its flag letter, like every other token flag's value.
TEST(DocRequests, OpaqueHoldsTheTokenValue) {
  RequestParser parser;
  EXPECT_EQ(parser.Parse("mg foo Oabc v\r\n").request.meta.opaque, "abc"sv);
}

// Responses.

struct WantResponse {
  ResponseType type = ResponseType::kEnd;
  std::string_view key;
  uint32_t flags = 0;
  std::string_view value;
  bool has_cas = false;
  uint64_t cas = 0;
  uint64_t number = 0;
  std::string_view name;
  std::string_view text;
};

struct ResponseRow {
  std::string_view name;
  std::string_view input;
  WantResponse want;
};
void PrintTo(const ResponseRow& row, std::ostream* os) { *os << row.name; }

std::vector<ResponseRow> ResponseRows() {
  using enum ResponseType;
  // clang-format off
  return {
    // VALUE <key> <flags> <bytes> [<cas unique>]\r\n<data block>\r\n
    {"Value", "VALUE foo 5 3\r\nbar\r\n",
     {.type = kValue, .key = "foo", .flags = 5, .value = "bar"}},
    {"ValueWithCas", "VALUE foo 5 3 12345\r\nbar\r\n",
     {.type = kValue, .key = "foo", .flags = 5, .value = "bar", .has_cas = true, .cas = 12345}},
    {"ValueEmpty", "VALUE foo 0 0\r\n\r\n", {.type = kValue, .key = "foo", .value = ""}},
    {"ValueWithCrLfInside", "VALUE foo 0 8\r\nab\r\ncd\r\n\r\n",
     {.type = kValue, .key = "foo", .value = "ab\r\ncd\r\n"}},
    {"End", "END\r\n", {.type = kEnd}},
    {"Stored", "STORED\r\n", {.type = kStored}},
    {"NotStored", "NOT_STORED\r\n", {.type = kNotStored}},
    {"Exists", "EXISTS\r\n", {.type = kExists}},
    {"NotFound", "NOT_FOUND\r\n", {.type = kNotFound}},
    {"Deleted", "DELETED\r\n", {.type = kDeleted}},
    {"Touched", "TOUCHED\r\n", {.type = kTouched}},
    // incr/decr: <value>\r\n, which "MAY be space-padded at the end".
    {"IncrResult", "42\r\n", {.type = kNumber, .number = 42}},
    {"IncrWrapped64Bit", "18446744073709551615\r\n",
     {.type = kNumber, .number = 18446744073709551615u}},
    {"DecrSpacePadded", "9 \r\n", {.type = kNumber, .number = 9}},
    // STAT <name> <value>, as stats, stats items, slabs, sizes and conns send it.
    {"StatPid", "STAT pid 1234\r\n", {.type = kStat, .name = "pid", .text = "1234"}},
    {"StatVersion", "STAT version 1.6.21\r\n",
     {.type = kStat, .name = "version", .text = "1.6.21"}},
    {"StatRusage", "STAT rusage_user 1:234567\r\n",
     {.type = kStat, .name = "rusage_user", .text = "1:234567"}},
    {"StatItems", "STAT items:1:number 5\r\n",
     {.type = kStat, .name = "items:1:number", .text = "5"}},
    {"StatSlabs", "STAT 1:chunk_size 96\r\n",
     {.type = kStat, .name = "1:chunk_size", .text = "96"}},
    {"StatSizes", "STAT 96 12\r\n", {.type = kStat, .name = "96", .text = "12"}},
    {"StatSizesDisabled", "STAT sizes_status disabled\r\n",
     {.type = kStat, .name = "sizes_status", .text = "disabled"}},
    {"StatConns", "STAT 5:addr tcp:127.0.0.1:11211\r\n",
     {.type = kStat, .name = "5:addr", .text = "tcp:127.0.0.1:11211"}},
    {"Version", "VERSION 1.6.21\r\n", {.type = kVersion, .text = "1.6.21"}},
    {"Ok", "OK\r\n", {.type = kOk}},
    {"Reset", "RESET\r\n", {.type = kReset}},  // "stats reset": memcached, not in the document
    {"Error", "ERROR\r\n", {.type = kError, .text = ""}},
    {"ClientError", "CLIENT_ERROR bad data chunk\r\n",
     {.type = kClientError, .text = "bad data chunk"}},
    {"ServerError", "SERVER_ERROR out of memory storing object\r\n",
     {.type = kServerError, .text = "out of memory storing object"}},
    // VA <size> <flags>*\r\n<data block>\r\n, HD <flags>*, EN, NF, NS, EX, MN, ME.
    {"MetaValue", "VA 3 f5 t20\r\nbar\r\n", {.type = kMetaValue, .value = "bar", .text = "f5 t20"}},
    {"MetaValueNoFlags", "VA 3\r\nbar\r\n", {.type = kMetaValue, .value = "bar", .text = ""}},
    {"MetaValueStale", "VA 3 X Z\r\nbar\r\n", {.type = kMetaValue, .value = "bar", .text = "X Z"}},
    {"MetaValueNumber", "VA 2 c5\r\n10\r\n", {.type = kMetaValue, .value = "10", .text = "c5"}},
    {"MetaHeader", "HD\r\n", {.type = kMetaHeader, .text = ""}},
    {"MetaHeaderFlags", "HD c12345 f5 t-1 Oabc kZm9v b\r\n",
     {.type = kMetaHeader, .text = "c12345 f5 t-1 Oabc kZm9v b"}},
    {"MetaHeaderWon", "HD W\r\n", {.type = kMetaHeader, .text = "W"}},
    {"MetaMiss", "EN\r\n", {.type = kMetaMiss, .text = ""}},
    {"MetaNotFound", "NF\r\n", {.type = kMetaNotFound, .text = ""}},
    {"MetaNotFoundOpaque", "NF O123\r\n", {.type = kMetaNotFound, .text = "O123"}},
    {"MetaNotStored", "NS\r\n", {.type = kMetaNotStored, .text = ""}},
    {"MetaExists", "EX\r\n", {.type = kMetaExists, .text = ""}},
    {"MetaNoop", "MN\r\n", {.type = kMetaNoop}},
    {"MetaDebug", "ME foo exp=-1 la=3 cas=2 fetch=no cls=1 size=63\r\n",
     {.type = kMetaDebug, .text = "foo exp=-1 la=3 cas=2 fetch=no cls=1 size=63"}},
  };
  // clang-format on
}

#pragma GCC diagnostic pop

void ExpectResponse(const Response& r, const WantResponse& w) {
  EXPECT_EQ(static_cast<int>(r.type), static_cast<int>(w.type)) << ResponseWord(r.type);
  EXPECT_EQ(r.key, w.key);
  EXPECT_EQ(r.client_flags, w.flags);
  EXPECT_EQ(r.value, w.value);
  EXPECT_EQ(r.has_cas, w.has_cas);
  EXPECT_EQ(r.cas, w.cas);
  EXPECT_EQ(r.number, w.number);
  EXPECT_EQ(r.name, w.name);
  EXPECT_EQ(r.text, w.text);
}

class DocResponseTest : public ::testing::TestWithParam<ResponseRow> {};

TEST_P(DocResponseTest, ParsesToTheDocumentedFields) {
  const ResponseRow& row = GetParam();
  const ResponseParseResult r = ParseResponse(row.input);
  ASSERT_EQ(r.status, ResponseParseStatus::kResponse);
  EXPECT_EQ(r.consumed, row.input.size());
  ExpectResponse(r.response, row.want);
}

TEST_P(DocResponseTest, EveryShorterPrefixNeedsMore) {
  const std::string_view input = GetParam().input;
  for (size_t n = 0; n < input.size(); ++n) {
    // A copy, so that reading past the prefix would be caught by the sanitizers.
    const std::string prefix(input.substr(0, n));
    const ResponseParseResult r = ParseResponse(prefix);
    EXPECT_EQ(r.status, ResponseParseStatus::kNeedMore) << "prefix of " << n << " bytes";
    EXPECT_EQ(r.consumed, 0u) << "prefix of " << n << " bytes";
  }
}

INSTANTIATE_TEST_SUITE_P(Doc, DocResponseTest, ::testing::ValuesIn(ResponseRows()),
                         [](const auto& info) { return std::string(info.param.name); });

TEST(DocResponses, PipelinedResponsesParseOneAfterAnother) {
  std::string stream;
  for (const ResponseRow& row : ResponseRows()) stream.append(row.input);
  std::string_view rest = stream;
  for (const ResponseRow& row : ResponseRows()) {
    SCOPED_TRACE(row.name);
    const ResponseParseResult r = ParseResponse(rest);
    ASSERT_EQ(r.status, ResponseParseStatus::kResponse);
    ASSERT_EQ(r.consumed, row.input.size());
    ExpectResponse(r.response, row.want);
    rest.remove_prefix(r.consumed);
  }
  EXPECT_TRUE(rest.empty());
}

// Errors the document specifies.

// Parses the front of `input`, which must be the error `error`; then checks that every fragment
// size gives the same sequence of results. Returns that sequence.
std::vector<std::string> ExpectError(std::string_view input, std::string_view error,
                                     const ParserOptions& options = ParserOptions()) {
  SCOPED_TRACE(::testing::Message() << "input: " << input.substr(0, 60));
  RequestParser parser(options);
  const ParseResult r = parser.Parse(input);
  EXPECT_EQ(r.status, ParseStatus::kError) << Describe(r);
  EXPECT_EQ(r.error, error);
  const std::vector<std::string> whole = Feed(input, 0, options);
  for (size_t chunk : kChunkSizes) {
    EXPECT_EQ(Feed(input, chunk, options), whole) << "chunk " << chunk;
  }
  return whole;
}

std::string Parsed(std::string_view input) { return Feed(input, 0).at(0); }

// "<data block>\r\n": memcached reads exactly <bytes> + 2 bytes, so the next command follows.
TEST(DocErrors, DataBlockNotEndingInCrLfIsBadDataChunk) {
  for (std::string_view input :
       {"set foo 0 0 3\r\nbarXYget foo\r\n"sv, "cas foo 0 0 3 1 noreply\r\nbarXYget foo\r\n"sv,
        "ms foo 3 T0\r\nbarXYget foo\r\n"sv}) {
    const std::vector<std::string> out = ExpectError(input, errors::kBadDataChunk);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[1], Parsed("get foo\r\n"));
  }
}

// "ERROR\r\n means the client sent a nonexistent command name"; names are case-sensitive.
TEST(DocErrors, UnknownCommandIsError) {
  for (std::string_view input : {"bogus\r\n"sv, "bogus foo bar\r\n"sv, "GET foo\r\n"sv,
                                 "Delete foo\r\n"sv, "MG foo v\r\n"sv, "mz foo v\r\n"sv}) {
    const std::vector<std::string> out = ExpectError(input, errors::kError);
    EXPECT_EQ(out.size(), 1u) << input;
  }
}

// "the length limit of a key is set at 250 characters".
TEST(DocErrors, KeyOver250BytesIsBadFormat) {
  const std::string k250(250, 'k');
  const std::string k251(251, 'k');
  for (const std::string& prefix : {"get "s, "gets a "s, "delete "s, "touch "s, "mg "s}) {
    const std::string suffix = prefix == "touch " ? " 10\r\n" : prefix == "mg " ? " v\r\n" : "\r\n";
    ExpectError(prefix + k251 + suffix, errors::kBadFormat);
    RequestParser parser;
    EXPECT_EQ(parser.Parse(prefix + k250 + suffix).status, ParseStatus::kRequest) << prefix;
  }
  ExpectError("set " + k251 + " 0 0 1\r\nx\r\n", errors::kBadFormat);
  ExpectError("ms " + k251 + " 1\r\nx\r\n", errors::kBadFormat);
}

// A too-large value is refused and its block skipped unread, even if it looks like a command.
TEST(DocErrors, ValueOverMaxItemSizeIsTooLargeAndItsBlockDiscarded) {
  ParserOptions options;
  options.max_item_size = 10;
  for (std::string_view input : {"set foo 0 0 11\r\nget evil\r\nX\r\nget foo\r\n"sv,
                                 "set foo 0 0 11 noreply\r\nget evil\r\nX\r\nget foo\r\n"sv,
                                 "ms foo 11 T0\r\nget evil\r\nX\r\nget foo\r\n"sv}) {
    const std::vector<std::string> out = ExpectError(input, errors::kTooLarge, options);
    ASSERT_EQ(out.size(), 2u);
    EXPECT_EQ(out[1], Parsed("get foo\r\n"));
  }
  RequestParser parser(options);
  EXPECT_EQ(parser.Parse("set foo 0 0 10\r\n0123456789\r\n").status, ParseStatus::kRequest);
}

TEST(DocErrors, LineOverMaxLengthWithoutNewlineCloses) {
  ParserOptions options;
  const std::string line(options.max_line_length + 1, 'x');
  for (const std::string& input : {line, "set foo 0 0 1 " + line}) {
    RequestParser parser(options);
    const ParseResult r = parser.Parse(input);
    EXPECT_EQ(r.status, ParseStatus::kError);
    EXPECT_TRUE(r.close);
    for (size_t chunk : kChunkSizes) {
      const std::vector<std::string> out = Feed(input, chunk, options);
      ASSERT_FALSE(out.empty());
      EXPECT_EQ(out.back(), "close") << "chunk " << chunk;
    }
  }
}

}  // namespace
}  // namespace spillway::protocol
