// Model-based randomized test of Store: random operations against a std::map of what the store
// must hold. An EvictionSink records every evicted version, which makes eviction exact rather
// than ignored: every read must return the model's value, flags, CAS and exptime, and a miss is
// legal only where the model says the key was evicted (reported to the sink since its last
// write), expired, deleted or flushed.
//
// Every run prints its seed; SPILLWAY_TEST_SEED=<n> repeats it.

#include <gtest/gtest.h>

#include <algorithm>
#include <charconv>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <tuple>
#include <unordered_set>
#include <vector>

#include "storage/store.h"

namespace spillway::storage {
namespace {

using ::testing::Test;

constexpr int64_t kStart = 1'700'000'000;
constexpr int64_t kMaxRelativeExptime = 60 * 60 * 24 * 30;

// Values at the edges of what incr/decr accept.
// clang-format off
constexpr const char* kOddCounters[] = {" 7", "+3", "-0", "-1", "12abc", "99999999999999999999 ",
                                        "18446744073709551615", "18446744073709551616"};
// clang-format on

// memcached's exptime rules, as store.h states them.
int64_t Deadline(int64_t exptime, int64_t now) {
  if (exptime == 0) return 0;
  if (exptime < 0) return 1;
  const int64_t at = exptime <= kMaxRelativeExptime ? now + exptime : exptime;
  return std::clamp<int64_t>(at, 1, UINT32_MAX);
}

// incr/decr read a value as memcached's strtoull does: leading space, a sign, digits that end at
// whitespace or the end; overflow and negative numbers fail.
std::optional<uint64_t> ParseCounter(std::string_view s) {
  auto space = [](char c) { return c == ' ' || (c >= '\t' && c <= '\r'); };
  const char* p = std::find_if_not(s.data(), s.data() + s.size(), space);
  const bool negative = p < s.data() + s.size() && *p == '-';
  if (p < s.data() + s.size() && (*p == '+' || *p == '-')) ++p;
  uint64_t v = 0;
  const auto [end, error] = std::from_chars(p, s.data() + s.size(), v);
  if (error != std::errc() || (end < s.data() + s.size() && !space(*end)) || (negative && v != 0)) {
    return std::nullopt;
  }
  return v;
}

struct Version {
  std::string value;
  uint32_t flags = 0;
  uint64_t cas = 0;
  int64_t exptime = 0;  // absolute; 0 = never
};

class RecordingSink : public EvictionSink {
 public:
  void Evicted(const ItemCopy& item) override {
    evicted.emplace_back(std::string(item.key), Version{std::string(item.value), item.client_flags,
                                                        item.cas, item.exptime});
  }
  std::vector<std::pair<std::string, Version>> evicted;
};

enum class Sizes { kSmall, kSkewed };
enum class Evictions { kNever, kSome, kMaybe };

struct Config {
  const char* name;
  size_t limit;
  int keys;
  int ops;
  Sizes sizes;
  Evictions evictions;
};
void PrintTo(const Config& c, std::ostream* out) { *out << c.name; }

// The bytes stats().item_bytes counts per item besides key and value, learned from the store.
uint64_t ItemHeaderBytes(uint32_t flags) {
  Store store(Options{.memory_limit_bytes = 1 << 20});
  EXPECT_EQ(store.Write(Key("k"), "", flags, 0, kStart).status, WriteStatus::kStored);
  return store.stats().item_bytes - 1;
}

class ModelRun {
 public:
  ModelRun(const Config& config, uint64_t seed)
      : config_(config),
        seed_(seed),
        rng_(seed),
        store_(Options{.memory_limit_bytes = config.limit,
                       .cas_first = 5,
                       .cas_stride = 3,
                       .eviction_sink = &sink_}) {
    for (int i = 0; i < config.keys; ++i) {
      // Mostly short keys, some long ones, a few at memcached's 250-byte limit.
      const size_t pad = i % 97 == 0 ? 240 : (i * 2654435761u) % 24;
      keys_.push_back("key:" + std::to_string(i) + std::string(pad, '.'));
    }
    buffer_.resize(store_.MaxValueSize(0, 0) + 65536);
    for (char& c : buffer_) c = static_cast<char>(rng_());
    header_[0] = ItemHeaderBytes(0);
    header_[1] = ItemHeaderBytes(7);
  }

  void Run() {
    for (ops_ = 0; ops_ < static_cast<uint64_t>(config_.ops) && !Test::HasFatalFailure(); ++ops_) {
      Operation();
      if (!Test::HasFatalFailure()) CheckStats();
      if (ops_ % 1000 == 999 && !Test::HasFatalFailure()) CheckPinsAndLiveCounts();
    }
    // Every key must read back as the model has it.
    for (key_ = 0; key_ < keys_.size() && !Test::HasFatalFailure(); ++key_) DoRead(false);
    const StoreStats s = store_.stats();
    Test::RecordProperty("evictions", std::to_string(s.evictions));
    if (config_.evictions != Evictions::kMaybe) {
      EXPECT_EQ(s.evictions > 0, config_.evictions == Evictions::kSome) << "evicted or not";
    }
    // kNoMemory is legal only while items are pinned; counted for the record.
    std::cout << "[ counts   ] " << config_.name << ": hits " << hits_ << ", evictions "
              << s.evictions << ", kNoMemory " << no_memory_ << ", allocated " << s.allocated_bytes
              << " of " << s.limit_bytes << "\n";
  }

 private:
  bool Chance(int permille) { return rng_() % 1000 < static_cast<uint64_t>(permille); }
  uint64_t Below(uint64_t n) { return rng_() % n; }

  void Operation() {
    if (Chance(30)) now_ += 1 + Below(3);
    if (flush_at_ && now_ >= *flush_at_) Flush();
    key_ = Chance(500) ? Below(keys_.size()) : Below(std::max<size_t>(1, keys_.size() / 20));
    const uint64_t op = Below(1000);
    if (op < 250) return DoRead(false);
    if (op < 280) return DoRead(true);  // gat, touch
    if (op < 480) return DoWrite(WriteMode::kSet, false);
    if (op < 530) return DoWrite(WriteMode::kAdd, false);
    if (op < 580) return DoWrite(WriteMode::kReplace, false);
    if (op < 620) return DoWrite(WriteMode::kAppend, false);
    if (op < 660) return DoWrite(WriteMode::kPrepend, false);
    if (op < 720) return DoWrite(WriteMode::kSet, true);  // cas
    if (op < 800) return DoArithmetic(op < 760);
    if (op < 860) return DoDelete();
    if (op < 865) return DoSweep();
    if (op == 865 && Chance(20)) return DoFlushAll();
    return DoRead(false);
  }

  // ---- The model

  bool Expired(const Version& v) const { return v.exptime != 0 && v.exptime <= now_; }
  void Account(const std::string& key, const Version& v, int sign) {
    const uint64_t bytes = header_[v.flags != 0] + key.size() + v.value.size();
    items_ += sign;
    bytes_ += sign * bytes;
    expiring_ += v.exptime != 0 ? sign : 0;
    expiring_bytes_ += v.exptime != 0 ? sign * bytes : 0;
  }
  void Erase(const std::string& key) {
    auto it = model_.find(key);
    if (it == model_.end()) return;
    Account(key, it->second, -1);
    model_.erase(it);
  }
  void Put(const std::string& key, Version v) {
    Erase(key);
    Account(key, v, +1);
    model_.emplace(key, std::move(v));
  }
  // The key's live version or null; an expired one is dropped, as any access drops it in the store.
  const Version* Live(const std::string& key) {
    auto it = model_.find(key);
    if (it == model_.end()) return nullptr;
    if (!Expired(it->second)) return &it->second;
    Erase(key);
    return nullptr;
  }
  void Flush() {
    model_.clear();
    items_ = bytes_ = expiring_ = expiring_bytes_ = 0;
    flush_at_.reset();
  }

  // Every version the sink was told about must be the model's latest and live; then it is gone.
  void ApplyEvictions() {
    evicted_ += sink_.evicted.size();
    for (auto& [key, v] : sink_.evicted) {
      auto it = model_.find(key);
      ASSERT_NE(it, model_.end()) << "evicted a key that is not held: " << key << Trail();
      ASSERT_EQ(it->second.cas, v.cas) << "evicted a version that is not the latest" << Trail();
      ASSERT_TRUE(it->second.value == v.value && it->second.flags == v.flags &&
                  it->second.exptime == v.exptime)
          << "evicted item differs" << Trail();
      ASSERT_FALSE(Expired(it->second)) << "an expired item reported as evicted" << Trail();
      Erase(key);
    }
    sink_.evicted.clear();
  }
  // Expired items linger in the store until something meets them, so they bound the counts from
  // both sides; without them the counts are exact.
  void CheckStats() {
    ASSERT_TRUE(sink_.evicted.empty()) << "an eviction outside a write" << Trail();
    const StoreStats s = store_.stats();
    ASSERT_LE(s.allocated_bytes, s.limit_bytes) << Trail();
    ASSERT_EQ(s.evictions, evicted_) << "evictions the sink never saw" << Trail();
    ASSERT_LE(s.items, items_) << Trail();
    ASSERT_GE(s.items, items_ - expiring_) << Trail();
    // An item that eviction moved stores its CAS: 8 bytes more than the model counts.
    ASSERT_LE(s.item_bytes, bytes_ + 8 * s.items) << Trail();
    ASSERT_GE(s.item_bytes, bytes_ - expiring_bytes_) << Trail();
  }
  // Pinned items keep their bytes, whatever happened to their keys since; only the exptime follows
  // a touch (docs/storage.md: touch rewrites the header in place). And the items not yet expired
  // are all counted.
  void CheckPinsAndLiveCounts() {
    for (const auto& [ref, v, k] : pins_) {
      key_ = k;
      Expect(ref, v, /*check_exptime=*/false);
      if (Test::HasFatalFailure()) return;
    }
    uint64_t live = 0;
    for (const auto& [key, v] : model_) live += !Expired(v);
    ASSERT_GE(store_.stats().items, live) << Trail();
  }
  // Every new version has a CAS no earlier version had (they are not increasing: a version's CAS
  // comes from where it was written, and the two queues' heads are in different places).
  void CheckCas(uint64_t cas) {
    ASSERT_TRUE(cas_seen_.insert(cas).second) << "CAS " << cas << " given out twice" << Trail();
    ASSERT_EQ((cas - 5) % 3, 0u) << "CAS off its stride" << Trail();
  }
  void Expect(const ItemRef& ref, const Version& v, bool check_exptime = true) {
    ASSERT_EQ(ref.key(), keys_[key_]) << Trail();
    ASSERT_TRUE(ref.value() == v.value)
        << ref.value().size() << " value bytes, the model has " << v.value.size() << Trail();
    ASSERT_EQ(ref.client_flags(), v.flags) << Trail();
    ASSERT_EQ(ref.cas(), v.cas) << Trail();
    ASSERT_TRUE(!check_exptime || ref.exptime() == v.exptime)
        << ref.exptime() << " != " << v.exptime << Trail();
  }
  // A write refused for want of memory changes nothing; legal only while items are pinned.
  bool Refused(bool no_memory) {
    if (!no_memory) return false;
    EXPECT_FALSE(pins_.empty()) << "kNoMemory with nothing pinned" << Trail();
    ++no_memory_;
    return true;
  }

  // ---- Inputs

  std::string_view PickValue() {
    if (Chance(200)) {
      numeric_ = Chance(800) ? std::to_string(Chance(500) ? Below(1000) : rng_())
                             : kOddCounters[Below(std::size(kOddCounters))];
      return numeric_;
    }
    size_t n = Below(257);
    if (config_.sizes == Sizes::kSkewed) {  // mostly small, a long tail up to 64 KiB
      const uint64_t p = Below(1000);
      n = p < 700   ? Below(65)
          : p < 900 ? 65 + Below(960)
          : p < 980 ? 1024 + Below(7169)
                    : 8192 + Below(57345);
    }
    return std::string_view(buffer_).substr(Below(buffer_.size() - n), n);
  }
  int64_t PickExptime() {
    const uint64_t p = Below(100);
    if (p < 70) return 0;
    if (p < 80) return 1 + Below(10);
    if (p < 85) return 11 + Below(200);
    if (p < 90) return now_ + 1 + Below(50);     // absolute
    if (p < 93) return -1;                       // expired at once
    if (p < 95) return kMaxRelativeExptime;      // the longest relative one
    if (p < 96) return kMaxRelativeExptime + 1;  // absolute: 1970, expired
    if (p < 98) return now_ - Below(3);          // absolute, now or past
    return 1;
  }

  // ---- Operations

  void DoRead(bool touch) {
    const std::string& key = keys_[key_];
    // Every operation calls the store, or a flush_all the model applied would be pending there.
    if (!pins_.empty() && Chance(40)) pins_.erase(pins_.begin() + Below(pins_.size()));
    ReadOptions ro;
    ro.bump = Chance(900);
    if (touch) ro.touch = PickExptime();
    Note(touch ? "gat" : "get", 0);
    const Version* v = Live(key);
    ReadResult r = store_.Read(Key(key), now_, ro);
    if (v == nullptr) {
      ASSERT_FALSE(r.item) << "a hit on a key evicted, expired, deleted or flushed" << Trail();
      return;
    }
    ASSERT_TRUE(r.item) << "a miss that no eviction explains" << Trail();
    ++hits_;
    if (touch) {
      Version next = *v;
      next.exptime = Deadline(*ro.touch, now_);
      Put(key, std::move(next));
      v = &model_[key];
    }
    Expect(r.item, *v);
    if (!Test::HasFatalFailure() && pins_.size() < 8 && Chance(20)) {
      pins_.emplace_back(std::move(r.item), *v, key_);
    }
  }

  void DoWrite(WriteMode mode, bool with_cas) {
    static constexpr const char* kNames[] = {"set", "add", "replace", "append", "prepend"};
    const std::string& key = keys_[key_];
    const uint32_t flags = Chance(300) ? static_cast<uint32_t>(rng_()) : 0;
    std::string_view value = PickValue();
    if (Chance(2))
      value = std::string_view(buffer_).substr(0, store_.MaxValueSize(key.size(), flags) + 1);
    const int64_t exptime = PickExptime();
    Note(with_cas ? "cas" : kNames[static_cast<int>(mode)], value.size());
    const Version* old = Live(key);
    WriteOptions wo;
    wo.mode = mode;
    if (with_cas) wo.compare_cas = old != nullptr && Chance(700) ? old->cas : 1 + Below(1 << 20);
    const bool concat = mode == WriteMode::kAppend || mode == WriteMode::kPrepend;

    // The outcome, in the order the store checks.
    WriteStatus expect = WriteStatus::kNotStored;
    std::optional<Version> next;
    if (value.size() > store_.MaxValueSize(key.size(), flags)) {
      expect = WriteStatus::kTooLarge;
    } else if ((mode == WriteMode::kAdd && old) ||
               (!old && (mode == WriteMode::kReplace || concat))) {
    } else if (with_cas && !old) {
      expect = WriteStatus::kNotFound;
    } else if (with_cas && *wo.compare_cas != old->cas) {
      expect = WriteStatus::kExists;
    } else if (!concat) {
      expect = WriteStatus::kStored;
      next = Version{std::string(value), flags, 0, Deadline(exptime, now_)};
    } else if (old->value.size() + value.size() <= store_.MaxValueSize(key.size(), old->flags)) {
      expect = WriteStatus::kStored;
      const std::string v(value);
      next = Version{mode == WriteMode::kAppend ? old->value + v : v + old->value, old->flags, 0,
                     old->exptime};
    }
    const WriteResult r = store_.Write(Key(key), value, flags, exptime, now_, wo);
    ApplyEvictions();
    if (Test::HasFatalFailure() || Refused(next && r.status == WriteStatus::kNoMemory)) return;
    ASSERT_EQ(r.status, expect) << Trail();
    // memcached drops the old value of a set (not a cas) that is too large.
    if (expect == WriteStatus::kTooLarge && mode == WriteMode::kSet && !with_cas) Erase(key);
    if (!next) return;
    CheckCas(r.cas);
    ASSERT_EQ(r.size, next->value.size()) << Trail();
    next->cas = r.cas;
    Put(key, std::move(*next));
  }

  void DoArithmetic(bool increment) {
    const std::string& key = keys_[key_];
    ArithmeticOptions ao;
    ao.increment = increment;
    ao.delta = Chance(900) ? Below(100) : rng_();
    Note(increment ? "incr" : "decr", ao.delta);
    const Version* old = Live(key);
    if (old != nullptr && Chance(100)) ao.compare_cas = old->cas + Below(2);
    ArithmeticStatus expect = ArithmeticStatus::kNotFound;
    std::optional<Version> next;
    uint64_t result = 0;
    if (old != nullptr) {
      const std::optional<uint64_t> n = ParseCounter(old->value);
      if (ao.compare_cas && *ao.compare_cas != old->cas) {
        expect = ArithmeticStatus::kExists;
      } else if (!n) {
        expect = ArithmeticStatus::kNonNumeric;
      } else {
        expect = ArithmeticStatus::kOk;
        result = increment ? *n + ao.delta : (ao.delta > *n ? 0 : *n - ao.delta);
        next = Version{std::to_string(result), old->flags, 0, old->exptime};
        // memcached rewrites a shorter number in place, padded with spaces to the old length.
        if (next->value.size() < old->value.size()) next->value.resize(old->value.size(), ' ');
      }
    }
    const ArithmeticResult r = store_.Arithmetic(Key(key), now_, ao);
    ApplyEvictions();
    if (Test::HasFatalFailure() || Refused(next && r.status == ArithmeticStatus::kNoMemory)) return;
    ASSERT_EQ(r.status, expect) << Trail();
    if (!next) return;
    ASSERT_EQ(r.value, result) << Trail();
    ASSERT_TRUE(r.item) << Trail();
    CheckCas(r.item.cas());
    next->cas = r.item.cas();
    Expect(r.item, *next);
    Put(key, std::move(*next));
  }

  void DoDelete() {
    const std::string& key = keys_[key_];
    Note("delete", 0);
    const Version* old = Live(key);
    DeleteOptions d;
    if (old != nullptr && Chance(200)) d.compare_cas = old->cas + Below(2);
    DeleteStatus expect = DeleteStatus::kNotFound;
    if (old != nullptr) {
      expect = d.compare_cas && *d.compare_cas != old->cas ? DeleteStatus::kExists
                                                           : DeleteStatus::kDeleted;
    }
    ASSERT_EQ(store_.Delete(Key(key), now_, d), expect) << Trail();
    if (expect == DeleteStatus::kDeleted) Erase(key);
  }

  void DoFlushAll() {
    const int64_t delay = Chance(500) ? 0 : 1 + Below(5);
    Note("flush_all", delay);
    store_.FlushAll(now_, delay);
    flush_at_ = now_ + delay;  // as in memcached, a later flush_all replaces a pending one
    if (delay == 0) Flush();
  }

  void DoSweep() {
    Note("sweep", 64);
    store_.Sweep(now_, 64);
  }

  // ---- Failure context: the seed and the last operations.

  void Note(const char* op, uint64_t arg) {
    std::snprintf(trail_[ops_ % kTrail], sizeof trail_[0], "#%llu t=%lld %s key %zu arg %llu",
                  static_cast<unsigned long long>(ops_), static_cast<long long>(now_ - kStart), op,
                  key_, static_cast<unsigned long long>(arg));
  }
  std::string Trail() const {
    std::string out = "\n  seed " + std::to_string(seed_) + ", key " + std::to_string(key_) +
                      "; the last operations:";
    for (uint64_t i = ops_ + 1; i <= ops_ + kTrail; ++i)
      out += "\n    " + std::string(trail_[i % kTrail]);
    return out;
  }
  static constexpr uint64_t kTrail = 16;

  Config config_;
  uint64_t seed_;
  std::mt19937_64 rng_;
  RecordingSink sink_;
  Store store_;
  std::vector<std::string> keys_;
  std::string buffer_;   // random bytes that values are cut from
  std::string numeric_;  // the latest numeric value
  uint64_t header_[2] = {0, 0};
  int64_t now_ = kStart;
  uint64_t ops_ = 0;
  size_t key_ = 0;
  std::map<std::string, Version> model_;
  std::optional<int64_t> flush_at_;
  uint64_t items_ = 0, bytes_ = 0, expiring_ = 0, expiring_bytes_ = 0;
  uint64_t evicted_ = 0, no_memory_ = 0, hits_ = 0;
  std::unordered_set<uint64_t> cas_seen_;
  std::vector<std::tuple<ItemRef, Version, size_t>> pins_;
  char trail_[kTrail][80] = {};
};

class StoreModel : public ::testing::TestWithParam<Config> {};

TEST_P(StoreModel, EveryReadReturnsTheLastWriteOrAnExplainedMiss) {
  const char* env = std::getenv("SPILLWAY_TEST_SEED");
  const uint64_t seed = env != nullptr ? std::strtoull(env, nullptr, 0) : std::random_device{}();
  RecordProperty("seed", std::to_string(seed));
  SCOPED_TRACE("seed " + std::to_string(seed) + " (SPILLWAY_TEST_SEED repeats it)");
  std::cout << "[ seed     ] " << GetParam().name << ": " << seed << "\n";
  ModelRun(GetParam(), seed).Run();
}

INSTANTIATE_TEST_SUITE_P(
    Mixes, StoreModel,
    ::testing::Values(
        // Small values under a large budget: nothing is ever evicted.
        Config{"NeverEvicts", 64 << 20, 2000, 300'000, Sizes::kSmall, Evictions::kNever},
        // ~150 MiB of values up to 64 KiB over few keys: dead versions fill the segments and are
        // reclaimed; live items are rarely (so far never) evicted.
        Config{"FewKeysLargeValues", 16 << 20, 300, 300'000, Sizes::kSkewed, Evictions::kMaybe},
        // Many keys in a small budget: heavy eviction.
        Config{"HeavyEviction", 4 << 20, 20'000, 300'000, Sizes::kSkewed, Evictions::kSome},
        // The smallest budget (8 segments): the index's growth is capped and evicts too.
        Config{"TinyBudget", 1 << 20, 50'000, 300'000, Sizes::kSmall, Evictions::kSome}),
    [](const ::testing::TestParamInfo<Config>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace spillway::storage
