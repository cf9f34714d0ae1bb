// spillway::client::Client with many keys and many servers: multi-gets across servers, answers
// larger than the socket buffers, binary values, and threads sharing one Client. On both I/O
// backends, against the real spillway binary.

#include "tests/integration/client_support.h"

namespace spillway::testing {
namespace {

// The same fixture under its own name: each file instantiates its own suite.
class ClientLoadTest : public ClientTest {};

// ---- Many keys, many servers.

TEST_P(ClientLoadTest, GetMultiAcrossThreeServers) {
  ASSERT_NO_FATAL_FAILURE(Start(3));
  CacheClient& c = *client_;
  constexpr int kKeys = 1000;
  std::vector<std::string> keys;
  std::map<std::string, std::string> values;
  std::vector<std::vector<std::string>> by_server(3);
  for (int i = 0; i < kKeys; ++i) {
    const std::string key = "multi:" + std::to_string(i);
    const std::string value = "v" + std::to_string(i) + ":" + std::string(i % 100, 'a' + i % 26);
    ASSERT_TRUE(IsOk(c.Set(key, value, i)));
    keys.push_back(key);
    values[key] = value;
    const uint32_t server = c.ServerFor(key);
    ASSERT_LT(server, 3u);
    by_server[server].push_back(key);
  }
  // Each key is on the server ServerFor names, and each server has its share.
  for (size_t s = 0; s < 3; ++s) {
    ASSERT_GT(by_server[s].size(), 100u) << "server " << s;
    Client raw(servers_[s]->port());
    std::string line = "get";
    for (const std::string& key : by_server[s]) line += " " + key;
    const std::string answer = raw.Call(line + "\r\n", "END\r\n");
    size_t hits = 0;
    for (size_t at = answer.find("VALUE "); at != std::string::npos;
         at = answer.find("VALUE ", at + 1)) {
      ++hits;
    }
    EXPECT_EQ(hits, by_server[s].size()) << "server " << s;
  }

  std::vector<std::string> asked = keys;
  for (int i = 0; i < 100; ++i) asked.push_back("absent:" + std::to_string(i));
  std::map<std::string, uint64_t> cas;
  for (Retrieval how : {Retrieval::kGet, Retrieval::kGets, Retrieval::kGat, Retrieval::kGats}) {
    SCOPED_TRACE("retrieval " + std::to_string(static_cast<int>(how)));
    std::vector<Item> items;
    ASSERT_TRUE(IsOk(c.GetMulti(asked, &items, how, 3600)));
    ASSERT_EQ(items.size(), keys.size());
    std::set<std::string> seen;
    for (const Item& item : items) {
      ASSERT_EQ(values.count(item.key), 1u) << item.key;
      EXPECT_TRUE(seen.insert(item.key).second) << item.key << " twice";
      EXPECT_EQ(item.value, values[item.key]);
      EXPECT_EQ(std::to_string(item.flags), item.key.substr(6));
      if (how == Retrieval::kGets || how == Retrieval::kGats) {
        EXPECT_NE(item.cas, 0u);
        if (how == Retrieval::kGets) cas[item.key] = item.cas;
        if (how == Retrieval::kGats) {
          EXPECT_EQ(item.cas, cas[item.key]) << item.key;
        }
      } else {
        EXPECT_EQ(item.cas, 0u);
      }
    }
  }
  std::optional<Item> one;
  ASSERT_TRUE(IsOk(c.Gets(keys[7], &one)));
  ASSERT_TRUE(one.has_value());
  EXPECT_EQ(one->cas, cas[keys[7]]);

  // Hits are appended: what *items held stays in front.
  std::vector<Item> items = {Item{"sentinel", "s"}};
  ASSERT_TRUE(IsOk(c.GetMulti(std::span<const std::string>(), &items)));
  ASSERT_EQ(items.size(), 1u);
  ASSERT_TRUE(IsOk(c.GetMulti(std::span<const std::string>(keys).first(10), &items)));
  ASSERT_EQ(items.size(), 11u);
  EXPECT_EQ(items[0].key, "sentinel");

  // Keys that repeat: every answer is a correct hit, and every distinct hit is there.
  std::vector<std::string> repeated;
  for (int round = 0; round < 3; ++round) {
    for (int i = 0; i < 100; ++i) {
      repeated.push_back(keys[i]);
      repeated.push_back("absent:" + std::to_string(i));
    }
  }
  items.clear();
  ASSERT_TRUE(IsOk(c.GetMulti(repeated, &items)));
  std::set<std::string> distinct;
  for (const Item& item : items) {
    ASSERT_EQ(values.count(item.key), 1u) << item.key;
    EXPECT_EQ(item.value, values[item.key]);
    distinct.insert(item.key);
  }
  EXPECT_EQ(distinct.size(), 100u);
  // The client asks for each key once (memcached would answer each mention), so each comes back
  // once. The header does not say which; this is what client.cc does.
  EXPECT_EQ(items.size(), 100u);
}

// A request longer than the socket buffers hold (12 MB of get lines) whose first answers are
// large (20 MB): the server stops reading until its answers are read, so a client that sent the
// whole request before reading anything would wait for ever.
TEST_P(ClientLoadTest, LongMultiGetWithLargeAnswersDoesNotDeadlock) {
  client::Options patient;
  patient.request_timeout = std::chrono::seconds(20);  // bulk, not latency, is under test
  ASSERT_NO_FATAL_FAILURE(Start(1, patient));
  CacheClient& c = *client_;
  const std::string large(512 << 10, 'L');
  std::vector<std::string> keys;
  for (int i = 0; i < 40; ++i) {
    keys.push_back("a:" + std::to_string(i));  // sorts before the misses: answered first
    ASSERT_TRUE(IsOk(c.Set(keys.back(), large)));
  }
  for (int i = 0; i < 48'000; ++i) {
    std::string miss = "miss:" + std::to_string(i);
    keys.push_back(miss + std::string(250 - miss.size(), '.'));
  }
  std::vector<Item> items;
  ASSERT_TRUE(IsOk(c.GetMulti(keys, &items)));
  ASSERT_EQ(items.size(), 40u);
  for (const Item& item : items) EXPECT_TRUE(item.value == large) << item.key;
  EXPECT_EQ(ValueOf("a:0").size(), large.size());
}

TEST_P(ClientLoadTest, BinaryValuesRoundTrip) {
  ASSERT_NO_FATAL_FAILURE(Start(1));
  CacheClient& c = *client_;
  std::string every_byte;
  for (int b = 0; b < 256; ++b) every_byte.push_back(static_cast<char>(b));
  std::string big(ItemSizeMax() - 512, '\0');
  std::mt19937 random(1);  // fixed seed: the same bytes every run
  for (char& ch : big) ch = static_cast<char>(random());
  const std::vector<std::string> values = {every_byte,
                                           "\r\n",
                                           "line\r\nEND\r\n",
                                           "VALUE k 0 1\r\nx\r\nEND\r\n",
                                           "VA 1\r\nx\r\nHD\r\n",
                                           "",
                                           std::string(3, '\0'),
                                           "\r",
                                           "\n",
                                           "ends with\r\n\r\n",
                                           big};
  std::vector<std::string> keys;
  for (size_t i = 0; i < values.size(); ++i) {
    SCOPED_TRACE("value " + std::to_string(i));
    const std::string key = "bin:" + std::to_string(i);
    keys.push_back(key);
    ASSERT_TRUE(IsOk(c.Set(key, values[i], static_cast<uint32_t>(i))));
    std::optional<Item> item;
    ASSERT_TRUE(IsOk(c.Get(key, &item)));
    ASSERT_TRUE(item.has_value());
    EXPECT_TRUE(item->value == values[i]) << item->value.size() << " bytes back";
    MetaResult r;
    EXPECT_EQ(Outcome(c.MetaSet("m" + key, values[i], "F3", &r), r), "HD");
    EXPECT_EQ(Outcome(c.MetaGet("m" + key, "v f", &r), r), "VA");
    EXPECT_TRUE(r.value == values[i]) << r.value.size() << " bytes back";
    EXPECT_EQ(r.Flag('f'), "3");
  }
  std::vector<Item> items;
  ASSERT_TRUE(IsOk(c.GetMulti(keys, &items, Retrieval::kGets)));
  ASSERT_EQ(items.size(), values.size());
  for (const Item& item : items) {
    EXPECT_TRUE(item.value == values[item.flags]) << item.key;
  }
  StoreResult r{};
  EXPECT_EQ(Outcome(c.Append("bin:0", "\r\nEND\r\n", &r), r), "STORED");
  EXPECT_EQ(ValueOf("bin:0"), every_byte + "\r\nEND\r\n");
}

// ---- Threads.

// A value that says who wrote it, so that a reader can tell a whole one from a mix of two.
std::string SharedValue(int thread, int op) {
  return std::to_string(thread) + ":" + std::to_string(op) + ":" +
         std::string(static_cast<size_t>((thread * 131 + op * 7) % 3000), 'a' + thread);
}

bool WellFormed(const std::string& value) {
  int thread = -1, op = -1;
  return std::sscanf(value.c_str(), "%d:%d:", &thread, &op) == 2 &&
         value == SharedValue(thread, op);
}

TEST_P(ClientLoadTest, EightThreadsShareOneClient) {
  ASSERT_NO_FATAL_FAILURE(Start(2));
  constexpr int kThreads = 8;
  constexpr int kOps = 2000;
  constexpr int kCounters = 4;
  constexpr int kOwnKeys = 30;
  constexpr int kSharedKeys = 8;
  const auto counter = [](int j) { return "counter:" + std::to_string(j); };
  for (int j = 0; j < kCounters; ++j) ASSERT_TRUE(IsOk(client_->Set(counter(j), "0")));
  uint32_t seed = std::random_device()();
  if (const char* env = std::getenv("SPILLWAY_CLIENT_SEED")) {
    seed = static_cast<uint32_t>(std::strtoul(env, nullptr, 10));
  }
  std::printf("client threads seed: %u (rerun with SPILLWAY_CLIENT_SEED=%u)\n", seed, seed);

  std::mutex mu;
  std::vector<std::string> errors;                        // guarded by mu
  std::vector<std::vector<uint64_t>> answers(kCounters);  // every incr's answer; guarded by mu
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      CacheClient& c = *client_;
      std::mt19937 random(seed + t);
      std::map<std::string, std::string> mine;  // this thread's keys as they should be now
      std::vector<std::vector<uint64_t>> incrs(kCounters);
      std::vector<std::string> failures;
      const auto fail = [&](int op, const std::string& what) {
        if (failures.size() < 5) failures.push_back(std::to_string(op) + ": " + what);
      };
      const auto own = [&](int k) { return "own:" + std::to_string(t) + ":" + std::to_string(k); };
      for (int i = 0; i < kOps; ++i) {
        const std::string key = own(static_cast<int>(random() % kOwnKeys));
        const std::string shared = "shared:" + std::to_string(random() % kSharedKeys);
        const auto it = mine.find(key);
        const std::string want = it == mine.end() ? "<miss>" : it->second;
        std::optional<Item> item;
        switch (random() % 8) {
          case 0: {
            const std::string value = SharedValue(t, i);
            if (Status s = c.Set(key, value); !s.ok()) fail(i, s.ToString());
            mine[key] = value;
            break;
          }
          case 1: {
            if (Status s = c.Get(key, &item); !s.ok()) fail(i, s.ToString());
            if ((item ? item->value : "<miss>") != want) fail(i, "get " + key);
            break;
          }
          case 2: {
            const int j = static_cast<int>(random() % kCounters);
            std::optional<uint64_t> v;
            if (Status s = c.Incr(counter(j), 1, &v); !s.ok() || !v) {
              fail(i, "incr: " + s.ToString());
            } else {
              incrs[j].push_back(*v);
            }
            break;
          }
          case 3: {
            if (Status s = c.Gets(key, &item); !s.ok()) fail(i, s.ToString());
            if (!item) break;
            const std::string value = SharedValue(t, i);
            StoreResult r{};
            if (Outcome(c.Cas(key, value, item->cas, 0, 0, &r), r) != "STORED") fail(i, "cas");
            mine[key] = value;
            break;
          }
          case 4: {
            if (Status s = c.Set(shared, SharedValue(t, i)); !s.ok()) fail(i, s.ToString());
            break;
          }
          case 5: {
            if (Status s = c.Get(shared, &item); !s.ok()) fail(i, s.ToString());
            if (item && !WellFormed(item->value)) fail(i, "torn " + shared);
            break;
          }
          case 6: {
            std::vector<std::string> keys;
            for (int k = 0; k < 6; ++k) keys.push_back(own((i + k) % kOwnKeys));
            std::vector<Item> items;
            if (Status s = c.GetMulti(keys, &items); !s.ok()) fail(i, s.ToString());
            size_t present = 0;
            for (const std::string& k : keys) present += mine.count(k);
            if (items.size() != present) fail(i, "multi-get count");
            for (const Item& got : items) {
              const auto has = mine.find(got.key);
              if (has == mine.end() || has->second != got.value) fail(i, "multi-get " + got.key);
            }
            break;
          }
          default: {
            bool found = false;
            if (Status s = c.Delete(key, &found); !s.ok()) fail(i, s.ToString());
            if (found != (it != mine.end())) fail(i, "delete " + key);
            mine.erase(key);
            break;
          }
        }
      }
      std::lock_guard<std::mutex> lock(mu);
      for (std::string& f : failures) errors.push_back("thread " + std::to_string(t) + " op " + f);
      for (int j = 0; j < kCounters; ++j) {
        answers[j].insert(answers[j].end(), incrs[j].begin(), incrs[j].end());
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
  for (const std::string& e : errors) ADD_FAILURE() << e;
  // Each incr was applied once and its own answer came back to it: the answers are 1..n.
  for (int j = 0; j < kCounters; ++j) {
    std::vector<uint64_t>& got = answers[j];
    std::sort(got.begin(), got.end());
    for (size_t n = 0; n < got.size(); ++n) {
      ASSERT_EQ(got[n], n + 1) << counter(j);
    }
    EXPECT_EQ(ValueOf(counter(j)), std::to_string(got.size()));
  }
  EXPECT_FALSE(client_->IsDown(0));
  EXPECT_FALSE(client_->IsDown(1));
}

INSTANTIATE_TEST_SUITE_P(Backends, ClientLoadTest, ::testing::Values("epoll", "uring"),
                         [](const ::testing::TestParamInfo<std::string>& info) {
                           return info.param;
                         });

}  // namespace
}  // namespace spillway::testing
