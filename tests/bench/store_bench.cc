// Store micro-benchmarks: get hit, get miss and set at 1M items, 32 B and 1 KiB values.
// docs/benchmarks.md has the command and the numbers.

#include <benchmark/benchmark.h>

#include <memory>
#include <random>
#include <string>
#include <vector>

#include "storage/store.h"

namespace spillway::storage {
namespace {

constexpr int64_t kNow = 1'700'000'000;
constexpr size_t kItems = 1'000'000;

struct Fixture {
  std::unique_ptr<Store> store;
  std::vector<std::string> keys;
  std::vector<uint64_t> hashes;
};

// One filled store per value size, shared by the benchmarks (filling takes a while).
Fixture& Filled(size_t value_size) {
  static std::unique_ptr<Fixture> fixtures[2];
  auto& f = fixtures[value_size > 32 ? 1 : 0];
  if (f) return *f;
  f = std::make_unique<Fixture>();
  Options o;
  // Room for every item, so that gets hit: value + key + ~30 bytes per item, plus slack.
  o.memory_limit_bytes = kItems * (value_size + 64) * 3 / 2 + (64 << 20);
  f->store = std::make_unique<Store>(o);
  const std::string value(value_size, 'v');
  for (size_t i = 0; i < kItems; ++i) {
    f->keys.push_back("key:" + std::to_string(i));
    f->hashes.push_back(Key(f->keys.back()).hash);
    f->store->Write(Key(f->keys.back(), f->hashes.back()), value, 0, 0, kNow);
  }
  return *f;
}

void BM_GetHit(benchmark::State& state) {
  Fixture& f = Filled(static_cast<size_t>(state.range(0)));
  std::mt19937_64 rng(1);
  size_t hits = 0;
  for (auto _ : state) {
    const size_t i = rng() % kItems;
    ReadResult r = f.store->Read(Key(f.keys[i], f.hashes[i]), kNow);
    hits += static_cast<bool>(r.item);
    benchmark::DoNotOptimize(r.item.value().data());
  }
  state.counters["hit_ratio"] = static_cast<double>(hits) / static_cast<double>(state.iterations());
  const StoreStats s = f.store->stats();
  state.counters["bytes_per_item"] = static_cast<double>(s.allocated_bytes) / s.items;
}

void BM_GetMiss(benchmark::State& state) {
  Fixture& f = Filled(static_cast<size_t>(state.range(0)));
  std::mt19937_64 rng(2);
  for (auto _ : state) {
    const std::string key = "absent:" + std::to_string(rng() % kItems);
    benchmark::DoNotOptimize(f.store->Read(Key(key), kNow).item);
  }
}

void BM_Set(benchmark::State& state) {
  Fixture& f = Filled(static_cast<size_t>(state.range(0)));
  const std::string value(static_cast<size_t>(state.range(0)), 'w');
  std::mt19937_64 rng(3);
  for (auto _ : state) {
    const size_t i = rng() % kItems;
    benchmark::DoNotOptimize(f.store->Write(Key(f.keys[i], f.hashes[i]), value, 0, 0, kNow).status);
  }
}

BENCHMARK(BM_GetHit)->Arg(32)->Arg(1024);
BENCHMARK(BM_GetMiss)->Arg(32)->Arg(1024);
BENCHMARK(BM_Set)->Arg(32)->Arg(1024);

}  // namespace
}  // namespace spillway::storage

BENCHMARK_MAIN();
