// spillway::client::Client: a memcached client for a list of servers (spillway or memcached),
// speaking the text protocol, classic and meta commands.
//
// Placement: a key goes to the server that KetamaRing picks, which is where libmemcached's
// weighted ketama, pylibmc and twemproxy (ketama, md5) put it.
//
// Failures: every call returns a Status; no exception leaves the API. A protocol outcome (a miss,
// NOT_STORED, EXISTS, NOT_FOUND) is not a failure: it comes back in the call's result. A server
// that fails `failure_limit` requests in a row (connect refused, timeout, broken connection) is
// down for `retry_interval`:
//   - auto_eject (the default): it leaves the ring, so its keys fall to the next point, as
//     libmemcached's MEMCACHED_BEHAVIOR_AUTO_EJECT_HOSTS and twemproxy's auto_eject_hosts do;
//   - otherwise its keys fail at once with kServerDown.
// When the interval is over it is back (in the ring) on probation: one more failure and it is
// down again; one success and it is healthy.
//
// Threads: every method may be called from any number of threads at once. Each server has a
// small pool of connections; a call takes one (or opens one), and gives it back when the
// exchange ended cleanly. A connection whose exchange failed is closed, never reused.
//
// Blocking: calls block the calling thread, at most connect_timeout + request_timeout for one
// server; GetMulti connects to its servers one after the other, then gives them request_timeout.
// Failures are counted per server over all threads.

#ifndef SPILLWAY_CLIENT_CLIENT_H_
#define SPILLWAY_CLIENT_CLIENT_H_

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "client/ketama.h"
#include "client/server_address.h"
#include "client/status.h"
#include "protocol/response.h"

namespace spillway::client {

struct Options {
  std::chrono::milliseconds connect_timeout{1000};
  // The whole exchange of one request with one server: sending it and reading the full answer.
  std::chrono::milliseconds request_timeout{1000};
  // Idle connections kept per server for reuse; more may be open while calls are in flight.
  // Below the number of threads that call at once, connections are closed and reopened.
  size_t max_idle_connections = 16;

  uint32_t failure_limit = 2;  // failed requests in a row that take a server down (>= 1)
  std::chrono::milliseconds retry_interval{2000};
  bool auto_eject = true;

  // The clock that times retry intervals (steady_clock when empty); tests pass their own.
  std::function<std::chrono::steady_clock::time_point()> clock;
};

// A value as a retrieval command returns it.
struct Item {
  std::string key;
  std::string value;
  uint32_t flags = 0;
  uint64_t cas = 0;  // gets and gats only; 0 otherwise
};

enum class StoreResult : uint8_t { kStored, kNotStored, kExists, kNotFound };

// The answer to a meta command.
struct MetaResult {
  // kMetaValue (VA), kMetaHeader (HD), kMetaMiss (EN), kMetaNotFound (NF), kMetaNotStored (NS) or
  // kMetaExists (EX). With the q flag, an answer the server left out is the code it stands for
  // (EN for mg, HD for ms, md and ma).
  protocol::ResponseType code = protocol::ResponseType::kMetaMiss;
  std::string value;  // VA's data block
  std::string flags;  // the return flags as the server sent them ("f0 c42 t-1"), or ""

  // Whether return flag `flag` is present, and its token (what follows the flag character).
  bool Has(char flag) const;
  std::string_view Flag(char flag) const;
};

class Client {
 public:
  // A client of `servers` (at least one; see ParseServerList). Connects lazily: creating one does
  // no I/O, so a server that is not up yet is not an error here.
  static Status Create(std::vector<ServerAddress> servers, const Options& options,
                       std::unique_ptr<Client>* client);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // ---- Retrieval. A miss leaves *item empty and returns ok.
  Status Get(std::string_view key, std::optional<Item>* item);
  Status Gets(std::string_view key, std::optional<Item>* item);  // with the CAS
  Status Gat(std::string_view key, int64_t exptime, std::optional<Item>* item);
  Status Gats(std::string_view key, int64_t exptime, std::optional<Item>* item);

  enum class Retrieval : uint8_t { kGet, kGets, kGat, kGats };
  // Every key at once: one pipelined request per server, sent to all of them before any answer
  // is read. Hits are appended to *items in no particular order, a repeated key once; misses
  // are simply absent. When
  // a server fails, the hits of the others are still appended and the first failure is returned.
  Status GetMulti(std::span<const std::string> keys, std::vector<Item>* items,
                  Retrieval how = Retrieval::kGet, int64_t exptime = 0);

  // ---- Storage. `result` may be null when the caller does not care which outcome it was.
  Status Set(std::string_view key, std::string_view value, uint32_t flags = 0, int64_t exptime = 0,
             StoreResult* result = nullptr);
  Status Add(std::string_view key, std::string_view value, uint32_t flags = 0, int64_t exptime = 0,
             StoreResult* result = nullptr);
  Status Replace(std::string_view key, std::string_view value, uint32_t flags = 0,
                 int64_t exptime = 0, StoreResult* result = nullptr);
  Status Append(std::string_view key, std::string_view value, StoreResult* result = nullptr);
  Status Prepend(std::string_view key, std::string_view value, StoreResult* result = nullptr);
  Status Cas(std::string_view key, std::string_view value, uint64_t cas, uint32_t flags = 0,
             int64_t exptime = 0, StoreResult* result = nullptr);

  // ---- Others on one key. A missing key leaves *value empty / sets *found false.
  Status Incr(std::string_view key, uint64_t delta, std::optional<uint64_t>* value);
  Status Decr(std::string_view key, uint64_t delta, std::optional<uint64_t>* value);
  Status Delete(std::string_view key, bool* found = nullptr);
  Status Touch(std::string_view key, int64_t exptime, bool* found = nullptr);

  // ---- Meta commands. `flags` are the request's flags as the protocol writes them ("v f t",
  // "T30 F5 I", "MI D7"); the key is sent as given (with the b flag, pass it base64-encoded:
  // placement then hashes the encoded form). Flags with a control character are kInvalidArgument.
  // ms sends `value` with its length.
  Status MetaGet(std::string_view key, std::string_view flags, MetaResult* result);
  Status MetaSet(std::string_view key, std::string_view value, std::string_view flags,
                 MetaResult* result);
  Status MetaDelete(std::string_view key, std::string_view flags, MetaResult* result);
  Status MetaArithmetic(std::string_view key, std::string_view flags, MetaResult* result);
  // me: the debug line's body ("<key> exp=-1 la=3 cas=5 fetch=no cls=1 size=63"); a miss (EN)
  // leaves *text empty.
  Status MetaDebug(std::string_view key, std::string* text);
  // mn to server `index`: answers MN when the server is there.
  Status MetaNoop(size_t index);

  // ---- Whole servers. The commands for all servers go to each one (the ejected ones too) and
  // return the first failure.
  Status FlushAll(int64_t delay = 0);
  Status Verbosity(uint32_t level);
  // `stats [group]` of server `index`, in the server's order.
  Status Stats(size_t index, std::string_view group,
               std::vector<std::pair<std::string, std::string>>* stats);
  Status Version(size_t index, std::string* version);
  // Asks server `index` to exit (memcached needs -A, spillway --enable_shutdown): ok once it has
  // hung up; kError when it answers that shutdown is not enabled.
  enum class ShutdownMode : uint8_t { kNow, kGraceful };
  Status Shutdown(size_t index, ShutdownMode mode = ShutdownMode::kNow);
  // Sends quit on every idle connection and closes them all (new calls open new ones).
  void Quit();

  // ---- Placement and health.
  size_t server_count() const;
  const ServerAddress& server(size_t index) const;
  // The index of the server `key` goes to now (ejected servers left out), or
  // KetamaRing::kNoServer when none is in the ring.
  uint32_t ServerFor(std::string_view key);
  // Whether server `index` is down (ejected, or failing fast) at this moment.
  bool IsDown(size_t index);

 private:
  struct Impl;
  explicit Client(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace spillway::client

#endif  // SPILLWAY_CLIENT_CLIENT_H_
