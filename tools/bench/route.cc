#include "tools/bench/route.h"

#include <glog/logging.h>

#include "tools/bench/keys.h"

namespace spillway::bench {

Router::Router(std::span<const client::ServerAddress> servers, std::string_view key_prefix,
               uint64_t keys)
    : ring_(servers), prefix_(key_prefix), servers_(servers.size()) {
  // Index + 1 must fit a byte.
  if (servers_ < 256 && keys <= kMemoKeys) {
    memo_keys_ = keys;
    memo_ = std::make_unique<std::atomic<uint8_t>[]>(keys);  // value-initialised: all unknown
  }
}

uint32_t Router::ServerOf(uint64_t index) const {
  if (index >= memo_keys_) return Lookup(index);
  std::atomic<uint8_t>& entry = memo_[index];
  const uint8_t known = entry.load(std::memory_order_relaxed);
  if (known != 0) return known - 1u;
  const uint32_t server = Lookup(index);
  entry.store(static_cast<uint8_t>(server + 1), std::memory_order_relaxed);
  return server;
}

uint32_t Router::Lookup(uint64_t index) const {
  std::string key;
  AppendKey(prefix_, index, &key);
  const uint32_t server = ring_.ServerFor(key);
  // Every server has weight > 0 (0 counts as 1) and is live: the ring is never empty.
  DCHECK_NE(server, client::KetamaRing::kNoServer);
  return server;
}

void SplitGet::Split(const Router& router, std::span<const uint64_t> keys) {
  pieces_.clear();
  piece_of_.assign(router.servers(), 0);
  server_of_.resize(keys.size());
  // Count each server's keys, then place them: a counting sort, stable within a server.
  for (size_t i = 0; i < keys.size(); ++i) {
    const uint32_t s = router.ServerOf(keys[i]);
    server_of_[i] = s;
    if (piece_of_[s] == 0) {
      pieces_.push_back({s, 0, 0});
      piece_of_[s] = static_cast<uint32_t>(pieces_.size());
    }
    ++pieces_[piece_of_[s] - 1].end;
  }
  uint32_t begin = 0;
  for (Piece& p : pieces_) {
    const uint32_t count = p.end;
    p.begin = p.end = begin;  // end advances as its keys are placed
    begin += count;
  }
  grouped_.resize(keys.size());
  for (size_t i = 0; i < keys.size(); ++i) {
    Piece& p = pieces_[piece_of_[server_of_[i]] - 1];
    grouped_[p.end++] = keys[i];
  }
}

uint32_t Batches::Open(int64_t start_ns, uint32_t pieces) {
  uint32_t id;
  if (free_.empty()) {
    id = static_cast<uint32_t>(batches_.size());
    batches_.emplace_back();
  } else {
    id = free_.back();
    free_.pop_back();
  }
  batches_[id] = {start_ns, pieces, false};
  ++open_;
  return id;
}

bool Batches::Close(uint32_t id, bool answered, int64_t* start_ns, bool* complete) {
  Batch& b = batches_[id];
  DCHECK_GT(b.pending, 0u);
  b.failed = b.failed || !answered;
  if (--b.pending != 0) return false;
  *start_ns = b.start_ns;
  *complete = !b.failed;
  free_.push_back(id);
  --open_;
  return true;
}

}  // namespace spillway::bench
