// Base64 for meta binary keys: RFC 4648 vectors, round trips, and memcached's decoder quirks
// (base64.c), which spillway must share so that a key decodes to the same bytes on both.

#include "protocol/base64.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <random>
#include <string>

namespace spillway::protocol {
namespace {

std::string Encode(std::string_view in) {
  std::string out;
  Base64Encode(in, &out);
  return out;
}

// Decodes into a buffer of exactly `capacity` bytes; "<fail>" when Base64Decode returns 0.
std::string Decode(std::string_view in, size_t capacity) {
  std::string out(capacity, '\xAA');
  const size_t n = Base64Decode(in, out.data(), out.size());
  if (n == 0) return "<fail>";
  EXPECT_LE(n, capacity);
  return out.substr(0, n);
}

// Roomy enough for any input: memcached needs count / 4 * 3 bytes, counted before padding.
std::string Decode(std::string_view in) { return Decode(in, in.size()); }

uint64_t TestSeed() {
  if (const char* env = std::getenv("SPILLWAY_TEST_SEED")) return std::strtoull(env, nullptr, 10);
  return std::random_device{}();
}

TEST(Base64, Rfc4648Vectors) {
  struct Vector {
    std::string_view plain;
    std::string_view encoded;
  };
  constexpr Vector kVectors[] = {
      {"", ""},
      {"f", "Zg=="},
      {"fo", "Zm8="},
      {"foo", "Zm9v"},
      {"foob", "Zm9vYg=="},
      {"fooba", "Zm9vYmE="},
      {"foobar", "Zm9vYmFy"},
  };
  for (const Vector& v : kVectors) {
    SCOPED_TRACE(std::string(v.plain));
    EXPECT_EQ(Encode(v.plain), v.encoded);
    // An empty input decodes to 0 bytes, which is also the failure value.
    if (!v.plain.empty()) {
      EXPECT_EQ(Decode(v.encoded), v.plain);
    }
  }
  EXPECT_EQ(Decode(""), "<fail>");
}

TEST(Base64, EncodeAppends) {
  std::string out = "k=";
  Base64Encode("foo", &out);
  EXPECT_EQ(out, "k=Zm9v");
}

TEST(Base64, EveryByteValue) {
  std::string all;
  for (int c = 0; c < 256; ++c) all.push_back(static_cast<char>(c));
  EXPECT_EQ(Decode(Encode(all)), all);
}

TEST(Base64, SkipsCharactersOutsideTheAlphabet) {
  EXPECT_EQ(Decode("Zm9v\r\nYmFy"), "foobar");
  EXPECT_EQ(Decode(" Z m 9 v "), "foo");
  EXPECT_EQ(Decode("Zm9v!"), "foo");
  EXPECT_EQ(Decode("*Zm*9v*"), "foo");
  EXPECT_EQ(Decode(std::string("Zm\0"
                               "9v",
                               5)),
            "foo");
  EXPECT_EQ(Decode("!!!!"), "<fail>");  // nothing left to decode
}

TEST(Base64, CountNotAMultipleOfFourFails) {
  EXPECT_EQ(Decode("Z"), "<fail>");
  EXPECT_EQ(Decode("Zm9"), "<fail>");
  EXPECT_EQ(Decode("Zm9vY"), "<fail>");
  EXPECT_EQ(Decode("Zg="), "<fail>");       // padding counts toward the four
  EXPECT_EQ(Decode("Zm9v Zm9"), "<fail>");  // skipped characters do not
}

TEST(Base64, Padding) {
  EXPECT_EQ(Decode("Zg=="), "f");
  EXPECT_EQ(Decode("Zm8="), "fo");
  // Three or four pads in one block are refused.
  EXPECT_EQ(Decode("Z==="), "<fail>");
  EXPECT_EQ(Decode("===="), "<fail>");
  // Decoding stops after the first padded block; what follows is ignored.
  EXPECT_EQ(Decode("Zg==Zm9v"), "f");
  EXPECT_EQ(Decode("Zm8=!!!!"), "fo");
  // '=' decodes as zero wherever it sits, and every '=' of the block counts as a pad.
  EXPECT_EQ(Decode("Z=g="), "d");
}

TEST(Base64, BufferTooSmallFails) {
  EXPECT_EQ(Decode("Zm9vYmFy", 6), "foobar");
  EXPECT_EQ(Decode("Zm9vYmFy", 5), "<fail>");
  // memcached sizes the check before removing padding: "Zg==" needs room for 3 bytes.
  EXPECT_EQ(Decode("Zg==", 3), "f");
  EXPECT_EQ(Decode("Zg==", 2), "<fail>");
  EXPECT_EQ(Decode("Zg==", 1), "<fail>");
  EXPECT_EQ(Base64Decode("Zg==", nullptr, 0), 0u);
}

TEST(Base64, DecodesInPlace) {
  std::string buffer = "Zm9vYmFy";
  ASSERT_EQ(Base64Decode(buffer, buffer.data(), buffer.size()), 6u);
  EXPECT_EQ(buffer.substr(0, 6), "foobar");

  buffer = "Z\nm9v\nYm\nE=";
  ASSERT_EQ(Base64Decode(buffer, buffer.data(), buffer.size()), 5u);
  EXPECT_EQ(buffer.substr(0, 5), "fooba");
}

TEST(Base64, RandomRoundTrips) {
  const uint64_t seed = TestSeed();
  SCOPED_TRACE("SPILLWAY_TEST_SEED=" + std::to_string(seed));
  RecordProperty("seed", std::to_string(seed));
  std::mt19937_64 rng(seed);
  // A 250-byte meta key token carries at most 186 bytes; go one past it.
  for (size_t length = 0; length <= 187; ++length) {
    for (int round = 0; round < 20; ++round) {
      std::string plain(length, '\0');
      for (char& c : plain) c = static_cast<char>(rng());
      const std::string encoded = Encode(plain);
      SCOPED_TRACE("encoded " + encoded);
      ASSERT_EQ(encoded.size(), (length + 2) / 3 * 4);
      if (length == 0) continue;
      const size_t room = (length + 2) / 3 * 3;
      ASSERT_EQ(Decode(encoded, room), plain);
      ASSERT_EQ(Decode(encoded, room - 1), "<fail>");

      std::string in_place = encoded;
      ASSERT_EQ(Base64Decode(in_place, in_place.data(), in_place.size()), length);
      ASSERT_EQ(in_place.substr(0, length), plain);
    }
  }
}

}  // namespace
}  // namespace spillway::protocol
