// The stats command and its sub-forms: memcached's field names and meanings, summed over the
// shards, plus spillway's own (io backend, per-shard operations, cross-shard hops).

#include <sys/resource.h>
#include <unistd.h>

#include <memory>
#include <string>
#include <vector>

#include "protocol/encoder.h"
#include "server/connection.h"
#include "server/server.h"
#include "server/shard.h"

namespace spillway::server {
namespace {

// What one shard contributes to `stats`.
struct Snapshot {
  Counters counters;
  storage::StoreStats store;
  uint64_t hops = 0;
  SpillStats spill;
};

class StatWriter {
 public:
  explicit StatWriter(Reply* out) : out_(out) {}
  void Add(std::string_view name, std::string_view value) {
    out_->Append("STAT ");
    out_->Append(name);
    out_->Append(" ");
    out_->Append(value);
    out_->Append("\r\n");
  }
  void Add(std::string_view name, uint64_t value) { Add(name, std::to_string(value)); }
  void AddSigned(std::string_view name, int64_t value) { Add(name, std::to_string(value)); }

 private:
  Reply* out_;
};

std::string Seconds(const timeval& tv) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%ld.%06ld", static_cast<long>(tv.tv_sec),
                static_cast<long>(tv.tv_usec));
  return buf;
}

// The spill tier's figures (zero without one).
void Spill(Server& server, const std::vector<Snapshot>& shards, StatWriter* w) {
  SpillStats t;
  for (const Snapshot& s : shards) t += s.spill;
  w->Add("disk_limit_bytes", server.options().disk_limit_bytes);
  w->Add("disk_items", t.items);
  w->Add("disk_bytes", t.bytes);
  w->Add("disk_index_bytes", t.index_bytes);
  w->Add("disk_spills", t.spills);
  w->Add("disk_spill_bytes", t.spill_bytes);
  w->Add("disk_promotions", t.promotions);
  w->Add("disk_clean_evictions", t.clean_evictions);
  w->Add("disk_unpromoted", t.unpromoted);
  w->Add("disk_hits", t.hits);
  w->Add("disk_misses", t.misses);
  w->Add("disk_filter_skips", t.filter_skips);
  w->Add("disk_reads", t.reads);
  w->Add("disk_inline_reads", t.inline_reads);
  w->Add("disk_read_p50_us", t.LatencyPercentile(0.5));
  w->Add("disk_read_p99_us", t.LatencyPercentile(0.99));
  w->Add("disk_queue_depth", t.queue_depth);
  w->Add("disk_waiting_keys", t.waiting);
  w->Add("disk_dropped", t.dropped);
  w->Add("warm_restart", uint64_t{server.warm_restart() ? 1u : 0u});
}

void General(Server& server, const std::vector<Snapshot>& shards, Reply* out) {
  StatWriter w(out);
  const int64_t now = std::time(nullptr);
  rusage usage{};
  getrusage(RUSAGE_SELF, &usage);
  Counters total;
  uint64_t items = 0, bytes = 0, evictions = 0, reclaimed = 0, hops = 0;
  for (const Snapshot& s : shards) {
    total += s.counters;
    items += s.store.items;
    bytes += s.store.item_bytes;
    evictions += s.store.evictions;
    reclaimed += s.store.reclaimed;
    hops += s.hops;
  }
  w.Add("pid", static_cast<uint64_t>(getpid()));
  w.AddSigned("uptime", now - server.started());
  w.AddSigned("time", now);
  w.Add("version", server.options().version);
  w.Add("pointer_size", uint64_t{64});
  w.Add("rusage_user", Seconds(usage.ru_utime));
  w.Add("rusage_system", Seconds(usage.ru_stime));
  w.Add("max_connections", server.options().max_connections);
  w.Add("curr_connections", server.curr_connections.load());
  w.Add("total_connections", server.total_connections.load());
  w.Add("rejected_connections", server.rejected_connections.load());
#define SPILLWAY_STAT_COUNTER(name) w.Add(#name, total.name);
  SPILLWAY_COUNTERS(SPILLWAY_STAT_COUNTER)
#undef SPILLWAY_STAT_COUNTER
  w.Add("limit_maxbytes", server.options().memory_limit_bytes);
  w.Add("threads", uint64_t{server.shards()});
  w.Add("bytes", bytes);
  w.Add("curr_items", items);
  w.Add("evictions", evictions);
  w.Add("reclaimed", reclaimed);
  // spillway's own.
  w.Add("io_backend", server.io_backend());
  w.Add("cross_shard_hops", hops);
  Spill(server, shards, &w);
  for (size_t i = 0; i < shards.size(); ++i) {
    const Counters& c = shards[i].counters;
    w.Add("shard_" + std::to_string(i) + "_ops", c.cmd_get + c.cmd_set + c.cmd_touch);
    w.Add("shard_" + std::to_string(i) + "_items", shards[i].store.items);
  }
}

void Settings(Server& server, Reply* out) {
  StatWriter w(out);
  const ServerOptions& o = server.options();
  w.Add("maxbytes", o.memory_limit_bytes);
  w.Add("maxconns", o.max_connections);
  w.Add("tcpport", static_cast<uint64_t>(server.port()));
  w.Add("inter", o.listen);
  w.Add("evictions", "on");
  w.Add("num_threads", uint64_t{server.shards()});
  w.Add("cas_enabled", "yes");
  w.Add("item_size_max", o.max_item_size);
  w.Add("idle_timeout", static_cast<uint64_t>(o.idle_timeout_seconds));
  w.Add("shutdown_command", o.enable_shutdown ? "yes" : "no");
  w.Add("io_backend", server.io_backend());
}

}  // namespace

void Connection::Stats(std::string_view argument) {
  Server& server = shard_->server();
  if (argument.empty()) {
    auto gathered = std::make_shared<std::vector<Snapshot>>(server.shards());
    Broadcast(
        [gathered](Shard& s) {
          // Each shard writes only its own element, on its own thread.
          (*gathered)[s.index()] = Snapshot{s.counters(), s.store().stats(), s.hops(),
                                            s.tier() ? s.tier()->stats() : SpillStats()};
          return std::string();
        },
        [gathered, &server](Reply& r) {
          General(server, *gathered, &r);
          r.Append("END\r\n");
        });
    return;
  }
  if (argument == "settings") {
    Reply& r = Ready();
    Settings(server, &r);
    r.Append("END\r\n");
    return;
  }
  if (argument == "reset") {
    Broadcast(
        [](Shard& s) {
          s.counters() = Counters();
          return std::string();
        },
        [](Reply& r) { r.Append("RESET\r\n"); });
    return;
  }
  if (argument == "items" || argument == "slabs") {
    // No slab classes here: one class (1) holds every item, and "slabs" shows the segments.
    const bool items = argument == "items";
    auto gathered = std::make_shared<std::vector<storage::StoreStats>>(server.shards());
    Broadcast(
        [gathered](Shard& s) {
          (*gathered)[s.index()] = s.store().stats();
          return std::string();
        },
        [gathered, items](Reply& r) {
          storage::StoreStats t;
          for (const storage::StoreStats& s : *gathered) {
            t.items += s.items;
            t.item_bytes += s.item_bytes;
            t.allocated_bytes += s.allocated_bytes;
            t.limit_bytes += s.limit_bytes;
            t.segments += s.segments;
            t.segment_size = s.segment_size;
            t.evictions += s.evictions;
            t.expired_unfetched += s.expired_unfetched;
            t.reclaimed += s.reclaimed;
            t.moved += s.moved;
            t.index_capacity += s.index_capacity;
          }
          StatWriter w(&r);
          if (items) {
            w.Add("items:1:number", t.items);
            w.Add("items:1:evicted", t.evictions);
            w.Add("items:1:reclaimed", t.reclaimed);
            w.Add("items:1:expired_unfetched", t.expired_unfetched);
            w.Add("items:1:moved_to_main", t.moved);
          } else {
            w.Add("1:chunk_size", t.segment_size);
            w.Add("1:total_pages", t.segments);
            w.Add("1:used_chunks", t.items);
            w.Add("1:mem_requested", t.item_bytes);
            w.Add("active_slabs", uint64_t{1});
            w.Add("total_malloced", t.allocated_bytes);
            w.Add("segment_size", t.segment_size);
            w.Add("segments", t.segments);
            w.Add("index_slots", t.index_capacity);
            w.Add("limit_bytes", t.limit_bytes);
          }
          r.Append("END\r\n");
        });
    return;
  }
  if (argument == "conns") {
    Broadcast(
        [](Shard& s) {
          std::string lines;
          s.ForEachConnection([&](ConnId id, const Connection& c) {
            const std::string prefix = "STAT " + std::to_string(id) + ":";
            lines += prefix + "shard " + std::to_string(s.index()) + "\r\n";
            lines += prefix + "state " + (c.busy() ? "conn_mwrite" : "conn_parse_cmd") + "\r\n";
            lines += prefix + "secs_since_last_cmd " + std::to_string(s.now() - c.last_active()) +
                     "\r\n";
          });
          return lines;
        },
        [](Reply& r) { r.Append("END\r\n"); });
    return;
  }
  // memcached 1.6.18 answers a stats group it does not have with ERROR.
  Ready().Append("ERROR\r\n");
}

}  // namespace spillway::server
