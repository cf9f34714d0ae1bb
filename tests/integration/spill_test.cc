// The spill tier (issue 6) through the real server, on both I/O backends with one shard and two:
// items evicted from memory are found on disk with their value, client flags and CAS; no stale
// version ever comes back (overwrite, delete, a write racing a disk read, flush_all, expiry);
// a clean restart keeps everything and a crash loses everything; the disk stays within its
// budget; --disk_limit=0 turns it all off.
//
// How a test knows an item went to disk: it writes the item, then filler (Fill) several times the
// memory budget, and checks the server's disk counters (disk_spills, and disk_hits growing as it
// reads). Nothing sleeps to synchronise: where time must pass (expiry, a delayed flush_all) the
// test polls the server's clock (`stats` time).

#include "tests/integration/spill_support.h"

namespace spillway::testing {
namespace {

// ---- 1. A working set eight times the memory.

TEST_P(SpillTest, EightTimesTheMemoryReadsBackWithValueFlagsAndCas) {
  constexpr size_t kMemoryMib = 16;
  ServerProcess server(Args(kMemoryMib));
  ASSERT_GT(server.port(), 0);
  Client c(server.port());
  std::mt19937_64 rng(Seed());
  std::vector<Written> items =
      MixedItems("k:", 8 * kMemoryMib * kMiB / kShrink, 10, 500 << 10, rng);
  ASSERT_TRUE(WriteAll(c, items));
  EXPECT_GT(Stat(c, "disk_spills"), 0) << DiskStats(c);
  EXPECT_GT(Stat(c, "disk_items"), 0) << DiskStats(c);

  // In an order unrelated to the writes, so promotions and new spills interleave.
  std::vector<const Written*> order;
  for (const Written& w : items) order.push_back(&w);
  std::shuffle(order.begin(), order.end(), rng);
  const int64_t hits_before = Stat(c, "disk_hits");
  EXPECT_TRUE(ReadAllBack(c, order)) << items.size() << " items; " << DiskStats(c);
  EXPECT_GT(Stat(c, "disk_hits"), hits_before) << DiskStats(c);
  EXPECT_GT(Stat(c, "disk_promotions"), 0) << DiskStats(c);
}

// ---- 2. Stale values: no older version, deleted or flushed item comes back from disk.

TEST_P(SpillTest, OverwriteAfterSpillServesTheNewValue) {
  auto server = Start();
  Client c(server->port());
  constexpr int kKeys = 20;
  auto key = [](int i) { return "ow:" + std::to_string(i); };
  auto control = [](int i) { return "ctl:" + std::to_string(i); };
  for (int i = 0; i < kKeys; ++i) {
    ASSERT_EQ(c.Call(Set(key(i), Value(key(i), 1, 1000 + 97 * i), 1)), "STORED\r\n");
    ASSERT_EQ(c.Call(Set(control(i), Value(control(i), 1, 300))), "STORED\r\n");
  }
  ASSERT_TRUE(Churn(c));
  ASSERT_GT(Stat(c, "disk_spills"), 0) << DiskStats(c);

  // Shorter than before, and with other flags: nothing of the old version may show through.
  for (int i = 0; i < kKeys; ++i) {
    ASSERT_EQ(c.Call(Set(key(i), Value(key(i), 2, 10 + i), 2)), "STORED\r\n");
  }
  for (int i = 0; i < kKeys; ++i) {
    EXPECT_EQ(Get(c, key(i)), Hit(key(i), Value(key(i), 2, 10 + i), 2)) << DiskStats(c);
  }
  // Now both versions have been on disk: the newer one wins.
  ASSERT_TRUE(Churn(c));
  const int64_t hits_before = Stat(c, "disk_hits");
  for (int i = 0; i < kKeys; ++i) {
    EXPECT_EQ(Get(c, key(i)), Hit(key(i), Value(key(i), 2, 10 + i), 2)) << DiskStats(c);
  }
  EXPECT_GT(Stat(c, "disk_hits"), hits_before) << "the new versions were not on disk";
  for (int i = 0; i < kKeys; ++i) {
    EXPECT_EQ(Get(c, control(i)), Hit(control(i), Value(control(i), 1, 300)));
  }
}

TEST_P(SpillTest, DeleteAfterSpillMissesForGood) {
  auto server = Start();
  Client c(server->port());
  constexpr int kKeys = 20;
  auto key = [](int i) { return "del:" + std::to_string(i); };
  auto control = [](int i) { return "ctl:" + std::to_string(i); };
  for (int i = 0; i < kKeys; ++i) {
    ASSERT_EQ(c.Call(Set(key(i), Value(key(i), 1, 500))), "STORED\r\n");
    ASSERT_EQ(c.Call(Set(control(i), Value(control(i), 1, 500))), "STORED\r\n");
  }
  ASSERT_TRUE(Churn(c));
  ASSERT_GT(Stat(c, "disk_spills"), 0) << DiskStats(c);

  // The item still exists as far as clients can tell, so delete finds it.
  for (int i = 0; i < kKeys; ++i) EXPECT_EQ(c.Call("delete " + key(i) + "\r\n"), "DELETED\r\n");
  for (int i = 0; i < kKeys; ++i) EXPECT_EQ(Get(c, key(i)), kMiss) << key(i);
  // add succeeds on a deleted key: the copy on disk must not count as present.
  for (int i = 0; i < kKeys; i += 2) {
    EXPECT_EQ(c.Call(Store("add", key(i), Value(key(i), 2, 40))), "STORED\r\n");
  }
  ASSERT_TRUE(Churn(c));
  for (int i = 0; i < kKeys; ++i) {
    EXPECT_EQ(Get(c, key(i)), i % 2 == 0 ? Hit(key(i), Value(key(i), 2, 40)) : kMiss) << key(i);
  }
  EXPECT_EQ(c.Call("delete " + key(1) + "\r\n"), "NOT_FOUND\r\n");
  const int64_t hits_before = Stat(c, "disk_hits");
  for (int i = 0; i < kKeys; ++i) {
    EXPECT_EQ(Get(c, control(i)), Hit(control(i), Value(control(i), 1, 500)));
  }
  EXPECT_GT(Stat(c, "disk_hits"), hits_before) << DiskStats(c);
}

// One connection, one send: the get before the set must see the old value (from disk), the get
// after it the new one, however long the disk read takes.
TEST_P(SpillTest, SetPipelinedBehindADiskReadIsOrdered) {
  auto server = Start();
  Client c(server->port());
  constexpr int kKeys = 20;
  auto key = [](int i) { return "pl:" + std::to_string(i); };
  auto old_value = [&](int i) { return Value(key(i), 1, 2000 + i); };
  auto new_value = [&](int i) { return Value(key(i), 2, 2 + i); };
  for (int i = 0; i < kKeys; ++i) ASSERT_EQ(c.Call(Set(key(i), old_value(i))), "STORED\r\n");
  ASSERT_TRUE(Churn(c));
  const int64_t hits_before = Stat(c, "disk_hits");

  // Half one key a send; the other half all in one send.
  auto request = [&](int i) {
    return "get " + key(i) + "\r\n" + Set(key(i), new_value(i)) + "get " + key(i) + "\r\n";
  };
  auto answers = [&] {
    std::string got = c.ReadUntil("END\r\n");
    got += c.ReadUntil("\r\n");
    return got + c.ReadUntil("END\r\n");
  };
  auto want = [&](int i) {
    return Hit(key(i), old_value(i)) + "STORED\r\n" + Hit(key(i), new_value(i));
  };
  for (int i = 0; i < kKeys / 2; ++i) {
    ASSERT_TRUE(c.Send(request(i)));
    EXPECT_EQ(answers(), want(i)) << key(i);
  }
  std::string all;
  for (int i = kKeys / 2; i < kKeys; ++i) all += request(i);
  ASSERT_TRUE(c.Send(all));
  for (int i = kKeys / 2; i < kKeys; ++i) EXPECT_EQ(answers(), want(i)) << key(i);
  EXPECT_GT(Stat(c, "disk_hits"), hits_before) << "the old values were not on disk";

  // A late promotion of the old value must not undo the set.
  ASSERT_TRUE(Churn(c));
  for (int i = 0; i < kKeys; ++i) EXPECT_EQ(Get(c, key(i)), Hit(key(i), new_value(i)));
}

// Two connections: A's get of a spilled key and B's set of it at once. A sees either version;
// everyone after sees only the new one.
TEST_P(SpillTest, SetRacingADiskReadFromAnotherConnectionWins) {
  auto server = Start();
  Client a(server->port()), b(server->port());
  constexpr int kKeys = 40;
  auto key = [](int i) { return "race:" + std::to_string(i); };
  auto old_value = [&](int i) { return Value(key(i), 1, 1500 + i); };
  auto new_value = [&](int i) { return Value(key(i), 2, 20 + i); };
  for (int i = 0; i < kKeys; ++i) ASSERT_EQ(a.Call(Set(key(i), old_value(i))), "STORED\r\n");
  ASSERT_TRUE(Churn(a));
  int saw_old = 0;
  for (int i = 0; i < kKeys; ++i) {
    ASSERT_TRUE(a.Send("get " + key(i) + "\r\n"));
    ASSERT_TRUE(b.Send(Set(key(i), new_value(i))));
    const std::string got = a.ReadUntil("END\r\n");
    if (got == Hit(key(i), old_value(i))) {
      ++saw_old;
    } else {
      EXPECT_EQ(got, Hit(key(i), new_value(i))) << key(i);
    }
    EXPECT_EQ(b.ReadUntil("\r\n"), "STORED\r\n");
    Client fresh(server->port());
    for (Client* c : {&a, &b, &fresh}) EXPECT_EQ(Get(*c, key(i)), Hit(key(i), new_value(i)));
  }
  std::printf("%d of %d racing gets saw the old value\n", saw_old, kKeys);
  ASSERT_TRUE(Churn(a));
  for (int i = 0; i < kKeys; ++i) EXPECT_EQ(Get(b, key(i)), Hit(key(i), new_value(i)));
}

TEST_P(SpillTest, FlushAllReachesSpilledItems) {
  auto server = Start();
  Client c(server->port());
  constexpr int kKeys = 20;
  auto before = [](int i) { return "before:" + std::to_string(i); };
  auto after = [](int i) { return "after:" + std::to_string(i); };
  for (int i = 0; i < kKeys; ++i) {
    ASSERT_EQ(c.Call(Set(before(i), Value(before(i), 1, 800))), "STORED\r\n");
  }
  ASSERT_TRUE(Churn(c));
  ASSERT_GT(Stat(c, "disk_spills"), 0) << DiskStats(c);
  ASSERT_EQ(c.Call("flush_all\r\n"), "OK\r\n");
  for (int i = 0; i < kKeys; ++i) EXPECT_EQ(Get(c, before(i)), kMiss) << before(i);

  // Written after the flush, then spilled: served again.
  for (int i = 0; i < kKeys; ++i) {
    ASSERT_EQ(c.Call(Set(after(i), Value(after(i), 1, 800), 9)), "STORED\r\n");
  }
  ASSERT_TRUE(Churn(c));
  const int64_t hits_before = Stat(c, "disk_hits");
  for (int i = 0; i < kKeys; ++i) {
    EXPECT_EQ(Get(c, after(i)), Hit(after(i), Value(after(i), 1, 800), 9)) << DiskStats(c);
  }
  EXPECT_GT(Stat(c, "disk_hits"), hits_before) << DiskStats(c);
  for (int i = 0; i < kKeys; ++i) EXPECT_EQ(Get(c, before(i)), kMiss) << before(i);
}

TEST_P(SpillTest, DelayedFlushAllReachesSpilledItemsWhenDue) {
  auto server = Start();
  Client c(server->port());
  constexpr int kKeys = 20;
  constexpr int kDelay = 1;
  auto key = [](int i) { return "dfl:" + std::to_string(i); };
  for (int i = 0; i < kKeys; ++i)
    ASSERT_EQ(c.Call(Set(key(i), Value(key(i), 1, 700))), "STORED\r\n");
  ASSERT_TRUE(Churn(c));
  ASSERT_GT(Stat(c, "disk_spills"), 0) << DiskStats(c);

  const int64_t before_flush = Stat(c, "time");
  ASSERT_EQ(c.Call("flush_all " + std::to_string(kDelay) + "\r\n"), "OK\r\n");
  const int64_t after_flush = Stat(c, "time");
  // Not due yet: the first few still read (when the clock has not got there meanwhile). The rest
  // stay on disk until the flush is due.
  constexpr int kEarly = 3;
  std::vector<std::string> early;
  for (int i = 0; i < kEarly; ++i) early.push_back(Get(c, key(i)));
  if (Stat(c, "time") < before_flush + kDelay) {
    for (int i = 0; i < kEarly; ++i) EXPECT_EQ(early[i], Hit(key(i), Value(key(i), 1, 700)));
  }

  // Due at the server's clock at the flush plus the delay, which is at most this.
  ASSERT_TRUE(WaitForServerTime(c, after_flush + kDelay));
  for (int i = 0; i < kKeys; ++i) EXPECT_EQ(Get(c, key(i)), kMiss) << key(i) << DiskStats(c);
  // Written after the flush took effect: served, and from disk too.
  ASSERT_EQ(c.Call(Set("late", "v")), "STORED\r\n");
  ASSERT_TRUE(Churn(c));
  EXPECT_EQ(Get(c, "late"), Hit("late", "v"));
  for (int i = 0; i < kKeys; ++i) EXPECT_EQ(Get(c, key(i)), kMiss) << key(i);
}

TEST_P(SpillTest, ExpiredItemsOnDiskAreNeverServed) {
  auto server = Start();
  Client c(server->port());
  constexpr int kKeys = 20;
  // The items must be pushed out while still live: they live for twice what a churn took here
  // (at least 2 s, as the clock has whole seconds), measured on a first churn.
  const Clock::time_point start = Clock::now();
  ASSERT_TRUE(Churn(c));
  const int64_t lifetime = std::max<int64_t>(2, 2 * MillisSince(start) / 1000 + 1);
  auto key = [](int i) { return "exp:" + std::to_string(i); };
  auto control = [](int i) { return "ctl:" + std::to_string(i); };
  // An absolute exptime: the deadline is known exactly, whatever the server's clock read.
  const int64_t deadline = Stat(c, "time") + lifetime;
  ASSERT_GT(deadline, lifetime);
  for (int i = 0; i < kKeys; ++i) {
    ASSERT_EQ(c.Call(Set(key(i), Value(key(i), 1, 600), 0, deadline)), "STORED\r\n");
    ASSERT_EQ(c.Call(Set(control(i), Value(control(i), 1, 600))), "STORED\r\n");
  }
  ASSERT_TRUE(Churn(c));
  ASSERT_GT(Stat(c, "disk_spills"), 0) << DiskStats(c);
  ASSERT_LT(Stat(c, "time"), deadline)
      << "the filler took too long: the items may have expired before they were spilled";

  // Expired once the clock reads the deadline (memcached's rule, and the memory tier's).
  ASSERT_TRUE(WaitForServerTime(c, deadline));
  for (int i = 0; i < kKeys; ++i) {
    EXPECT_EQ(Get(c, key(i)), kMiss) << key(i);
    EXPECT_EQ(c.Call("mg " + key(i) + " v\r\n"), "EN\r\n") << key(i);
  }
  const int64_t hits_before = Stat(c, "disk_hits");
  for (int i = 0; i < kKeys; ++i) {
    EXPECT_EQ(Get(c, control(i)), Hit(control(i), Value(control(i), 1, 600)));
  }
  EXPECT_GT(Stat(c, "disk_hits"), hits_before) << "the items were not on disk: " << DiskStats(c);
}

TEST_P(SpillTest, IncrAndDecrOfSpilledCounters) {
  auto server = Start();
  Client c(server->port());
  constexpr int kKeys = 10;
  auto up = [](int i) { return "up:" + std::to_string(i); };
  auto down = [](int i) { return "down:" + std::to_string(i); };
  auto wide = [](int i) { return "wide:" + std::to_string(i); };
  for (int i = 0; i < kKeys; ++i) {
    ASSERT_EQ(c.Call(Set(up(i), "10")), "STORED\r\n");
    ASSERT_EQ(c.Call(Set(down(i), "20")), "STORED\r\n");
    ASSERT_EQ(c.Call(Set(wide(i), "99", 5)), "STORED\r\n");  // grows a digit
  }
  ASSERT_TRUE(Churn(c));
  ASSERT_GT(Stat(c, "disk_spills"), 0) << DiskStats(c);
  const int64_t hits_before = Stat(c, "disk_hits");
  for (int i = 0; i < kKeys; ++i) {
    EXPECT_EQ(c.Call("incr " + up(i) + " 5\r\n"), "15\r\n") << DiskStats(c);
    EXPECT_EQ(c.Call("decr " + down(i) + " 5\r\n"), "15\r\n");
    EXPECT_EQ(c.Call("incr " + wide(i) + " 1\r\n"), "100\r\n");
  }
  EXPECT_GT(Stat(c, "disk_hits"), hits_before) << "the counters were not on disk";
  for (int i = 0; i < kKeys; ++i) {
    EXPECT_EQ(Get(c, up(i)), Hit(up(i), "15"));
    EXPECT_EQ(Get(c, down(i)), Hit(down(i), "15"));
    EXPECT_EQ(Get(c, wide(i)), Hit(wide(i), "100", 5));
  }
  // And the results themselves survive a spill.
  ASSERT_TRUE(Churn(c));
  for (int i = 0; i < kKeys; ++i) {
    EXPECT_EQ(Get(c, up(i)), Hit(up(i), "15"));
    EXPECT_EQ(Get(c, wide(i)), Hit(wide(i), "100", 5));
  }
}

// A CAS survives spilling and promotion: gets then cas works on a spilled item, a stale CAS
// fails, and so does one that was right before the item changed.
TEST_P(SpillTest, CasSurvivesSpillAndPromotion) {
  auto server = Start();
  Client c(server->port());
  constexpr int kKeys = 10;
  auto key = [](char kind, int i) { return std::string(1, kind) + ":" + std::to_string(i); };
  std::map<std::string, uint64_t> cas;
  for (const char kind : {'a', 'b', 'x'}) {
    for (int i = 0; i < kKeys; ++i) {
      const std::string k = key(kind, i);
      const std::optional<uint64_t> learnt = CasOf(c.Call(MetaSet(k, Value(k, 1, 900), 3)));
      ASSERT_TRUE(learnt.has_value());
      cas[k] = *learnt;
    }
  }
  ASSERT_TRUE(Churn(c));
  ASSERT_GT(Stat(c, "disk_spills"), 0) << DiskStats(c);

  const int64_t hits_before = Stat(c, "disk_hits");
  for (int i = 0; i < kKeys; ++i) {
    // gets, then cas with what it said.
    const std::string a = key('a', i);
    EXPECT_EQ(Gets(c, a), Hit(a, Value(a, 1, 900), 3, cas[a])) << DiskStats(c);
    EXPECT_EQ(c.Call(Cas(a, Value(a, 2, 50), cas[a], 4)), "STORED\r\n");
  }
  EXPECT_GT(Stat(c, "disk_hits"), hits_before) << "the items were not on disk";
  for (int i = 0; i < kKeys; ++i) {
    const std::string a = key('a', i);
    EXPECT_EQ(Get(c, a), Hit(a, Value(a, 2, 50), 4));
    EXPECT_EQ(c.Call(Cas(a, "z", cas[a])), "EXISTS\r\n");
    // cas straight onto an item on disk, with the CAS learnt before it was spilled.
    const std::string b = key('b', i);
    EXPECT_EQ(c.Call(Cas(b, "new", cas[b], 6)), "STORED\r\n");
    EXPECT_EQ(Get(c, b), Hit(b, "new", 6));
    // A wrong CAS changes nothing.
    const std::string x = key('x', i);
    EXPECT_EQ(c.Call(Cas(x, "bad", cas[x] + 1)), "EXISTS\r\n");
    EXPECT_EQ(Gets(c, x), Hit(x, Value(x, 1, 900), 3, cas[x]));
  }
  // Promoted, then spilled again: the same CAS still.
  ASSERT_TRUE(Churn(c));
  for (int i = 0; i < kKeys; ++i) {
    const std::string x = key('x', i);
    EXPECT_EQ(Gets(c, x), Hit(x, Value(x, 1, 900), 3, cas[x]));
    EXPECT_EQ(c.Call(Cas(x, "ok", cas[x])), "STORED\r\n");
  }
}

INSTANTIATE_TEST_SUITE_P(Backends, SpillTest,
                         ::testing::Values(Setup{"epoll", 1}, Setup{"epoll", 2}, Setup{"uring", 1},
                                           Setup{"uring", 2}),
                         Name);

}  // namespace
}  // namespace spillway::testing
