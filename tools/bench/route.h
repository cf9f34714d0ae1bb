// Where a key goes when spillway-bench drives several servers: to the server that ketama picks
// for the key's wire text, prefix included (client/ketama.h, libmemcached's placement), as a
// memcached client would place it. With one server none of this is used: every request goes to
// it without a lookup.
//
// A get of several keys (--mget) is split as libmemcached's mget splits it: one get per server
// involved, each with that server's keys in request order, sent together. The get is one request
// in the report, answered (one latency sample) when its last piece is; Batches tracks that.

#ifndef SPILLWAY_TOOLS_BENCH_ROUTE_H_
#define SPILLWAY_TOOLS_BENCH_ROUTE_H_

#include <atomic>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "client/ketama.h"
#include "client/server_address.h"

namespace spillway::bench {

// The ring and a memo of each key index's server. Thread safety: immutable but for the memo,
// whose entries any thread may fill (relaxed atomics: every thread computes the same value).
class Router {
 public:
  // `keys` is the key space [0, keys): up to kMemoKeys of them get a byte each for the memo
  // (filled on first use), so that a key's MD5 is computed once per run, not once per request.
  Router(std::span<const client::ServerAddress> servers, std::string_view key_prefix,
         uint64_t keys);

  static constexpr uint64_t kMemoKeys = uint64_t{1} << 27;

  size_t servers() const { return servers_; }
  // The index (into the constructor's servers) of the server of key `index` (prefix + decimal).
  uint32_t ServerOf(uint64_t index) const;

 private:
  uint32_t Lookup(uint64_t index) const;

  const client::KetamaRing ring_;
  const std::string prefix_;
  const size_t servers_;
  // server + 1 per key index, 0 while unknown; empty when over kMemoKeys or 255 servers.
  std::unique_ptr<std::atomic<uint8_t>[]> memo_;
  uint64_t memo_keys_ = 0;
};

// One get's keys grouped by server. Reused by its owner (one worker) from get to get, so that
// splitting allocates nothing once warm.
class SplitGet {
 public:
  struct Piece {
    uint32_t server;
    uint32_t begin;  // the piece's keys are keys()[begin, end), in request order
    uint32_t end;
  };

  // Groups `keys` by router.ServerOf; pieces come in the order of their servers' first keys.
  void Split(const Router& router, std::span<const uint64_t> keys);

  std::span<const Piece> pieces() const { return pieces_; }
  std::span<const uint64_t> keys() const { return grouped_; }

 private:
  std::vector<Piece> pieces_;
  std::vector<uint64_t> grouped_;
  std::vector<uint32_t> server_of_;  // per key of the last Split
  std::vector<uint32_t> piece_of_;   // per server: index into pieces_ + 1, 0 for none
};

// The split gets of one worker whose pieces are in flight. Thread safety: none (one worker's).
class Batches {
 public:
  static constexpr uint32_t kNone = UINT32_MAX;

  // A get of `pieces` pieces sent at `start_ns`; its id for Close.
  uint32_t Open(int64_t start_ns, uint32_t pieces);
  // One piece has its answer (`answered`) or never will (an error reply, a dropped connection).
  // True when it was the last: then *start_ns is the get's and *complete whether every piece was
  // answered, and the id is free for reuse.
  bool Close(uint32_t id, bool answered, int64_t* start_ns, bool* complete);
  size_t open() const { return open_; }

 private:
  struct Batch {
    int64_t start_ns = 0;
    uint32_t pending = 0;
    bool failed = false;
  };
  std::vector<Batch> batches_;
  std::vector<uint32_t> free_;
  size_t open_ = 0;
};

}  // namespace spillway::bench

#endif  // SPILLWAY_TOOLS_BENCH_ROUTE_H_
