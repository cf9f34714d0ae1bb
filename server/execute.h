// Executes one key's share of a request against a shard's store, memcached's semantics and
// answers byte for byte (../shared/reference/memcached-protocol.txt; memcached 1.6.18 is the
// oracle, tests/data/memcached_oracle.tsv a recording of it).
//
// The connection splits a request into key operations and runs each on the key's owner shard:
// - get/gets/gat/gats: one call per key; the answer is that key's VALUE block, or nothing on a
//   miss. The caller writes the final "END\r\n".
// - every other command with a key (storage commands, incr/decr, delete, touch, mg, ms, md, ma,
//   me): one call; the answer is the whole response, honouring noreply and the meta q flag
//   (protocol::QuietHides), echoing O and k flags.
// Commands without a key (flush_all, stats, version, verbosity, mn, quit, shutdown) are the
// connection's and never reach here.

#ifndef SPILLWAY_SERVER_EXECUTE_H_
#define SPILLWAY_SERVER_EXECUTE_H_

#include <cstdint>
#include <string_view>

#include "protocol/request.h"
#include "server/counters.h"
#include "server/reply.h"
#include "storage/store.h"

namespace spillway::server {

struct KeyContext {
  storage::Store* store = nullptr;
  int64_t now = 0;  // Unix seconds
  Counters* counters = nullptr;
};

// `key` is the key to act on (for retrieval commands, one of request.keys; otherwise
// request.key) and `hash` its storage::Key hash. Appends the answer to `out`.
void ExecuteKey(const protocol::Request& request, std::string_view key, uint64_t hash,
                const KeyContext& context, Reply* out);

}  // namespace spillway::server

#endif  // SPILLWAY_SERVER_EXECUTE_H_
