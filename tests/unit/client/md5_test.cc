// MD5 against RFC 1321's test suite and against libhashkit, whose digests libmemcached's ketama
// places servers and keys with.

#include "client/md5.h"

#include <gtest/gtest.h>
#include <libhashkit-1.0/hashkit.h>

#include <cstdio>
#include <string>

namespace spillway::client {
namespace {

std::string Hex(const Md5Digest& digest) {
  std::string hex;
  for (uint8_t byte : digest) {
    char two[3];
    std::snprintf(two, sizeof two, "%02x", byte);
    hex += two;
  }
  return hex;
}

// libmemcached hashes server names and keys with libhashkit's MD5: matching it byte for byte is
// what placement compatibility rests on.
Md5Digest Libhashkit(std::string_view data) {
  Md5Digest digest;
  libhashkit_md5_signature(reinterpret_cast<const unsigned char*>(data.data()), data.size(),
                           digest.data());
  return digest;
}

// Every byte value, so a sign-extension or a stray NUL terminator would show.
std::string Pattern(size_t length) {
  std::string data(length, '\0');
  for (size_t i = 0; i < length; ++i) data[i] = static_cast<char>((i * 131 + 7) & 0xff);
  return data;
}

TEST(Md5, Rfc1321TestSuite) {
  struct Vector {
    std::string_view input;
    std::string_view digest;
  };
  constexpr Vector kVectors[] = {
      {"", "d41d8cd98f00b204e9800998ecf8427e"},
      {"a", "0cc175b9c0f1b6a831c399e269772661"},
      {"abc", "900150983cd24fb0d6963f7d28e17f72"},
      {"message digest", "f96b697d7cb7938d525a2f31aaf161d0"},
      {"abcdefghijklmnopqrstuvwxyz", "c3fcd3d76192e4007dfb496cca67e13b"},
      {"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
       "d174ab98d277d9f5a5611c2c9f419d9f"},
      {"1234567890123456789012345678901234567890123456789012345678901234567890123456789"
       "0",
       "57edf4a22be3c955ac49da2e2107b67a"},
  };
  for (const Vector& v : kVectors) {
    EXPECT_EQ(Hex(Md5(v.input)), v.digest) << "MD5(\"" << v.input << "\")";
    // Checks the oracle the other tests trust.
    EXPECT_EQ(Hex(Libhashkit(v.input)), v.digest) << "libhashkit MD5(\"" << v.input << "\")";
  }
}

// Lengths 55, 56 and 64 decide whether the padding and the bit length take one extra block or
// two; every length up to 200 covers them for the first three blocks.
TEST(Md5, EveryLengthUpTo200MatchesLibhashkit) {
  for (size_t length = 0; length <= 200; ++length) {
    std::string data = Pattern(length);
    EXPECT_EQ(Hex(Md5(data)), Hex(Libhashkit(data))) << "length " << length;
  }
}

TEST(Md5, LongInputsMatchLibhashkit) {
  for (size_t length : {1000, 4095, 4096, 4097, 65536 + 55, 1000000}) {
    std::string data = Pattern(length);
    EXPECT_EQ(Hex(Md5(data)), Hex(Libhashkit(data))) << "length " << length;
  }
}

// A view into a larger buffer: only its own bytes count.
TEST(Md5, HashesOnlyTheView) {
  std::string buffer = "xxabcxx";
  EXPECT_EQ(Hex(Md5(std::string_view(buffer).substr(2, 3))), "900150983cd24fb0d6963f7d28e17f72");
}

}  // namespace
}  // namespace spillway::client
