// Helpers and the fixture of the spill-tier tests (spill_test.cc: values and stale-value
// traps; spill_restart_test.cc: restarts, the disk budget, no spill tier).

#ifndef SPILLWAY_TESTS_INTEGRATION_SPILL_SUPPORT_H_
#define SPILLWAY_TESTS_INTEGRATION_SPILL_SUPPORT_H_

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

inline uint64_t SplitMix(uint64_t& state) {
  uint64_t z = (state += 0x9e3779b97f4a7c15u);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
  return z ^ (z >> 31);
}

// `size` printable bytes that only (key, version) produce, so that a stale, foreign or torn value
// never passes for the right one. They start with "key#version:" when there is room.
inline std::string Value(std::string_view key, uint64_t version, size_t size) {
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
inline std::string Store(std::string_view command, std::string_view key, std::string_view value,
                         uint32_t flags = 0, int64_t exptime = 0) {
  return std::string(command) + " " + std::string(key) + " " + std::to_string(flags) + " " +
         std::to_string(exptime) + " " + std::to_string(value.size()) + "\r\n" +
         std::string(value) + "\r\n";
}
inline std::string Set(std::string_view key, std::string_view value, uint32_t flags = 0,
                       int64_t exptime = 0) {
  return Store("set", key, value, flags, exptime);
}

inline std::string Cas(std::string_view key, std::string_view value, uint64_t cas,
                       uint32_t flags = 0) {
  return "cas " + std::string(key) + " " + std::to_string(flags) + " 0 " +
         std::to_string(value.size()) + " " + std::to_string(cas) + "\r\n" + std::string(value) +
         "\r\n";
}

// ms answering "HD c<cas>": the new CAS, learnt without reading the item (a read would mark it
// fetched, and S3-FIFO keeps fetched items in memory while unread ones churn).
inline std::string MetaSet(std::string_view key, std::string_view value, uint32_t flags) {
  return "ms " + std::string(key) + " " + std::to_string(value.size()) + " c F" +
         std::to_string(flags) + "\r\n" + std::string(value) + "\r\n";
}

inline std::optional<uint64_t> CasOf(std::string_view meta_answer) {
  if (!meta_answer.starts_with("HD c") || !meta_answer.ends_with("\r\n")) return std::nullopt;
  return std::strtoull(std::string(meta_answer.substr(4)).c_str(), nullptr, 10);
}

// What get (or, given a CAS, gets) answers for one item.
inline std::string Hit(std::string_view key, std::string_view value, uint32_t flags = 0,
                       std::optional<uint64_t> cas = std::nullopt) {
  return "VALUE " + std::string(key) + " " + std::to_string(flags) + " " +
         std::to_string(value.size()) + (cas ? " " + std::to_string(*cas) : "") + "\r\n" +
         std::string(value) + "\r\nEND\r\n";
}
constexpr std::string_view kMiss = "END\r\n";

inline std::string Get(Client& c, std::string_view key) {
  return c.Call("get " + std::string(key) + "\r\n", "END\r\n");
}
inline std::string Gets(Client& c, std::string_view key) {
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
inline ::testing::AssertionResult WriteAll(Client& c, std::vector<Written>& items,
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
inline ::testing::AssertionResult ReadAllBack(Client& c, const std::vector<const Written*>& items) {
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
inline std::vector<Written> MixedItems(std::string_view prefix, size_t total, size_t min,
                                       size_t max, std::mt19937_64& rng) {
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

inline uint64_t Seed() {
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

inline DirectoryUse MeasureDirectory(const std::string& dir) {
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

inline int64_t Stat(Client& c, const std::string& name) {
  return StatNumber(Stats(c), name).value_or(-1);
}

// Every stat of the spill tier, for failure messages.
inline std::string DiskStats(Client& c) {
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

}  // namespace spillway::testing

#endif  // SPILLWAY_TESTS_INTEGRATION_SPILL_SUPPORT_H_
