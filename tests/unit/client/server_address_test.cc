// Server lists as libmemcached, pylibmc and twemproxy write them, and the names ketama hashes.

#include "client/server_address.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace spillway::client {
namespace {

// One string per server, so a table row and a failure read as the list they stand for.
std::string Fields(const ServerAddress& server) {
  return server.host + " port " + std::to_string(server.port) + " weight " +
         std::to_string(server.weight);
}

using Servers = std::vector<std::string>;

Servers Parse(std::string_view text) {
  std::vector<ServerAddress> servers;
  Status status = ParseServerList(text, &servers);
  EXPECT_TRUE(status.ok()) << "\"" << text << "\": " << status.ToString();
  Servers fields;
  for (const ServerAddress& server : servers) fields.push_back(Fields(server));
  return fields;
}

TEST(ParseServerList, OneServer) {
  EXPECT_EQ(Parse("a:1"), Servers{"a port 1 weight 1"});
  EXPECT_EQ(Parse("a"), Servers{"a port 11211 weight 1"});
  EXPECT_EQ(Parse("a:1:5"), Servers{"a port 1 weight 5"});
  EXPECT_EQ(Parse("cache-1.example.com:65535"), Servers{"cache-1.example.com port 65535 weight 1"});
  EXPECT_EQ(Parse("10.0.0.1:11211:4294967295"), Servers{"10.0.0.1 port 11211 weight 4294967295"});
  // Kept as written: 0 counts as 1 only where the share is computed, as in libmemcached.
  EXPECT_EQ(Parse("a:1:0"), Servers{"a port 1 weight 0"});
}

TEST(ParseServerList, Ipv6InBrackets) {
  EXPECT_EQ(Parse("[::1]:11211"), Servers{"::1 port 11211 weight 1"});
  EXPECT_EQ(Parse("[::1]"), Servers{"::1 port 11211 weight 1"});
  EXPECT_EQ(Parse("[fe80::1:2]:1234:3"), Servers{"fe80::1:2 port 1234 weight 3"});
}

TEST(ParseServerList, CommasAndWhitespaceSeparate) {
  const Servers two = {"a port 1 weight 1", "b port 11211 weight 2"};
  EXPECT_EQ(Parse("a:1,b:11211:2"), two);
  EXPECT_EQ(Parse("a:1 b:11211:2"), two);
  EXPECT_EQ(Parse("a:1, b:11211:2"), two);
  EXPECT_EQ(Parse("\ta:1 ,\r\n b:11211:2\n"), two);
  EXPECT_EQ(Parse("[::1]:5,b:11211:2 c"),
            (Servers{"::1 port 5 weight 1", "b port 11211 weight 2", "c port 11211 weight 1"}));
}

TEST(ParseServerList, AppendsInOrder) {
  std::vector<ServerAddress> servers(1);
  servers[0].host = "first";
  ASSERT_TRUE(ParseServerList("b:2 a:1", &servers).ok());
  ASSERT_EQ(servers.size(), 3u);
  EXPECT_EQ(Fields(servers[0]), "first port 11211 weight 1");
  EXPECT_EQ(Fields(servers[1]), "b port 2 weight 1");
  EXPECT_EQ(Fields(servers[2]), "a port 1 weight 1");
}

TEST(ParseServerList, ErrorsAppendNothing) {
  constexpr std::string_view kBad[] = {
      "",
      " ",
      ",",
      ":1",
      "a:",
      "a:0",
      "a:65536",
      "a:x",
      "a:1:x",
      "a:1:-1",
      "a:1:",
      "a:-1",
      "a:+1",
      "a:1:2:3",
      "a:1:4294967296",
      "[::1",
      "[]:1",
      "[::1]x",
      "[::1]:",
      "[::1]:0",
      // One bad item spoils the list: the good ones before it are not appended either.
      "a:1,b:x",
      "a:1 :2",
  };
  for (std::string_view text : kBad) {
    std::vector<ServerAddress> servers(1);
    Status status = ParseServerList(text, &servers);
    EXPECT_EQ(status.code(), StatusCode::kInvalidArgument) << "\"" << text << "\"";
    EXPECT_FALSE(status.message().empty()) << "\"" << text << "\"";
    EXPECT_EQ(servers.size(), 1u) << "\"" << text << "\"";
  }
}

TEST(ParseServerList, ErrorNamesTheBadItem) {
  std::vector<ServerAddress> servers;
  Status status = ParseServerList("good:1, bad:x", &servers);
  EXPECT_NE(status.message().find("bad:x"), std::string::npos) << status.message();
}

// The names ketama hashes: libmemcached writes "%s-%u" for port 11211 and "%s:%u-%u" otherwise,
// with the host as given (no brackets for IPv6).
TEST(ServerAddress, PointName) {
  EXPECT_EQ((ServerAddress{"h", 11211}).PointName(), "h");
  EXPECT_EQ((ServerAddress{"h", 1234}).PointName(), "h:1234");
  EXPECT_EQ((ServerAddress{"10.0.0.1", 11212, 7}).PointName(), "10.0.0.1:11212");
  EXPECT_EQ((ServerAddress{"::1", 11211}).PointName(), "::1");
  EXPECT_EQ((ServerAddress{"::1", 1}).PointName(), "::1:1");
}

TEST(ServerAddress, ToString) {
  EXPECT_EQ((ServerAddress{"h", 11211}).ToString(), "h:11211");
  EXPECT_EQ((ServerAddress{"h", 1234, 5}).ToString(), "h:1234");
  EXPECT_EQ((ServerAddress{"::1", 11211}).ToString(), "[::1]:11211");
}

TEST(ServerAddress, ToStringParsesBack) {
  for (const ServerAddress& server :
       {ServerAddress{"h", 1}, ServerAddress{"10.1.2.3", 11211}, ServerAddress{"fe80::1", 65535}}) {
    EXPECT_EQ(Parse(server.ToString()), Servers{Fields(server)});
  }
}

}  // namespace
}  // namespace spillway::client
