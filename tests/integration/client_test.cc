// spillway::client::Client against the real spillway binary over real sockets, on both I/O
// backends: each command's outcome as memcached defines it, and keys rejected before anything is
// sent. Many keys and threads are in client_load_test.cc; absent, silent and broken servers in
// client_failure_test.cc.

#include "tests/integration/client_support.h"
#include "tests/integration/limits_support.h"

namespace spillway::testing {
namespace {

// ---- Classic commands, each outcome as memcached answers it.

TEST_P(ClientTest, GetGetsGatGatsHitAndMiss) {
  ASSERT_NO_FATAL_FAILURE(Start(1));
  CacheClient& c = *client_;
  ASSERT_TRUE(IsOk(c.Set("k", "hello", 42)));
  std::optional<Item> item;
  ASSERT_TRUE(IsOk(c.Get("k", &item)));
  ASSERT_TRUE(item.has_value());
  EXPECT_EQ(item->key, "k");
  EXPECT_EQ(item->value, "hello");
  EXPECT_EQ(item->flags, 42u);
  EXPECT_EQ(item->cas, 0u);

  ASSERT_TRUE(IsOk(c.Gets("k", &item)));
  ASSERT_TRUE(item.has_value());
  const uint64_t cas = item->cas;
  EXPECT_NE(cas, 0u);
  EXPECT_EQ(item->value, "hello");
  EXPECT_EQ(item->flags, 42u);

  ASSERT_TRUE(IsOk(c.Gat("k", 3600, &item)));
  ASSERT_TRUE(item.has_value());
  EXPECT_EQ(item->value, "hello");
  EXPECT_EQ(item->flags, 42u);
  EXPECT_EQ(item->cas, 0u);
  ASSERT_TRUE(IsOk(c.Gats("k", 3600, &item)));
  ASSERT_TRUE(item.has_value());
  EXPECT_EQ(item->value, "hello");
  EXPECT_EQ(item->cas, cas) << "touching an item keeps its CAS, as in memcached";

  // A miss empties *item even when it held an earlier hit.
  for (int how = 0; how < 4; ++how) {
    item = Item{"stale", "stale", 1, 1};
    const Status s = how == 0   ? c.Get("nope", &item)
                     : how == 1 ? c.Gets("nope", &item)
                     : how == 2 ? c.Gat("nope", 10, &item)
                                : c.Gats("nope", 10, &item);
    EXPECT_TRUE(IsOk(s)) << how;
    EXPECT_FALSE(item.has_value()) << how;
  }

  ASSERT_TRUE(IsOk(c.Set("empty", "", UINT32_MAX)));
  ASSERT_TRUE(IsOk(c.Get("empty", &item)));
  ASSERT_TRUE(item.has_value());
  EXPECT_EQ(item->value, "");
  EXPECT_EQ(item->flags, UINT32_MAX);
}

TEST_P(ClientTest, CasStoresThenSeesStaleAndMissing) {
  ASSERT_NO_FATAL_FAILURE(Start(1));
  CacheClient& c = *client_;
  StoreResult r{};
  ASSERT_TRUE(IsOk(c.Set("k", "v1", 1)));
  std::optional<Item> item;
  ASSERT_TRUE(IsOk(c.Gets("k", &item)));
  ASSERT_TRUE(item.has_value());
  const uint64_t cas = item->cas;
  EXPECT_EQ(Outcome(c.Cas("k", "v2", cas, 2, 0, &r), r), "STORED");
  ASSERT_TRUE(IsOk(c.Get("k", &item)));
  ASSERT_TRUE(item.has_value());
  EXPECT_EQ(item->value, "v2");
  EXPECT_EQ(item->flags, 2u);
  EXPECT_EQ(Outcome(c.Cas("k", "v3", cas, 0, 0, &r), r), "EXISTS");
  EXPECT_EQ(ValueOf("k"), "v2");
  EXPECT_EQ(Outcome(c.Cas("missing", "v", cas, 0, 0, &r), r), "NOT_FOUND");
  EXPECT_EQ(ValueOf("missing"), "<miss>");
}

TEST_P(ClientTest, StorageCommandsAnswerEachOutcome) {
  ASSERT_NO_FATAL_FAILURE(Start(1));
  CacheClient& c = *client_;
  StoreResult r{};
  EXPECT_EQ(Outcome(c.Add("k", "a", 1, 0, &r), r), "STORED");
  EXPECT_EQ(Outcome(c.Add("k", "b", 1, 0, &r), r), "NOT_STORED");
  EXPECT_EQ(ValueOf("k"), "a");
  EXPECT_EQ(Outcome(c.Replace("nope", "x", 0, 0, &r), r), "NOT_STORED");
  EXPECT_EQ(Outcome(c.Replace("k", "b", 2, 0, &r), r), "STORED");
  EXPECT_EQ(Outcome(c.Append("nope", "x", &r), r), "NOT_STORED");
  EXPECT_EQ(Outcome(c.Prepend("nope", "x", &r), r), "NOT_STORED");
  EXPECT_EQ(ValueOf("nope"), "<miss>");
  EXPECT_EQ(Outcome(c.Append("k", "-post", &r), r), "STORED");
  EXPECT_EQ(Outcome(c.Prepend("k", "pre-", &r), r), "STORED");
  std::optional<Item> item;
  ASSERT_TRUE(IsOk(c.Get("k", &item)));
  ASSERT_TRUE(item.has_value());
  EXPECT_EQ(item->value, "pre-b-post");
  EXPECT_EQ(item->flags, 2u) << "append and prepend keep the item's flags";
  EXPECT_EQ(Outcome(c.Set("k", "c", 3, 0, &r), r), "STORED");
  EXPECT_TRUE(IsOk(c.Set("k", "d")));  // no result wanted
  EXPECT_EQ(ValueOf("k"), "d");
  // A negative exptime stores an item that has already expired, as in memcached.
  EXPECT_EQ(Outcome(c.Set("k", "e", 0, -1, &r), r), "STORED");
  EXPECT_EQ(ValueOf("k"), "<miss>");
}

TEST_P(ClientTest, IncrDecr) {
  ASSERT_NO_FATAL_FAILURE(Start(1));
  CacheClient& c = *client_;
  std::optional<uint64_t> v;
  ASSERT_TRUE(IsOk(c.Set("n", "10")));
  ASSERT_TRUE(IsOk(c.Incr("n", 5, &v)));
  EXPECT_EQ(v, std::optional<uint64_t>(15));
  ASSERT_TRUE(IsOk(c.Decr("n", 3, &v)));
  EXPECT_EQ(v, std::optional<uint64_t>(12));
  ASSERT_TRUE(IsOk(c.Decr("n", 100, &v)));
  EXPECT_EQ(v, std::optional<uint64_t>(0)) << "decr stops at 0";
  // memcached rewrites a shrinking number in place and pads it with spaces ("12" becomes "0 ").
  const std::string n = ValueOf("n");
  EXPECT_EQ(n.substr(0, n.find_last_not_of(' ') + 1), "0") << '"' << n << '"';
  v = 99;
  ASSERT_TRUE(IsOk(c.Incr("missing", 1, &v)));
  EXPECT_FALSE(v.has_value());
  v = 99;
  ASSERT_TRUE(IsOk(c.Decr("missing", 1, &v)));
  EXPECT_FALSE(v.has_value());
  // The counter is 64 bits and incr wraps, as memcached's does.
  ASSERT_TRUE(IsOk(c.Set("max", "18446744073709551615")));
  ASSERT_TRUE(IsOk(c.Incr("max", 1, &v)));
  EXPECT_EQ(v, std::optional<uint64_t>(0));

  ASSERT_TRUE(IsOk(c.Set("text", "abc")));
  for (int decr = 0; decr < 2; ++decr) {
    const Status s = decr ? c.Decr("text", 1, &v) : c.Incr("text", 1, &v);
    EXPECT_EQ(s.code(), StatusCode::kClientError) << s.ToString();
    EXPECT_EQ(s.message(), "cannot increment or decrement non-numeric value");
  }
  ASSERT_TRUE(IsOk(c.Incr("n", 1, &v)));  // the connection goes on after an error answer
  EXPECT_EQ(v, std::optional<uint64_t>(1));
}

TEST_P(ClientTest, DeleteAndTouch) {
  ASSERT_NO_FATAL_FAILURE(Start(1));
  CacheClient& c = *client_;
  bool found = false;
  ASSERT_TRUE(IsOk(c.Set("k", "v")));
  ASSERT_TRUE(IsOk(c.Delete("k", &found)));
  EXPECT_TRUE(found);
  EXPECT_EQ(ValueOf("k"), "<miss>");
  ASSERT_TRUE(IsOk(c.Delete("k", &found)));
  EXPECT_FALSE(found);
  EXPECT_TRUE(IsOk(c.Delete("k")));

  ASSERT_TRUE(IsOk(c.Set("k", "v")));
  ASSERT_TRUE(IsOk(c.Touch("k", 3600, &found)));
  EXPECT_TRUE(found);
  ASSERT_TRUE(IsOk(c.Touch("nope", 3600, &found)));
  EXPECT_FALSE(found);
  EXPECT_EQ(ValueOf("k"), "v");
  ASSERT_TRUE(IsOk(c.Touch("k", -1, &found)));  // expires it at once
  EXPECT_TRUE(found);
  EXPECT_EQ(ValueOf("k"), "<miss>");
}

TEST_P(ClientTest, WholeServerCommands) {
  ASSERT_NO_FATAL_FAILURE(Start(2));
  CacheClient& c = *client_;
  std::vector<std::string> keys;
  for (int i = 0; i < 50; ++i) {
    keys.push_back("k" + std::to_string(i));
    ASSERT_TRUE(IsOk(c.Set(keys.back(), "v")));
  }
  std::vector<Item> items;
  ASSERT_TRUE(IsOk(c.GetMulti(keys, &items)));
  EXPECT_EQ(items.size(), keys.size());
  ASSERT_TRUE(IsOk(c.FlushAll()));
  items.clear();
  ASSERT_TRUE(IsOk(c.GetMulti(keys, &items)));
  EXPECT_TRUE(items.empty()) << items.size() << " keys survived flush_all";

  EXPECT_TRUE(IsOk(c.Verbosity(1)));
  EXPECT_TRUE(IsOk(c.Verbosity(0)));

  for (size_t i = 0; i < 2; ++i) {
    auto stats = StatsOf(i);
    EXPECT_EQ(stats["pid"], std::to_string(servers_[i]->pid())) << "stats of server " << i;
    EXPECT_EQ(stats.count("curr_items"), 1u);
    EXPECT_EQ(stats["io_backend"], GetParam() == "uring" ? "io_uring" : "epoll");

    std::string version;
    ASSERT_TRUE(IsOk(c.Version(i, &version)));
    Client raw(servers_[i]->port());
    EXPECT_EQ("VERSION " + version + "\r\n", raw.Call("version\r\n"));
  }
  EXPECT_EQ(StatsOf(0, "settings")["item_size_max"], "1048576");
  std::vector<std::pair<std::string, std::string>> stats;
  const Status s = c.Stats(0, "nonsense", &stats);
  EXPECT_EQ(s.code(), StatusCode::kError) << s.ToString() << ": memcached answers ERROR";
  // `stats reset` answers RESET alone; twice, to show no failure is counted against the server.
  for (int i = 0; i < 2; ++i) EXPECT_TRUE(IsOk(c.Stats(0, "reset", &stats)));
  EXPECT_TRUE(stats.empty());
  EXPECT_FALSE(c.IsDown(0));
}

TEST_P(ClientTest, ShutdownIsRefusedUnlessEnabledThenStopsTheServer) {
  Start(1);
  const Status refused = client_->Shutdown(0);
  EXPECT_EQ(refused.code(), StatusCode::kError) << refused.ToString();
  EXPECT_EQ(ValueOf("k"), "<miss>") << "still serving after a refused shutdown";

  ServerProcess enabled({"--io=" + GetParam(), "--enable_shutdown"});
  ASSERT_GT(enabled.port(), 0);
  std::unique_ptr<CacheClient> c;
  ASSERT_TRUE(IsOk(CacheClient::Create({{"127.0.0.1", static_cast<uint16_t>(enabled.port()), 1}},
                                       client::Options(), &c)));
  ASSERT_TRUE(IsOk(c->Set("k", "v")));
  EXPECT_TRUE(IsOk(c->Shutdown(0, CacheClient::ShutdownMode::kGraceful)));
  int code = -1;
  ASSERT_TRUE(WaitForExit(enabled.pid(), 10'000, &code)) << "still running after shutdown";
  EXPECT_EQ(code, 0);
}

TEST_P(ClientTest, ConnectionsAreReusedAndQuitReconnects) {
  ASSERT_NO_FATAL_FAILURE(Start(1));
  CacheClient& c = *client_;
  const std::string first = StatsOf(0)["total_connections"];
  for (int i = 0; i < 20; ++i) EXPECT_EQ(ValueOf("k"), "<miss>");
  EXPECT_EQ(StatsOf(0)["total_connections"], first) << "sequential calls share one connection";
  c.Quit();
  ASSERT_TRUE(IsOk(c.Set("k", "v")));
  EXPECT_EQ(ValueOf("k"), "v");
  EXPECT_EQ(StatsOf(0)["total_connections"], std::to_string(std::stoul(first) + 1));
  c.Quit();
  c.Quit();  // nothing idle: nothing to do
  EXPECT_EQ(ValueOf("k"), "v");
}

// A name, not an address: the client resolves it. (Where "localhost" also names ::1, on which the
// server does not listen, this also shows that the client tries each address.)
TEST_P(ClientTest, HostNameResolves) {
  ASSERT_NO_FATAL_FAILURE(Start(1));
  std::unique_ptr<CacheClient> by_name;
  ASSERT_TRUE(
      IsOk(CacheClient::Create({{"localhost", static_cast<uint16_t>(servers_[0]->port()), 1}},
                               client::Options(), &by_name)));
  ASSERT_TRUE(IsOk(by_name->Set("k", "by name")));
  EXPECT_EQ(ValueOf("k"), "by name");
}

// ---- Meta commands.

TEST_P(ClientTest, MetaGetAndSet) {
  ASSERT_NO_FATAL_FAILURE(Start(1));
  CacheClient& c = *client_;
  MetaResult r;
  EXPECT_EQ(Outcome(c.MetaSet("mk", "hello", "T60 F7", &r), r), "HD");
  EXPECT_EQ(Outcome(c.MetaGet("mk", "v f c t k s", &r), r), "VA");
  EXPECT_EQ(r.value, "hello");
  EXPECT_EQ(r.Flag('f'), "7");
  EXPECT_TRUE(r.Has('c'));
  EXPECT_NE(r.Flag('c'), "0");
  EXPECT_EQ(r.Flag('k'), "mk");
  EXPECT_EQ(r.Flag('s'), "5");
  const int ttl = std::atoi(std::string(r.Flag('t')).c_str());
  EXPECT_TRUE(ttl > 0 && ttl <= 60) << r.flags;
  EXPECT_FALSE(r.Has('x')) << r.flags;

  EXPECT_EQ(Outcome(c.MetaGet("nope", "v f", &r), r), "EN");
  EXPECT_EQ(r.value, "");
  // q hides the miss; the call still returns, and the connection stays in step.
  EXPECT_EQ(Outcome(c.MetaGet("nope", "v q", &r), r), "EN");
  EXPECT_EQ(Outcome(c.MetaGet("mk", "v q", &r), r), "VA");
  EXPECT_EQ(r.value, "hello");
  EXPECT_EQ(Outcome(c.MetaGet("nope", "v q k", &r), r), "EN");
  EXPECT_EQ(Outcome(c.MetaGet("mk", "v", &r), r), "VA");
  EXPECT_EQ(r.value, "hello");

  EXPECT_EQ(Outcome(c.MetaSet("nope", "x", "MA", &r), r), "NS") << "append to a missing key";
  EXPECT_EQ(ValueOf("nope"), "<miss>");
  EXPECT_EQ(Outcome(c.MetaSet("mk", "!", "MA", &r), r), "HD");
  EXPECT_EQ(ValueOf("mk"), "hello!");
  EXPECT_EQ(Outcome(c.MetaSet("quiet", "v", "q", &r), r), "HD");  // the HD that q left out
  EXPECT_EQ(ValueOf("quiet"), "v");

  EXPECT_EQ(Outcome(c.MetaGet("mk", "c", &r), r), "HD");
  const std::string cas(r.Flag('c'));
  EXPECT_EQ(Outcome(c.MetaSet("mk", "new", "C" + cas, &r), r), "HD");
  EXPECT_EQ(Outcome(c.MetaSet("mk", "newer", "C" + cas, &r), r), "EX");
  EXPECT_EQ(ValueOf("mk"), "new");
}

TEST_P(ClientTest, MetaDeleteArithmeticDebugNoop) {
  ASSERT_NO_FATAL_FAILURE(Start(1));
  CacheClient& c = *client_;
  MetaResult r;
  ASSERT_TRUE(IsOk(c.Set("dk", "v")));
  EXPECT_EQ(Outcome(c.MetaDelete("dk", "", &r), r), "HD");
  EXPECT_EQ(Outcome(c.MetaDelete("dk", "", &r), r), "NF");
  EXPECT_EQ(Outcome(c.MetaDelete("dk", "q", &r), r), "NF");  // q never hides NF
  EXPECT_EQ(ValueOf("dk"), "<miss>");

  EXPECT_EQ(Outcome(c.MetaArithmetic("ctr", "", &r), r), "NF") << "no N: no auto-create";
  EXPECT_EQ(Outcome(c.MetaArithmetic("ctr", "N0 J5 v", &r), r), "VA");
  EXPECT_EQ(r.value, "5");
  EXPECT_EQ(Outcome(c.MetaArithmetic("ctr", "MD D2 v", &r), r), "VA");
  EXPECT_EQ(r.value, "3");
  EXPECT_EQ(Outcome(c.MetaArithmetic("ctr", "MD D10 v", &r), r), "VA");
  EXPECT_EQ(r.value, "0");
  EXPECT_EQ(Outcome(c.MetaArithmetic("ctr", "v", &r), r), "VA");
  EXPECT_EQ(r.value, "1");
  EXPECT_EQ(Outcome(c.MetaArithmetic("ctr", "", &r), r), "HD");
  EXPECT_EQ(ValueOf("ctr"), "2");
  ASSERT_TRUE(IsOk(c.Set("text", "abc")));
  const Status s = c.MetaArithmetic("text", "v", &r);
  EXPECT_EQ(s.code(), StatusCode::kClientError) << s.ToString();

  std::string text = "junk";
  ASSERT_TRUE(IsOk(c.MetaDebug("ctr", &text)));
  EXPECT_EQ(text.rfind("ctr ", 0), 0u) << text;
  ASSERT_TRUE(IsOk(c.MetaDebug("nope", &text)));
  EXPECT_EQ(text, "");
  EXPECT_TRUE(IsOk(c.MetaNoop(0)));
}

// ---- Input the client must refuse rather than send.

TEST_P(ClientTest, BadKeysAreRejectedBeforeSending) {
  ASSERT_NO_FATAL_FAILURE(Start(1));
  CacheClient& c = *client_;
  ASSERT_TRUE(IsOk(c.Set("good", "v")));  // a connection is open: a bad call could use it
  Client raw(servers_[0]->port());
  // Two snapshots with nothing between them: what asking for stats itself adds.
  const StatsMap a = Stats(raw);
  const StatsMap b = Stats(raw);
  const std::vector<std::string> bad = {"",           "a b",
                                        "tab\tkey",   "ctl\x01",
                                        "cr\rlf",     "line\r\nget good",
                                        {"nul\0", 4}, std::string(251, 'k')};
  for (const std::string& key : bad) {
    SCOPED_TRACE("key of " + std::to_string(key.size()) + " bytes: " + key);
    std::optional<Item> item;
    std::optional<uint64_t> number;
    std::vector<Item> items;
    std::string text;
    MetaResult r;
    const std::string keys[] = {"good", key};
    const Status statuses[] = {c.Get(key, &item),
                               c.Gats(key, 0, &item),
                               c.Set(key, "v"),
                               c.Add(key, "v"),
                               c.Append(key, "v"),
                               c.Cas(key, "v", 1),
                               c.Incr(key, 1, &number),
                               c.Delete(key),
                               c.Touch(key, 0),
                               c.MetaGet(key, "v", &r),
                               c.MetaSet(key, "v", "", &r),
                               c.MetaDelete(key, "", &r),
                               c.MetaArithmetic(key, "", &r),
                               c.MetaDebug(key, &text),
                               c.GetMulti(keys, &items)};
    for (size_t i = 0; i < std::size(statuses); ++i) {
      EXPECT_EQ(statuses[i].code(), StatusCode::kInvalidArgument)
          << "call " << i << ": " << statuses[i].ToString();
    }
  }
  const StatsMap after = Stats(raw);
  for (const char* name : {"bytes_read", "cmd_get", "cmd_set", "cmd_touch", "cmd_meta",
                           "total_connections", "delete_misses", "incr_misses"}) {
    EXPECT_EQ(*StatNumber(after, name) - *StatNumber(b, name),
              *StatNumber(b, name) - *StatNumber(a, name))
        << name << ": something reached the server";
  }
  EXPECT_FALSE(c.IsDown(0)) << "refused input is not a server failure";
  EXPECT_EQ(ValueOf("good"), "v");
  const std::string longest(250, 'k');
  EXPECT_TRUE(IsOk(c.Set(longest, "fits")));
  EXPECT_EQ(ValueOf(longest), "fits");
}

// The request line is the client's to compose: a caller's text must not end it early and start
// a command of its own.
TEST_P(ClientTest, MetaFlagsAndStatsGroupsCannotCarryACommand) {
  ASSERT_NO_FATAL_FAILURE(Start(1));
  CacheClient& c = *client_;
  ASSERT_TRUE(IsOk(c.Set("k", "v")));
  MetaResult r;
  const Status get = c.MetaGet("k", "v\r\nflush_all", &r);
  EXPECT_EQ(get.code(), StatusCode::kInvalidArgument) << get.ToString();
  const Status set = c.MetaSet("k2", "v", "T0\r\nflush_all", &r);
  EXPECT_EQ(set.code(), StatusCode::kInvalidArgument) << set.ToString();
  std::vector<std::pair<std::string, std::string>> stats;
  const Status st = c.Stats(0, "settings\r\nflush_all", &stats);
  EXPECT_EQ(st.code(), StatusCode::kInvalidArgument) << st.ToString();
  EXPECT_EQ(ValueOf("k"), "v") << "a smuggled flush_all ran";
}

TEST_P(ClientTest, TooLargeValueIsAServerErrorAndTheClientGoesOn) {
  // Default options: failure_limit is 2, so three of these would take the server down if an
  // error answer counted as a failure.
  ASSERT_NO_FATAL_FAILURE(Start(1));
  CacheClient& c = *client_;
  const std::string huge(ItemSizeMax() + 1, 'h');
  ASSERT_TRUE(IsOk(c.Set("k", "old")));
  for (int i = 0; i < 3; ++i) {
    const Status s = c.Set("k", huge);
    EXPECT_EQ(s.code(), StatusCode::kServerError) << s.ToString();
    EXPECT_EQ(s.message(), "object too large for cache");
  }
  EXPECT_EQ(ValueOf("k"), "<miss>") << "memcached drops the old value too";
  EXPECT_FALSE(c.IsDown(0)) << "an error answer is not a server failure";
  ASSERT_TRUE(IsOk(c.Set("k", "v")));
  StoreResult r{};
  EXPECT_EQ(Outcome(c.Append("k", huge, &r), r), "SERVER_ERROR: object too large for cache");
  MetaResult m;
  const Status s = c.MetaSet("k", huge, "", &m);
  EXPECT_EQ(s.code(), StatusCode::kServerError) << s.ToString();
  EXPECT_EQ(s.message(), "object too large for cache");
  EXPECT_EQ(Outcome(c.MetaSet("k", "after", "", &m), m), "HD");
  EXPECT_EQ(ValueOf("k"), "after");
}

INSTANTIATE_TEST_SUITE_P(Backends, ClientTest, ::testing::Values("epoll", "uring"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

}  // namespace
}  // namespace spillway::testing
