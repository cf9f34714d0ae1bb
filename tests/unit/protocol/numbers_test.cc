// ParseUint64/ParseUint32/ParseInt64/ParseInt32 against memcached's safe_strto* helpers
// (util.c), reimplemented here over glibc's strto* so that every quirk comes from the same
// library memcached links against: leading whitespace, a sign, the number ending at whitespace
// or the end, ERANGE, '-' refused only when the unsigned result is negative as signed, and
// 32-bit results truncated from the 64-bit `long`.

#include "protocol/numbers.h"

#include <gtest/gtest.h>

#include <cctype>
#include <cerrno>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <ostream>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace spillway::protocol {
namespace {

static_assert(sizeof(long) == 8, "memcached's safe_strtoul/safe_strtol semantics assume LP64");

// What memcached decided for one token: success, and the value it stored (0 on failure).
template <typename T>
struct Verdict {
  bool ok = false;
  T value = 0;
  bool operator==(const Verdict&) const = default;
};

template <typename T>
std::ostream& operator<<(std::ostream& os, const Verdict<T>& v) {
  return os << (v.ok ? "ok " : "fail ") << +v.value;
}

// memcached's tail check: the conversion must have read something and stopped at whitespace or
// at the end of the (NUL-terminated) token.
bool EndsWell(const char* str, const char* end) {
  return std::isspace(static_cast<unsigned char>(*end)) || (*end == '\0' && end != str);
}

// memcached's safe_strtoull / safe_strtoul: `Wide` is unsigned long long / unsigned long.
template <typename Out, typename Wide, typename Signed>
Verdict<Out> SafeStrtoUnsigned(const std::string& token,
                               Wide (*convert)(const char*, char**, int)) {
  const char* str = token.c_str();
  char* end = nullptr;
  errno = 0;
  const Wide wide = convert(str, &end, 10);
  if (errno == ERANGE || end == str || !EndsWell(str, end)) return {};
  if (static_cast<Signed>(wide) < 0 && std::strchr(str, '-') != nullptr) return {};
  return {true, static_cast<Out>(wide)};
}

// memcached's safe_strtoll / safe_strtol.
template <typename Out, typename Wide>
Verdict<Out> SafeStrtoSigned(const std::string& token, Wide (*convert)(const char*, char**, int)) {
  const char* str = token.c_str();
  char* end = nullptr;
  errno = 0;
  const Wide wide = convert(str, &end, 10);
  if (errno == ERANGE || end == str || !EndsWell(str, end)) return {};
  return {true, static_cast<Out>(wide)};
}

template <typename T>
Verdict<T> Ours(bool (*parse)(std::string_view, T*), const std::string& token) {
  T value = 123;  // ParseX must reset it to 0 on failure
  const bool ok = parse(token, &value);
  return {ok, value};
}

// Compares all four parsers with memcached's on one token.
void ExpectSameAsMemcached(const std::string& token) {
  SCOPED_TRACE("token " + ::testing::PrintToString(token));
  EXPECT_EQ((Ours<uint64_t>(ParseUint64, token)),
            (SafeStrtoUnsigned<uint64_t, unsigned long long, long long>(token, std::strtoull)));
  EXPECT_EQ((Ours<uint32_t>(ParseUint32, token)),
            (SafeStrtoUnsigned<uint32_t, unsigned long, long>(token, std::strtoul)));
  EXPECT_EQ((Ours<int64_t>(ParseInt64, token)),
            (SafeStrtoSigned<int64_t, long long>(token, std::strtoll)));
  EXPECT_EQ((Ours<int32_t>(ParseInt32, token)),
            (SafeStrtoSigned<int32_t, long>(token, std::strtol)));
}

uint64_t TestSeed() {
  if (const char* env = std::getenv("SPILLWAY_TEST_SEED")) return std::strtoull(env, nullptr, 10);
  return std::random_device{}();
}

TEST(Numbers, TrickyTokensMatchMemcached) {
  const std::vector<std::string> tokens = {
      "", "+", "-", " ", "-0", "+0", "+5", "-5", " 5", "\t5", "\n5", "5\t", "5 ", "5\n", "5 x",
      "5x", "x5", "0x10", "007", "00000000000000000000000000000042", "1.5", "1e3", "- 5", "+-5",
      "--5", "5-", "5+",
      // 32-bit bounds: truncation, not overflow, since `long` is 64 bits.
      "4294967295", "4294967296", "4294967294", "-4294967295", "-4294967296", "2147483647",
      "2147483648", "-2147483648", "-2147483649",
      // 64-bit bounds.
      "9223372036854775807", "9223372036854775808", "-9223372036854775807", "-9223372036854775808",
      "-9223372036854775809", "18446744073709551615", "18446744073709551616",
      "-18446744073709551615", "-18446744073709551616", "-1", "99999999999999999999",
      "-99999999999999999999", std::string(400, '9'), std::string(400, '0') + "1", " \t\n\v\f\r7",
      "7 \t"};
  for (const std::string& token : tokens) ExpectSameAsMemcached(token);
}

TEST(Numbers, SpotValues) {
  // A few decisions written out, so that a wrong reference cannot hide a wrong parser.
  uint64_t u64 = 0;
  EXPECT_FALSE(ParseUint64("-1", &u64));
  EXPECT_TRUE(ParseUint64("-9223372036854775809", &u64));  // wraps to 2^63 - 1: no sign check
  EXPECT_EQ(u64, 9223372036854775807u);
  uint32_t u32 = 0;
  EXPECT_TRUE(ParseUint32("4294967296", &u32));
  EXPECT_EQ(u32, 0u);
  int32_t i32 = 0;
  EXPECT_TRUE(ParseInt32("2147483648", &i32));
  EXPECT_EQ(i32, INT32_MIN);
  int64_t i64 = 0;
  EXPECT_TRUE(ParseInt64("-9223372036854775808", &i64));
  EXPECT_EQ(i64, INT64_MIN);
  EXPECT_FALSE(ParseInt64("9223372036854775808", &i64));
  EXPECT_EQ(i64, 0);
}

TEST(Numbers, StopAtTheEndOfTheView) {
  // Tokens are views into a request line: the byte after one is the next token, not a NUL.
  const std::string_view line = "12345 678";
  uint64_t u64 = 0;
  ASSERT_TRUE(ParseUint64(line.substr(0, 2), &u64));
  EXPECT_EQ(u64, 12u);
  int32_t i32 = 0;
  ASSERT_TRUE(ParseInt32(line.substr(1, 3), &i32));
  EXPECT_EQ(i32, 234);
  int64_t i64 = 0;
  EXPECT_FALSE(ParseInt64(line.substr(5, 0), &i64));  // empty, though digits follow
}

TEST(Numbers, RandomTokensMatchMemcached) {
  const uint64_t seed = TestSeed();
  SCOPED_TRACE("SPILLWAY_TEST_SEED=" + std::to_string(seed));
  RecordProperty("seed", std::to_string(seed));
  std::mt19937_64 rng(seed);
  constexpr std::string_view kAlphabet = "0123456789+- \t x";
  constexpr std::string_view kDigits = "0123456789";
  auto pick = [&rng](std::string_view from) { return from[rng() % from.size()]; };
  for (int i = 0; i < 5000; ++i) {
    std::string token;
    if (i % 2 == 0) {
      for (size_t j = rng() % 24; j > 0; --j) token.push_back(pick(kAlphabet));
    } else {
      // Mostly digits, around the 19/20-digit overflow edge, with an optional sign and tail.
      if (rng() % 3 == 0) token.push_back(pick("+- "));
      const size_t digits = 17 + rng() % 5;
      for (size_t j = 0; j < digits; ++j) token.push_back(pick(kDigits));
      if (rng() % 4 == 0) token.push_back(pick(kAlphabet));
    }
    ExpectSameAsMemcached(token);
    if (HasFailure()) break;
  }
}

}  // namespace
}  // namespace spillway::protocol
