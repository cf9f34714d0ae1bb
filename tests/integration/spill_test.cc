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

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <vector>

#include "tests/integration/limits_support.h"
#include "tests/support/sanitizers.h"

namespace spillway::testing {
namespace {

constexpr size_t kMiB = size_t{1} << 20;

// Under ASan, whose server is several times slower, the largest test writes half as much (four
// times the memory instead of eight). The others need their sizes to mean anything, and are
// small.
#ifdef SPILLWAY_ASAN
constexpr size_t kShrink = 2;
#else
constexpr size_t kShrink = 1;
#endif

// ---- Values: which key and version made them can be read back from the bytes themselves.

uint64_t SplitMix(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15u);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
  return z ^ (z >> 31);
}

// `size` printable bytes that only (key, version) produce, so that a stale, foreign or torn value
// never passes for the right one. They start with "key#version:" when there is room.
std::string Value(std::string_view key, uint64_t version, size_t size) {
  std::string v = std::string(key) + "#" + std::to_string(version) + ":";
  v.reserve(size + 8);
  uint64_t state = std::hash<std::string_view>()(key) ^ (version * 0x2545f4914f6cdd1du);
  while (v.size() < size) {
    uint64_t bits = SplitMix(state);
    for (int i = 0; i < 8; ++i, bits >>= 8) v.push_back(static_cast<char>('0' + (bits & 63)));
  }
  v.resize(size);
  return v;
}

// A storage command: set, add...
std::string Store(std::string_view command, std::string_view key, std::string_view value,
                  uint32_t flags = 0, int64_t exptime = 0) {
  return std::string(command) + " " + std::string(key) + " " + std::to_string(flags) + " " +
         std::to_string(exptime) + " " + std::to_string(value.size()) + "\r\n" +
         std::string(value) + "\r\n";
}
std::string Set(std::string_view key, std::string_view value, uint32_t flags = 0,
                int64_t exptime = 0) {
  return Store("set", key, value, flags, exptime);
}

std::string Cas(std::string_view key, std::string_view value, uint64_t cas, uint32_t flags = 0) {
  return "cas " + std::string(key) + " " + std::to_string(flags) + " 0 " +
         std::to_string(value.size()) + " " + std::to_string(cas) + "\r\n" + std::string(value) +
         "\r\n";
}

// ms answering "HD c<cas>": the new CAS, learnt without reading the item (a read would mark it
// fetched, and S3-FIFO keeps fetched items in memory while unread ones churn).
std::string MetaSet(std::string_view key, std::string_view value, uint32_t flags) {
  return "ms " + std::string(key) + " " + std::to_string(value.size()) + " c F" +
         std::to_string(flags) + "\r\n" + std::string(value) + "\r\n";
}

std::optional<uint64_t> CasOf(std::string_view meta_answer) {
  if (!meta_answer.starts_with("HD c") || !meta_answer.ends_with("\r\n")) return std::nullopt;
  return std::strtoull(std::string(meta_answer.substr(4)).c_str(), nullptr, 10);
}

// What get (or, given a CAS, gets) answers for one item.
std::string Hit(std::string_view key, std::string_view value, uint32_t flags = 0,
                std::optional<uint64_t> cas = std::nullopt) {
  return "VALUE " + std::string(key) + " " + std::to_string(flags) + " " +
         std::to_string(value.size()) + (cas ? " " + std::to_string(*cas) : "") + "\r\n" +
         std::string(value) + "\r\nEND\r\n";
}
constexpr std::string_view kMiss = "END\r\n";

std::string Get(Client& c, std::string_view key) {
  return c.Call("get " + std::string(key) + "\r\n", "END\r\n");
}
std::string Gets(Client& c, std::string_view key) {
  return c.Call("gets " + std::string(key) + "\r\n", "END\r\n");
}

// ---- Pipelining.

// Requests answered by one line each, sent in batches of about 1 MiB whose answers are read
// before the next batch goes: one round trip per batch, and the server's output never piles up.
// After an answer goes missing (timeout or EOF) nothing more is sent.
class LinePipeline {
 public:
  explicit LinePipeline(Client* c) : c_(c) {}
  // Queues `request`, which `lines` answer lines will answer.
  void Add(std::string_view request, size_t lines = 1) {
    out_ += request;
    queued_ += lines;
    if (queued_ >= 512 || out_.size() >= kMiB) Flush();
  }
  void Flush() {
    if (queued_ > 0 && ok_ && !c_->Send(out_)) ok_ = false;
    for (; queued_ > 0 && ok_; --queued_) {
      answers_.push_back(c_->ReadUntil("\r\n"));
      if (!answers_.back().ends_with("\r\n")) ok_ = false;
    }
    out_.clear();
    queued_ = 0;
  }
  const std::vector<std::string>& answers() const { return answers_; }

 private:
  Client* c_;
  std::string out_;
  size_t queued_ = 0;
  bool ok_ = true;
  std::vector<std::string> answers_;
};

// An item a test wrote, and what reading it must give. The value is made again from
// (key, version, size) rather than kept.
struct Written {
  std::string key;
  uint64_t version = 0;
  size_t size = 0;
  uint32_t flags = 0;
  uint64_t cas = 0;
  std::string value() const { return Value(key, version, size); }
};

// Writes every item with ms (pipelined) and records its CAS. Fails on any answer but "HD c<cas>".
// `progress`, when given, is called whenever another 8 MiB have been written and answered.
::testing::AssertionResult WriteAll(Client& c, std::vector<Written>& items,
                                    const std::function<void()>& progress = nullptr) {
  LinePipeline p(&c);
  size_t sent = 0;
  for (const Written& w : items) {
    p.Add(MetaSet(w.key, w.value(), w.flags));
    sent += w.size;
    if (progress && sent >= 8 * kMiB) {
      p.Flush();
      progress();
      sent = 0;
    }
  }
  p.Flush();
  if (p.answers().size() != items.size()) {
    return ::testing::AssertionFailure()
           << "only " << p.answers().size() << " of " << items.size() << " writes were answered";
  }
  for (size_t i = 0; i < items.size(); ++i) {
    const std::optional<uint64_t> cas = CasOf(p.answers()[i]);
    if (!cas) {
      return ::testing::AssertionFailure()
             << "ms " << items[i].key << " answered " << Printable(p.answers()[i]);
    }
    items[i].cas = *cas;
  }
  return ::testing::AssertionSuccess();
}

// Reads every item back with multi-key gets (a few keys a line, about 1 MiB of answers a round
// trip) and compares value, flags and CAS exactly, and the order of the answers. Stops at the
// first round trip with a difference.
::testing::AssertionResult ReadAllBack(Client& c, const std::vector<const Written*>& items) {
  constexpr size_t kKeysPerLine = 8;
  size_t next = 0;
  while (next < items.size()) {
    std::string request;
    std::vector<std::string> want;  // one answer per line
    size_t bytes = 0;
    while (next < items.size() && bytes < kMiB) {
      std::string line = "gets";
      std::string answer;
      for (size_t k = 0; k < kKeysPerLine && next < items.size(); ++k, ++next) {
        const Written& w = *items[next];
        const std::string value = w.value();
        line += " " + w.key;
        answer += "VALUE " + w.key + " " + std::to_string(w.flags) + " " +
                  std::to_string(value.size()) + " " + std::to_string(w.cas) + "\r\n" + value +
                  "\r\n";
        bytes += value.size();
      }
      request += line + "\r\n";
      want.push_back(answer + "END\r\n");
    }
    if (!c.Send(request)) return ::testing::AssertionFailure() << "send failed";
    std::string differences;
    for (const std::string& w : want) {
      // Read by structure, not by the expected length: a miss must not cost a timeout.
      std::string got;
      for (;;) {
        const std::string header = c.ReadUntil("\r\n");
        got += header;
        if (header == "END\r\n" || !header.starts_with("VALUE ")) break;
        std::istringstream fields(header);
        std::string word, key;
        uint32_t flags = 0;
        size_t length = 0;
        if (!(fields >> word >> key >> flags >> length)) break;
        got += c.Read(length + 2);
      }
      if (got != w && differences.empty()) differences = FirstDifference(got, w);
      if (!got.ends_with("END\r\n")) {
        return ::testing::AssertionFailure() << "the answer broke off: " << Printable(got);
      }
    }
    if (!differences.empty()) return ::testing::AssertionFailure() << differences;
  }
  return ::testing::AssertionSuccess();
}

// Item sizes from `min` to `max` bytes, log-uniform (many small, some large), `total` bytes in
// all, the extremes first so that every run has them.
std::vector<Written> MixedItems(std::string_view prefix, size_t total, size_t min, size_t max,
                                std::mt19937_64& rng) {
  std::vector<Written> items;
  std::uniform_real_distribution<double> log_size(std::log(min), std::log(max));
  std::uniform_int_distribution<uint32_t> flags;
  size_t bytes = 0;
  while (bytes < total) {
    Written w;
    w.key = std::string(prefix) + std::to_string(items.size());
    w.size = items.size() == 0   ? min
             : items.size() == 1 ? max
                                 : static_cast<size_t>(std::exp(log_size(rng)));
    w.size = std::clamp(w.size, min, max);
    w.flags = items.size() % 5 == 0 ? 0 : flags(rng);
    bytes += w.size;
    items.push_back(std::move(w));
  }
  return items;
}

uint64_t Seed() {
  uint64_t seed = std::random_device()();
  if (const char* env = std::getenv("SPILLWAY_SPILL_SEED")) seed = std::strtoull(env, nullptr, 10);
  std::printf("spill seed: %llu (rerun with SPILLWAY_SPILL_SEED=%llu)\n",
              static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seed));
  return seed;
}

// What a directory holds on disk: its regular files' sizes, walked while the server may be
// deleting some, and (for a failure message) which files were the largest.
struct DirectoryUse {
  uint64_t bytes = 0;
  std::string largest;
};

DirectoryUse MeasureDirectory(const std::string& dir) {
  std::vector<std::pair<uintmax_t, std::string>> files;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    std::error_code gone;
    if (!it->is_regular_file(gone)) continue;
    const uintmax_t size = it->file_size(gone);
    if (!gone) files.emplace_back(size, it->path().lexically_relative(dir).string());
  }
  DirectoryUse use;
  for (const auto& [size, name] : files) use.bytes += size;
  std::sort(files.rbegin(), files.rend());
  use.largest = std::to_string(files.size()) + " files, the largest:";
  for (size_t i = 0; i < files.size() && i < 12; ++i) {
    use.largest += " " + files[i].second + "=" + std::to_string(files[i].first);
  }
  return use;
}

int64_t Stat(Client& c, const std::string& name) { return StatNumber(Stats(c), name).value_or(-1); }

// Every stat of the spill tier, for failure messages.
std::string DiskStats(Client& c) {
  std::string out;
  for (const auto& [name, value] : Stats(c)) {
    if (name.starts_with("disk_") || name == "warm_restart" || name == "evictions") {
      out += name + "=" + value + " ";
    }
  }
  return out;
}

class SpillTest : public ::testing::TestWithParam<Setup> {
 protected:
  void SetUp() override {
    if (GetParam().io == "uring" && !UringUsable()) {
      GTEST_SKIP() << "io_uring is not usable on this kernel (spillway --io=uring says why)";
    }
  }

  // 8 MiB a shard: the least that 1 MiB items (the default largest) allow.
  size_t memory_mib() const { return 8 * static_cast<size_t>(GetParam().threads); }

  std::vector<std::string> Args(size_t memory_mib, std::vector<std::string> extra = {}) const {
    std::vector<std::string> args = {"--io=" + GetParam().io,
                                     "--threads=" + std::to_string(GetParam().threads),
                                     "--memory_limit=" + std::to_string(memory_mib)};
    args.insert(args.end(), extra.begin(), extra.end());
    return args;
  }
  std::unique_ptr<ServerProcess> Start(std::vector<std::string> extra = {}) const {
    auto server = std::make_unique<ServerProcess>(Args(memory_mib(), std::move(extra)));
    EXPECT_GT(server->port(), 0) << "the server did not start";
    return server;
  }

  // Writes `bytes` of 64 KiB items under keys no test reads, reading each back once (mg without
  // flags: an access, no value sent). Read items move to S3-FIFO's main queue when the small
  // queue evicts them, so the filler fills both queues and pushes out whatever was written
  // before it, read or not; unread filler alone would churn through the small queue only and
  // leave main, where promoted and overwritten items may go, alone.
  ::testing::AssertionResult Fill(Client& c, size_t bytes) {
    const std::string value(64 << 10, 'f');
    LinePipeline p(&c);
    size_t items = 0;
    for (size_t done = 0; done < bytes; done += value.size(), ++items) {
      const std::string key = "fill:" + std::to_string(fills_++);
      p.Add(Set(key, value) + "mg " + key + "\r\n", 2);
    }
    p.Flush();
    for (size_t i = 0; i < p.answers().size(); ++i) {
      const std::string_view want = i % 2 == 0 ? "STORED\r\n" : "HD\r\n";
      if (p.answers()[i] != want) {
        return ::testing::AssertionFailure()
               << "filler answer " << i << ": " << Printable(p.answers()[i]);
      }
    }
    if (p.answers().size() != 2 * items) {
      return ::testing::AssertionFailure() << "the filler's answers stopped";
    }
    return ::testing::AssertionSuccess();
  }
  // Enough filler to push everything written so far out of memory.
  ::testing::AssertionResult Churn(Client& c) { return Fill(c, 3 * memory_mib() * kMiB); }

  size_t fills_ = 0;
};

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

TEST_P(SpillTest, CleanRestartKeepsEveryItem) {
  TempDir dir;
  ASSERT_FALSE(dir.path().empty());
  const std::vector<std::string> args = Args(memory_mib(), {"--data_dir=" + dir.path()});
  std::mt19937_64 rng(Seed());
  RestartData data;
  {
    ServerProcess first(args);
    ASSERT_GT(first.port(), 0);
    Client c(first.port());
    ASSERT_TRUE(WriteRestartData(c, 2 * memory_mib() * kMiB, rng, &data));
    ASSERT_GT(Stat(c, "disk_spills"), 0) << DiskStats(c);
    EXPECT_EQ(first.Stop(), 0) << first.Log();
  }
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
  {
    ServerProcess first(args);
    ASSERT_GT(first.port(), 0);
    Client c(first.port());
    ASSERT_TRUE(WriteRestartData(c, 2 * memory_mib() * kMiB, rng, &data));
    ASSERT_GT(Stat(c, "disk_spills"), 0) << DiskStats(c);
    const int status = first.Kill();
    ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL) << status;
  }
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

INSTANTIATE_TEST_SUITE_P(Backends, SpillTest,
                         ::testing::Values(Setup{"epoll", 1}, Setup{"epoll", 2}, Setup{"uring", 1},
                                           Setup{"uring", 2}),
                         Name);

}  // namespace
}  // namespace spillway::testing
