// Encode-then-parse round trips: whatever EncodeRequest/EncodeResponse write, RequestParser and
// ParseResponse must read back field for field, alone and in a pipelined stream cut anywhere.

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <functional>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "feed.h"
#include "protocol/base64.h"
#include "protocol/encoder.h"
#include "protocol/request_parser.h"
#include "protocol/response_parser.h"

namespace spillway::protocol {
namespace {

using std::string_view_literals::operator""sv;
using testing::Describe;
using testing::Feed;
using testing::kChunkSizes;

constexpr uint32_t kMaxU32 = std::numeric_limits<uint32_t>::max();
constexpr uint64_t kMaxU64 = std::numeric_limits<uint64_t>::max();
constexpr int32_t kMinI32 = std::numeric_limits<int32_t>::min();
constexpr int32_t kMaxI32 = std::numeric_limits<int32_t>::max();
constexpr std::string_view kBinary = "a\r\nb\0c\r\n\0"sv;
constexpr std::string_view kBinaryKey = "\0 \r\n\x7f\xff key"sv;

// Owns the bytes that the requests and responses under test point into.
class Arena {
 public:
  std::string_view Keep(std::string bytes) { return strings_.emplace_back(std::move(bytes)); }

 private:
  std::deque<std::string> strings_;  // a deque never moves its elements
};

// The fields of a classic request. Every member has an initializer, so that a table row names
// only what it sets.
struct Classic {
  Command command = Command::kNone;
  std::string_view key = {};  // retrieval commands: every key, space separated
  std::string_view value = {};
  uint32_t flags = 0;
  int64_t exptime = 0;
  uint64_t cas = 0;
  uint64_t delta = 0;
  uint32_t level = 0;
  std::string_view argument = {};
  bool noreply = false;
};

// The request the parser should hand back for `c`.
Request ToRequest(const Classic& c) {
  Request r;
  r.command = c.command;
  r.key = r.key_token = c.key;
  if (IsRetrieval(c.command)) {
    r.keys = c.key;
    TokenIterator(c.key).Next(&r.key);
    r.key_token = r.key;
  }
  r.value = c.value;
  r.client_flags = c.flags;
  r.exptime = c.exptime;
  r.cas_unique = c.cas;
  r.delta = c.delta;
  r.level = c.level;
  r.argument = c.argument;
  r.noreply = c.noreply;
  return r;
}

bool TakesNoreply(Command c) {
  return IsStorage(c) || c == Command::kIncr || c == Command::kDecr || c == Command::kDelete ||
         c == Command::kTouch || c == Command::kFlushAll || c == Command::kVerbosity;
}

// A meta request, and for each flag token it writes, the value the parser should read from it.
class Meta {
 public:
  Meta(Command command, std::string_view key) : key_(key) { request_.command = command; }

  Meta& Base64Key() {
    base64_ = true;
    return Bare("b");
  }
  Meta& Bare(std::string_view flags) {  // Bare("vkq") writes "v k q"
    for (char flag : flags) Append(flag, "");
    return *this;
  }
  Meta& Ttl(char flag, int32_t ttl) {  // T, N or R
    MetaFlags& m = request_.meta;
    (flag == 'T' ? m.ttl : flag == 'N' ? m.vivify_ttl : m.recache_ttl) = ttl;
    return Append(flag, std::to_string(ttl));
  }
  Meta& Number(char flag, uint64_t n) {  // C, E, D, J or F
    MetaFlags& m = request_.meta;
    if (flag == 'F') {
      m.client_flags = static_cast<uint32_t>(n);
    } else {
      (flag == 'C'   ? m.compare_cas
       : flag == 'E' ? m.new_cas
       : flag == 'D' ? m.delta
                     : m.initial) = n;
    }
    return Append(flag, std::to_string(n));
  }
  Meta& Mode(char mode) {
    request_.meta.mode = mode;
    return Append('M', std::string(1, mode));
  }
  Meta& Opaque(std::string_view text) {
    opaque_ = text;
    return Append('O', text);
  }
  Meta& Value(std::string_view value) {
    request_.value = value;
    return *this;
  }

  Request Build(Arena* arena) const {
    Request r = request_;
    r.key = key_;
    std::string encoded;
    Base64Encode(key_, &encoded);
    r.key_token = base64_ ? arena->Keep(encoded) : key_;
    r.meta.tokens = arena->Keep(tokens_);
    r.meta.opaque = arena->Keep(opaque_);
    return r;
  }

 private:
  Meta& Append(char flag, std::string_view arg) {
    if (!tokens_.empty()) tokens_.push_back(' ');
    tokens_.append(1, flag).append(arg);
    request_.meta.Set(flag);
    return *this;
  }

  Request request_;
  std::string_view key_;
  std::string tokens_;
  std::string opaque_;
  bool base64_ = false;
};

// Describe() prints every field of a request, meta flags included.
std::string DescribeRequest(const Request& request) {
  ParseResult result;
  result.status = ParseStatus::kRequest;
  result.request = request;
  return Describe(result);
}

std::vector<Request> FixedRequests(Arena* arena) {
  const std::string_view k250 = arena->Keep(std::string(250, 'k'));
  const std::string_view two250 = arena->Keep(std::string(250, 'a') + " " + std::string(250, 'b'));
  const std::vector<Classic> classic = {
      {.command = Command::kGet, .key = "foo"},
      {.command = Command::kGet, .key = "a bb ccc"},
      {.command = Command::kGet, .key = k250},
      {.command = Command::kGet, .key = two250},
      {.command = Command::kGets, .key = "a b"},
      {.command = Command::kGat, .key = "foo"},
      {.command = Command::kGat, .key = "a b c", .exptime = -1},
      {.command = Command::kGats, .key = "foo", .exptime = kMaxI32},
      {.command = Command::kGats, .key = "x y", .exptime = kMinI32},
      {.command = Command::kSet, .key = "foo", .value = "bar", .flags = kMaxU32, .exptime = -1},
      {.command = Command::kSet, .key = "foo", .value = ""},
      {.command = Command::kSet, .key = "foo", .value = kBinary, .exptime = kMinI32},
      {.command = Command::kSet, .key = k250, .value = "v"},
      {.command = Command::kAdd, .key = "foo", .value = "bar", .flags = 1, .exptime = 2592000},
      {.command = Command::kReplace, .key = "foo", .value = "bar"},
      {.command = Command::kAppend, .key = "foo", .value = kBinary},
      {.command = Command::kPrepend, .key = "foo", .value = "\r\n"},
      {.command = Command::kCas, .key = "foo", .value = "bar", .flags = 5, .cas = kMaxU64},
      {.command = Command::kCas, .key = "foo", .value = ""},
      {.command = Command::kIncr, .key = "n", .delta = kMaxU64},
      {.command = Command::kDecr, .key = "n"},
      {.command = Command::kDelete, .key = "foo"},
      {.command = Command::kDelete, .key = k250},
      {.command = Command::kTouch, .key = "t", .exptime = -1},
      {.command = Command::kTouch, .key = "t", .exptime = kMaxI32},
      {.command = Command::kFlushAll},
      {.command = Command::kFlushAll, .exptime = 90},
      {.command = Command::kFlushAll, .exptime = -1},
      {.command = Command::kStats},
      {.command = Command::kStats, .argument = "slabs"},
      {.command = Command::kStats, .argument = "detail on"},
      {.command = Command::kVersion},
      {.command = Command::kQuit},
      {.command = Command::kShutdown},
      {.command = Command::kShutdown, .argument = "graceful"},
      {.command = Command::kVerbosity, .level = 1, .argument = "1"},
      {.command = Command::kVerbosity, .level = kMaxU32, .argument = "4294967295"},
  };
  std::vector<Request> requests;
  for (Classic c : classic) {
    requests.push_back(ToRequest(c));
    c.noreply = true;
    if (TakesNoreply(c.command)) requests.push_back(ToRequest(c));
  }

  using C = Command;
  const Meta meta[] = {
      Meta(C::kMetaGet, "foo"),
      Meta(C::kMetaGet, "foo").Bare("vftckshluq").Opaque("x-1").Ttl('T', 30).Ttl('N', -1),
      Meta(C::kMetaGet, "foo").Ttl('R', kMaxI32).Number('E', kMaxU64).Bare("vq"),
      Meta(C::kMetaGet, kBinaryKey).Base64Key().Bare("vk"),
      Meta(C::kMetaGet, k250).Opaque(std::string(31, 'o')),
      Meta(C::kMetaSet, "foo").Value("bar"),
      Meta(C::kMetaSet, "foo").Value("").Bare("q"),
      Meta(C::kMetaSet, "foo").Value(kBinary).Number('F', kMaxU32).Ttl('T', -1).Bare("Ikc"),
      Meta(C::kMetaSet, "foo").Number('C', kMaxU64).Number('E', 7).Opaque("1").Value("v"),
      Meta(C::kMetaSet, kBinaryKey).Base64Key().Value("v").Mode('S'),
      Meta(C::kMetaDelete, "foo"),
      Meta(C::kMetaDelete, "foo").Bare("qIx").Number('C', 9).Ttl('T', 30).Opaque("z"),
      Meta(C::kMetaDelete, kBinaryKey).Base64Key(),
      Meta(C::kMetaArithmetic, "n"),
      Meta(C::kMetaArithmetic, "n").Number('D', kMaxU64).Number('J', kMaxU64).Ttl('N', 0),
      Meta(C::kMetaArithmetic, "n").Ttl('T', -1).Bare("vtckq").Opaque("o").Number('D', 0),
      Meta(C::kMetaArithmetic, kBinaryKey).Base64Key().Mode('-'),
      Meta(C::kMetaNoop, ""),
      Meta(C::kMetaDebug, "foo"),
      Meta(C::kMetaDebug, kBinaryKey).Base64Key(),
  };
  for (const Meta& m : meta) requests.push_back(m.Build(arena));
  for (char mode : "EAPRS"sv) {
    requests.push_back(Meta(C::kMetaSet, "m").Value("v").Mode(mode).Build(arena));
  }
  for (char mode : "I+D-"sv) {
    requests.push_back(Meta(C::kMetaArithmetic, "m").Mode(mode).Bare("v").Build(arena));
  }
  return requests;
}

// The fields of a response, with initializers for the same reason as Classic's.
struct Reply {
  ResponseType type = ResponseType::kEnd;
  std::string_view key = {};
  uint32_t flags = 0;
  std::string_view value = {};
  bool has_cas = false;
  uint64_t cas = 0;
  uint64_t number = 0;
  std::string_view name = {};
  std::string_view text = {};
};

// "END", "MN": a word alone, which would not parse with text after it.
bool IsBareWord(ResponseType t) {
  using T = ResponseType;
  return (t >= T::kEnd && t <= T::kTouched) || t == T::kOk || t == T::kReset || t == T::kMetaNoop;
}

Response ToResponse(const Reply& reply) {
  return Response{reply.type, reply.key,    reply.flags, reply.value, reply.has_cas,
                  reply.cas,  reply.number, reply.name,  reply.text};
}

std::vector<Response> FixedResponses() {
  using T = ResponseType;
  const Reply replies[] = {
      {.type = T::kValue, .key = "foo", .value = "bar"},
      {.type = T::kValue, .key = "k", .flags = kMaxU32, .value = kBinary, .has_cas = true},
      {.type = T::kValue, .key = "k", .value = "", .has_cas = true, .cas = kMaxU64},
      {.type = T::kNumber, .number = kMaxU64},
      {.type = T::kNumber},
      {.type = T::kStat, .name = "version", .text = "1.6.21 with spaces"},
      {.type = T::kStat, .name = "empty", .text = ""},
      {.type = T::kVersion, .text = "1.6.21"},
      {.type = T::kError},
      {.type = T::kError, .text = ": shutdown not enabled"},
      {.type = T::kError, .text = " Too many open connections"},
      {.type = T::kClientError, .text = "bad command line format"},
      {.type = T::kServerError, .text = "out of memory storing object"},
      {.type = T::kMetaValue, .value = kBinary, .text = "f5 t-1 c9 Oabc kfoo"},
      {.type = T::kMetaValue, .value = ""},
      {.type = T::kMetaHeader},
      {.type = T::kMetaHeader, .text = "Oabc k q"},
      {.type = T::kMetaMiss},
      {.type = T::kMetaNotFound, .text = "Oz"},
      {.type = T::kMetaNotStored},
      {.type = T::kMetaExists, .text = "c12"},
      {.type = T::kMetaDebug, .text = "foo exp=-1 la=3 cas=2 fetch=no cls=1 size=63"},
  };
  std::vector<Response> responses;
  for (const Reply& r : replies) responses.push_back(ToResponse(r));
  for (int t = 0; t <= static_cast<int>(T::kMetaDebug); ++t) {
    if (IsBareWord(T(t))) responses.push_back(ToResponse({.type = T(t)}));
  }
  return responses;
}

// Random valid requests and responses, leaning on the edges where codecs break.
class Generator {
 public:
  Generator(uint64_t seed, Arena* arena) : rng_(seed), arena_(arena) {}

  Request NextRequest() {
    const auto command = static_cast<Command>(1 + Below(static_cast<int>(Command::kMetaDebug)));
    if (IsMeta(command)) return NextMeta(command);
    Classic c{.command = command, .noreply = TakesNoreply(command) && Below(2) == 0};
    if (IsRetrieval(command)) {
      std::string keys = Key();
      for (int i = Below(4); i > 0; --i) keys += " " + Key();
      c.key = Keep(keys);
    } else if (IsStorage(command) || command == Command::kIncr || command == Command::kDecr ||
               command == Command::kDelete || command == Command::kTouch) {
      c.key = Keep(Key());
    }
    if (command == Command::kGat || command == Command::kGats || IsStorage(command) ||
        command == Command::kTouch || command == Command::kFlushAll) {
      c.exptime = Exptime();
    }
    if (IsStorage(command)) {
      c.value = Keep(Bytes());
      c.flags = U32();
    }
    if (command == Command::kCas) c.cas = U64();
    if (command == Command::kIncr || command == Command::kDecr) c.delta = U64();
    if (command == Command::kStats) c.argument = Pick({"", "slabs", "items", "detail on"});
    if (command == Command::kShutdown) c.argument = Pick({"", "graceful"});
    if (command == Command::kVerbosity) {
      c.level = U32();
      c.argument = Keep(std::to_string(c.level));
    }
    return ToRequest(c);
  }

  Response NextResponse() {
    using T = ResponseType;
    Reply r{.type = T(Below(static_cast<int>(T::kMetaDebug) + 1))};
    if (r.type == T::kValue) {
      r = {.type = r.type, .key = Keep(Key()), .flags = U32(), .value = Keep(Bytes())};
      r.has_cas = Below(2) == 0;
      r.cas = U64();
    }
    if (r.type == T::kNumber) r.number = U64();
    if (r.type == T::kStat) r.name = Keep(Key());
    if (r.type == T::kMetaValue) r.value = Keep(Bytes());
    if (r.type != T::kValue && r.type != T::kNumber && !IsBareWord(r.type)) r.text = Keep(Text());
    return ToResponse(r);
  }

  size_t ChunkSize() { return 1 + static_cast<size_t>(Below(Below(8) == 0 ? 4096 : 64)); }

 private:
  Request NextMeta(Command command) {
    // The flags memcached documents for each command ('b' comes with a base64 key).
    std::string flags = command == Command::kMetaGet          ? "cfhklqstuvOENRT"
                        : command == Command::kMetaSet        ? "cIkqsOCEFTM"
                        : command == Command::kMetaDelete     ? "CEIkqOTx"
                        : command == Command::kMetaArithmetic ? "CEkqtcvNJDTMO"
                                                              : "";
    std::shuffle(flags.begin(), flags.end(), rng_);
    flags.resize(static_cast<size_t>(Below(static_cast<int>(flags.size()) + 1)));
    const bool base64 = command != Command::kMetaNoop && Below(4) == 0;
    Meta meta(command, Keep(command == Command::kMetaNoop ? ""
                            : base64                      ? Bytes(1 + Below(186))
                                                          : Key()));
    if (base64) meta.Base64Key();
    if (command == Command::kMetaSet) meta.Value(Keep(Bytes()));
    for (char flag : flags) {
      if (flag == 'T' || flag == 'N' || flag == 'R') {
        meta.Ttl(flag, static_cast<int32_t>(Exptime()));
      } else if (flag == 'O') {
        meta.Opaque(Key(31));
      } else if (flag == 'M') {
        meta.Mode(command == Command::kMetaSet ? "EAPRS"[Below(5)] : "I+D-"[Below(4)]);
      } else if (std::string_view("CEDJF").find(flag) != std::string_view::npos) {
        meta.Number(flag, flag == 'F' ? U32() : U64());
      } else {
        meta.Bare(std::string(1, flag));
      }
    }
    return meta.Build(arena_);
  }

  int Below(int n) { return static_cast<int>(rng_() % static_cast<uint64_t>(n)); }
  std::string_view Pick(std::initializer_list<std::string_view> from) {
    return from.begin()[Below(static_cast<int>(from.size()))];
  }
  std::string_view Keep(std::string bytes) { return arena_->Keep(std::move(bytes)); }
  uint64_t U64() {
    static constexpr uint64_t kEdges[] = {0, 1, kMaxU32, uint64_t{kMaxU32} + 1, kMaxU64};
    return Below(4) == 0 ? kEdges[Below(5)] : rng_();
  }
  uint32_t U32() { return static_cast<uint32_t>(U64()); }
  int64_t Exptime() {
    static constexpr int64_t kEdges[] = {0, -1, 1, 2592000, kMinI32, kMaxI32};
    return Below(2) == 0 ? kEdges[Below(6)] : static_cast<int32_t>(rng_());
  }
  // A key: printable, no space, now and then as long as allowed.
  std::string Key(int max_length = 250) {
    const int length = Below(8) == 0 ? max_length : 1 + Below(std::min(max_length, 20));
    std::string key;
    for (int i = 0; i < length; ++i) key.push_back(static_cast<char>('!' + Below(94)));
    return key;
  }
  // Any bytes, with "\r\n" and NUL more often than chance would give them.
  std::string Bytes(int length = -1) {
    if (length < 0) length = Below(8) == 0 ? Below(2000) : Below(40);
    std::string bytes;
    for (int i = 0; i < length; ++i) {
      bytes.push_back(Below(6) == 0 ? "\r\n\0 "[Below(4)] : static_cast<char>(rng_()));
    }
    return bytes;
  }
  // Response text: printable, spaces included, no line break.
  std::string Text() {
    std::string text;
    for (int i = Below(40); i > 0; --i) text.push_back(static_cast<char>(' ' + Below(95)));
    return text;
  }

  std::mt19937_64 rng_;
  Arena* arena_;
};

uint64_t TestSeed() {
  if (const char* env = std::getenv("SPILLWAY_TEST_SEED")) return std::strtoull(env, nullptr, 10);
  return std::random_device{}();
}

// Feeds `wire`, the encoding of `count` units, to `parse` the way a connection would: appends
// next_chunk() bytes at a time (0: all of it) and calls parse(buffer, i) for unit i, which
// returns the bytes the unit took or 0 for "need more", and reports its own failures.
void Stream(std::string_view wire, size_t count, const std::function<size_t()>& next_chunk,
            const std::function<size_t(std::string_view, size_t)>& parse) {
  std::string buffer;
  size_t i = 0;
  for (size_t offset = 0; offset < wire.size();) {
    const size_t chunk = next_chunk();
    const size_t n = std::min(chunk == 0 ? wire.size() : chunk, wire.size() - offset);
    buffer.append(wire.substr(offset, n));
    offset += n;
    while (i < count) {
      const size_t consumed = parse(buffer, i);
      if (::testing::Test::HasFailure()) return;  // one report, not one per chunk
      if (consumed == 0) break;
      buffer.erase(0, consumed);
      ++i;
    }
  }
  EXPECT_EQ(i, count);
  EXPECT_EQ(buffer.size(), 0u);
}

void ExpectRequests(std::string_view wire, const std::vector<Request>& want,
                    const std::vector<size_t>& sizes, const std::function<size_t()>& next_chunk) {
  RequestParser parser;
  Stream(wire, want.size(), next_chunk, [&](std::string_view buffer, size_t i) {
    const ParseResult r = parser.Parse(buffer);
    if (r.status == ParseStatus::kNeedMore) return size_t{0};
    EXPECT_EQ(r.status, ParseStatus::kRequest) << r.error;
    EXPECT_EQ(r.consumed, sizes[i]) << "request " << i;
    EXPECT_EQ(DescribeRequest(r.request), DescribeRequest(want[i])) << "request " << i;
    return r.consumed;
  });
}

void ExpectResponses(std::string_view wire, const std::vector<Response>& want,
                     const std::vector<size_t>& sizes, const std::function<size_t()>& next_chunk) {
  Stream(wire, want.size(), next_chunk, [&](std::string_view buffer, size_t i) {
    const ResponseParseResult r = ParseResponse(buffer);
    EXPECT_NE(r.status, ResponseParseStatus::kMalformed) << "response " << i;
    EXPECT_EQ(r.consumed, r.status == ResponseParseStatus::kNeedMore ? 0 : sizes[i]);
    EXPECT_TRUE(r.status == ResponseParseStatus::kNeedMore || SameResponse(r.response, want[i]))
        << "response " << i << ": " << ::testing::PrintToString(buffer.substr(0, sizes[i]));
    return r.consumed;
  });
}

// Like EXPECT_EQ on the two vectors, but names only the first difference.
void ExpectSameLines(const std::vector<std::string>& got, const std::vector<std::string>& want) {
  EXPECT_EQ(got.size(), want.size());
  const auto [g, w] = std::mismatch(got.begin(), got.end(), want.begin(), want.end());
  if (g != got.end() && w != want.end()) {
    ADD_FAILURE() << "line " << (g - got.begin())
                  << " differs\n  got: " << ::testing::PrintToString(*g)
                  << "\n want: " << ::testing::PrintToString(*w);
  }
}

// Encodes `items` into one pipelined stream, noting each one's size.
template <typename T>
std::string EncodeAll(const std::vector<T>& items, void (*encode)(const T&, std::string*),
                      std::vector<size_t>* sizes) {
  std::string wire;
  for (const T& item : items) {
    const size_t before = wire.size();
    encode(item, &wire);
    sizes->push_back(wire.size() - before);
  }
  return wire;
}

TEST(RoundTrip, EveryCommandIsCovered) {
  Arena arena;
  std::vector<bool> seen(static_cast<size_t>(Command::kMetaDebug) + 1);
  for (const Request& r : FixedRequests(&arena)) seen[static_cast<size_t>(r.command)] = true;
  for (size_t c = 1; c < seen.size(); ++c) EXPECT_TRUE(seen[c]) << CommandName(Command(c));
  // kNone has no wire form: it encodes as an empty line, which memcached answers with ERROR.
  std::string wire;
  EncodeRequest(Request(), &wire);
  EXPECT_EQ(RequestParser().Parse(wire).status, ParseStatus::kError);
}

TEST(RoundTrip, EveryRequest) {
  Arena arena;
  for (const Request& want : FixedRequests(&arena)) {
    std::string wire;
    EncodeRequest(want, &wire);
    SCOPED_TRACE(::testing::PrintToString(wire));
    RequestParser parser;
    const ParseResult r = parser.Parse(wire);
    ASSERT_EQ(r.status, ParseStatus::kRequest) << r.error;
    EXPECT_EQ(r.consumed, wire.size());
    EXPECT_EQ(DescribeRequest(r.request), DescribeRequest(want));
    EXPECT_EQ(r.request.meta.present, want.meta.present);  // Describe omits it for classic ones
    for (size_t chunk : kChunkSizes) {
      EXPECT_EQ(Feed(wire, chunk), std::vector<std::string>{DescribeRequest(want)}) << chunk;
    }
  }
}

TEST(RoundTrip, EveryResponse) {
  std::vector<bool> seen(static_cast<size_t>(ResponseType::kMetaDebug) + 1);
  for (const Response& want : FixedResponses()) {
    seen[static_cast<size_t>(want.type)] = true;
    std::string wire;
    EncodeResponse(want, &wire);
    SCOPED_TRACE(::testing::PrintToString(wire));
    const ResponseParseResult r = ParseResponse(wire);
    ASSERT_EQ(r.status, ResponseParseStatus::kResponse);
    EXPECT_EQ(r.consumed, wire.size());
    EXPECT_TRUE(SameResponse(r.response, want));
  }
  for (size_t t = 0; t < seen.size(); ++t) EXPECT_TRUE(seen[t]) << ResponseWord(ResponseType(t));
}

TEST(RoundTrip, RandomPipelines) {
  const uint64_t seed = TestSeed();
  SCOPED_TRACE("SPILLWAY_TEST_SEED=" + std::to_string(seed));
  RecordProperty("seed", std::to_string(seed));
  Arena arena;
  Generator gen(seed, &arena);
  std::vector<Request> requests;
  std::vector<Response> responses;
  for (int i = 0; i < 3000; ++i) {
    requests.push_back(gen.NextRequest());
    responses.push_back(gen.NextResponse());
  }
  std::vector<size_t> request_sizes;
  std::vector<size_t> response_sizes;
  const std::string request_wire = EncodeAll(requests, EncodeRequest, &request_sizes);
  const std::string response_wire = EncodeAll(responses, EncodeResponse, &response_sizes);
  const auto whole = [] { return size_t{0}; };
  const auto random = [&gen] { return gen.ChunkSize(); };

  ExpectRequests(request_wire, requests, request_sizes, whole);
  ExpectRequests(request_wire, requests, request_sizes, random);
  ExpectResponses(response_wire, responses, response_sizes, whole);
  ExpectResponses(response_wire, responses, response_sizes, random);

  std::vector<std::string> described;
  for (const Request& r : requests) described.push_back(DescribeRequest(r));
  for (size_t chunk : kChunkSizes) {
    SCOPED_TRACE("Feed() in chunks of " + std::to_string(chunk));
    ExpectSameLines(Feed(request_wire, chunk), described);
  }
}

}  // namespace
}  // namespace spillway::protocol
