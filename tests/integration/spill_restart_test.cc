// The spill tier across restarts (a clean stop keeps everything, a crash loses everything), its
// disk budget, and the server without it (--disk_limit=0). Helpers and the fixture are in
// spill_support.h; SpillTest is instantiated for both backends in spill_test.cc.

#include "tests/integration/spill_support.h"

namespace spillway::testing {
namespace {

// ---- 3. Restart.

// More than fits in memory, some of it overwritten or deleted after it was spilled.
struct RestartData {
  std::vector<Written> items;
  std::vector<std::string> deleted;
};

::testing::AssertionResult WriteRestartData(Client& c, size_t bytes, std::mt19937_64& rng,
                                            RestartData* data) {
  data->items = MixedItems("r:", bytes, 100, 64 << 10, rng);
  if (auto written = WriteAll(c, data->items); !written) return written;
  // The first items went to disk long ago: overwrite some, delete others.
  std::vector<Written> rewritten;
  std::vector<size_t> at;
  for (size_t i = 0; i < 40 && i < data->items.size(); i += 2) {
    Written w = data->items[i];
    w.version = 2;
    w.size = 30 + i;
    w.flags = 77;
    rewritten.push_back(w);
    at.push_back(i);
  }
  if (auto written = WriteAll(c, rewritten); !written) return written;
  for (size_t k = 0; k < at.size(); ++k) data->items[at[k]] = rewritten[k];
  for (size_t i = 1; i < 40 && i < data->items.size(); i += 4) {
    if (c.Call("delete " + data->items[i].key + "\r\n") != "DELETED\r\n") {
      return ::testing::AssertionFailure() << "delete " << data->items[i].key << " failed";
    }
    data->deleted.push_back(data->items[i].key);
  }
  std::erase_if(data->items, [&](const Written& w) {
    return std::find(data->deleted.begin(), data->deleted.end(), w.key) != data->deleted.end();
  });
  return ::testing::AssertionSuccess();
}

// A first server writes the data (some of it spilled), then stops: SIGTERM, or kill -9 (crash).
::testing::AssertionResult WriteThenStop(const std::vector<std::string>& args, size_t bytes,
                                         std::mt19937_64& rng, RestartData* data, bool crash) {
  ServerProcess first(args);
  if (first.port() <= 0) return ::testing::AssertionFailure() << "the server did not start";
  Client c(first.port());
  if (auto written = WriteRestartData(c, bytes, rng, data); !written) return written;
  if (Stat(c, "disk_spills") <= 0) return ::testing::AssertionFailure() << DiskStats(c);
  if (crash) {
    const int status = first.Kill();
    if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL) {
      return ::testing::AssertionFailure() << "kill -9 gave wait status " << status;
    }
  } else if (const int status = first.Stop(); status != 0) {
    return ::testing::AssertionFailure() << "SIGTERM gave wait status " << status << "\n"
                                         << first.Log();
  }
  return ::testing::AssertionSuccess();
}

TEST_P(SpillTest, CleanRestartKeepsEveryItem) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::vector<std::string> args = Args(memory_mib(), {"--data_dir=" + dir.path()});
  std::mt19937_64 rng(Seed());
  RestartData data;
  ASSERT_TRUE(WriteThenStop(args, 2 * memory_mib() * kMiB, rng, &data, /*crash=*/false));
  ServerProcess second(args);
  ASSERT_GT(second.port(), 0);
  Client c(second.port());
  EXPECT_EQ(Stats(c)["warm_restart"], "1") << second.Log();
  EXPECT_NE(second.Log().find("warm restart"), std::string::npos) << second.Log();

  std::vector<const Written*> order;
  for (const Written& w : data.items) order.push_back(&w);
  std::shuffle(order.begin(), order.end(), rng);
  const int64_t hits_before = Stat(c, "disk_hits");
  EXPECT_TRUE(ReadAllBack(c, order)) << data.items.size() << " items; " << DiskStats(c);
  EXPECT_GT(Stat(c, "disk_hits"), hits_before) << "nothing was read from disk: " << DiskStats(c);
  for (const std::string& key : data.deleted) EXPECT_EQ(Get(c, key), kMiss) << key;

  // Versions written after the restart get CASes of their own: a CAS from before it must not
  // match the item that replaced it. Rewritten in the original order, so that a CAS sequence
  // that began again from the start would collide at once.
  std::vector<Written> again = data.items;
  for (Written& w : again) {
    w.version = 3;
    w.size = 16;
  }
  ASSERT_TRUE(WriteAll(c, again));
  int collisions = 0;
  for (size_t i = 0; i < again.size(); ++i) {
    if (again[i].cas == data.items[i].cas && ++collisions <= 5) {
      ADD_FAILURE() << again[i].key << " got CAS " << again[i].cas
                    << " again after the restart: a client's cas from before would succeed";
    }
  }
  EXPECT_EQ(collisions, 0);
  for (size_t i = 0; i < 5 && i < again.size(); ++i) {
    EXPECT_EQ(c.Call(Cas(again[i].key, "z", data.items[i].cas)), "EXISTS\r\n") << again[i].key;
  }
}

TEST_P(SpillTest, RestartAfterACrashStartsCold) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::vector<std::string> args = Args(memory_mib(), {"--data_dir=" + dir.path()});
  std::mt19937_64 rng(Seed());
  RestartData data;
  ASSERT_TRUE(WriteThenStop(args, 2 * memory_mib() * kMiB, rng, &data, /*crash=*/true));
  ServerProcess second(args);
  ASSERT_GT(second.port(), 0);
  Client c(second.port());
  EXPECT_EQ(Stats(c)["warm_restart"], "0") << second.Log();
  EXPECT_NE(second.Log().find("cold start"), std::string::npos) << second.Log();
  LinePipeline p(&c);
  for (const Written& w : data.items) p.Add("mg " + w.key + " v\r\n");
  p.Flush();
  ASSERT_EQ(p.answers().size(), data.items.size());
  for (size_t i = 0; i < data.items.size(); ++i) {
    EXPECT_EQ(p.answers()[i], "EN\r\n") << data.items[i].key;
    if (p.answers()[i] != "EN\r\n") break;
  }
  // And it works as usual from there.
  ASSERT_EQ(c.Call(Set("after", "crash")), "STORED\r\n");
  ASSERT_TRUE(Churn(c));
  EXPECT_EQ(Get(c, "after"), Hit("after", "crash"));
}

// ---- 4. The disk budget.

TEST_P(SpillTest, DiskStaysWithinItsBudgetAndKeepsTheNewest) {
  constexpr size_t kMemoryMib = 16;
  constexpr size_t kDiskMib = 32;
  // Dashes and a suffix, as an operator may write them.
  ServerProcess server(Args(kMemoryMib, {"--disk-limit=" + std::to_string(kDiskMib) + "m"}));
  ASSERT_GT(server.port(), 0);
  Client c(server.port());
  EXPECT_EQ(Stat(c, "disk_limit_bytes"), static_cast<int64_t>(kDiskMib * kMiB));
  std::mt19937_64 rng(Seed());
  std::vector<Written> items = MixedItems("d:", 3 * kDiskMib * kMiB, 1 << 10, 4 << 10, rng);
  // RocksDB's slack over the budget: a memtable, an L0 file, manifests.
  const uint64_t directory_limit = kDiskMib * kMiB * 5 / 4 + 24 * kMiB;
  DirectoryUse most;  // the directory at its largest, looked at every 8 MiB written
  auto measure = [&] {
    DirectoryUse now = MeasureDirectory(server.data_dir());
    if (now.bytes > most.bytes) most = std::move(now);
  };
  // Every answer an HD: no client ever sees an error for the disk filling up.
  ASSERT_TRUE(WriteAll(c, items, measure)) << DiskStats(c);
  measure();
  ASSERT_TRUE(Fill(c, kMemoryMib * kMiB * 3 / 2));
  measure();
  const int64_t disk_bytes = Stat(c, "disk_bytes");
  EXPECT_GE(disk_bytes, 0) << DiskStats(c);
  EXPECT_LE(static_cast<uint64_t>(disk_bytes), kDiskMib * kMiB * 5 / 4 + 16 * kMiB) << DiskStats(c);

  // The newest twentieth, pushed to disk by the filler, reads back exactly. (Not a tenth: 9.6
  // MiB, then 24 MiB of filler, then the spills that reading it back causes, come close to what
  // FIFO keeps of 32 MiB, which drops a whole file at a time.)
  std::vector<const Written*> newest;
  for (size_t i = items.size() - items.size() / 20; i < items.size(); ++i) {
    newest.push_back(&items[i]);
  }
  const int64_t hits_before = Stat(c, "disk_hits");
  EXPECT_TRUE(ReadAllBack(c, newest)) << DiskStats(c);
  EXPECT_GT(Stat(c, "disk_hits"), hits_before) << DiskStats(c);
  measure();
  EXPECT_LE(most.bytes, directory_limit) << "the data directory grew to " << most.bytes
                                         << " bytes (" << most.largest << "); " << DiskStats(c);
}

// ---- 5. Without the spill tier.

TEST_P(SpillTest, DiskLimitZeroLosesWhatMemoryEvicts) {
  auto server = Start({"--disk_limit=0"});
  Client c(server->port());
  constexpr int kKeys = 20;
  auto key = [](int i) { return "gone:" + std::to_string(i); };
  for (int i = 0; i < kKeys; ++i) {
    ASSERT_EQ(c.Call(Set(key(i), Value(key(i), 1, 500))), "STORED\r\n");
  }
  ASSERT_TRUE(Churn(c));
  EXPECT_GT(Stat(c, "evictions"), 0);
  for (int i = 0; i < kKeys; ++i) EXPECT_EQ(Get(c, key(i)), kMiss) << key(i);
  const std::optional<int64_t> spills = StatNumber(Stats(c), "disk_spills");
  EXPECT_TRUE(!spills || *spills == 0) << DiskStats(c);
}

}  // namespace
}  // namespace spillway::testing
