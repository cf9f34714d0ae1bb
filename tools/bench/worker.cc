// Error kinds counted in Stats::errors:
//   connect_failed      a connection could not be made (the run still starts with the others)
//   malformed           a reply that is not memcached's protocol (or a VA line whose return flags
//                       are not the ones asked for); the connection is dropped
//   unexpected_reply    a well-formed reply that does not answer the request in front (out of
//                       order, one VALUE more than keys asked, a reply with nothing asked);
//                       connection dropped
//   wrong_key           a VALUE (or VA k<key>) for a key that is not among the keys of the get in
//                       front still unanswered, in request order; connection dropped
//   wrong_value         a hit whose bytes are not the value of its key at the version its flags
//                       name (--validate=full)
//   stale_value         a hit older than a version of its key acknowledged before the get was
//                       sent (versions.h; --validate=full)
//   not_stored          NOT_STORED (NS) for a set
//   server_error, client_error, error   the server's own error replies (the request completes,
//                       except inside a meta multi-get, which its MN completes)
//   connection_closed   the server closed or reset a connection, or a send failed
//   no_connection       a request for a server none of whose connections is left (several
//                       servers only); it is not sent
//   lost_in_flight      requests that were pending on a dropped connection
//   timeout             requests still pending 5 s after the phase should have ended

#include "tools/bench/worker.h"

#include <glog/logging.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <span>
#include <unordered_map>
#include <vector>

#include "server/event_loop.h"
#include "tools/bench/net.h"
#include "tools/bench/ring.h"
#include "tools/bench/values.h"
#include "tools/bench/wire.h"

namespace spillway::bench {

using protocol::ResponseType;
using server::ConnId;

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

uint64_t Stats::error_count() const {
  uint64_t n = 0;
  for (const auto& [kind, count] : errors) n += count;
  return n;
}

void Stats::Merge(const Stats& other) {
  gets += other.gets;
  sets += other.sets;
  hits += other.hits;
  misses += other.misses;
  latency_ns.Merge(other.latency_ns);
  for (const auto& [kind, count] : other.errors) errors[kind] += count;
  if (servers.size() < other.servers.size()) servers.resize(other.servers.size());
  for (size_t i = 0; i < other.servers.size(); ++i) {
    servers[i].requests += other.servers[i].requests;
    servers[i].keys += other.servers[i].keys;
  }
}

namespace {

constexpr int64_t kDrainGraceNs = 5'000'000'000;
constexpr int64_t kPublishNs = 200'000'000;

// A request in flight. 16 bytes: the rings of them are walked for every reply.
struct Op {
  int64_t start_ns;
  uint16_t keys;  // the key slots it took: 1 for a set, --mget for a get (fewer for a piece)
  bool is_set;
  uint32_t batch = Batches::kNone;  // a piece of a get split over several servers: its batch
};
static_assert(sizeof(Op) == 16);

struct KeySlot {
  uint64_t key;
  // A set: its version. A get: in `version`, the oldest version it may return.
  VersionTable::Ticket ticket;
};

struct Conn {
  ConnId id = 0;
  uint32_t server = 0;  // index into BenchOptions::servers
  bool dead = false;
  bool sending = false;
  uint32_t answered = 0;  // keys of the get in front answered (hits) or passed over (misses)
  Ring<Op> ops;
  Ring<KeySlot> keys;       // the keys of `ops`, in order
  std::string rx;           // an incomplete reply carried over to the next receive
  std::string tx_queue;     // requests encoded this turn
  std::string tx_inflight;  // the bytes of the Send in flight
  size_t tx_offset = 0;
  iovec iov{};
};

const char* ErrorKind(ResponseType type) {
  switch (type) {
    case ResponseType::kServerError:
      return "server_error";
    case ResponseType::kClientError:
      return "client_error";
    case ResponseType::kError:
      return "error";
    default:
      return nullptr;
  }
}

}  // namespace

class Worker::Impl final : public server::LoopHandler {
 public:
  Impl(const BenchOptions& options, Worker* owner, KeyGenerator keys, uint64_t seed)
      : options_(options),
        owner_(owner),
        versions_(owner->versions_),
        router_(owner->router_),
        text_(options.protocol == Protocol::kText),
        meta_batch_(options.protocol == Protocol::kMeta && options.mget > 1),
        keys_(std::move(keys)),
        rng_(seed),
        values_(options.value_size, options.seed),
        scratch_(options.mget) {}

  std::string Connect(Stats* stats) {
    if (options_.io != "epoll") {
      std::string why_not;
      loop_ = server::MakeUringLoop(this, &why_not);
      if (loop_ == nullptr && options_.io == "uring") return "io_uring not usable: " + why_not;
      if (loop_ == nullptr && owner_->index_ == 0) {
        LOG(WARNING) << "io_uring not usable (" << why_not << "), using epoll";
      }
    }
    if (loop_ == nullptr) loop_ = server::MakeEpollLoop(this);
    // Server s has connections [s * per_server, (s + 1) * per_server).
    const size_t per_server = static_cast<size_t>(options_.connections);
    const size_t servers = router_ == nullptr ? 1 : options_.servers.size();
    conns_.resize(per_server * servers);
    live_.assign(servers, 0);
    next_of_server_.assign(servers, 0);
    chosen_.resize(servers);
    for (size_t i = 0; i < conns_.size(); ++i) {
      Conn& c = conns_[i];
      c.server = static_cast<uint32_t>(i / per_server);
      c.ops.Reserve(static_cast<size_t>(options_.pipeline));
      c.keys.Reserve(static_cast<size_t>(options_.pipeline) * options_.mget);
      std::string error;
      const int fd = ConnectTo(options_.servers[c.server], &error);
      if (fd < 0) {
        ++stats->errors["connect_failed"];
        c.dead = true;
        if (i % per_server == 0) return error;  // each server's first connection must succeed
        continue;
      }
      ++live_[c.server];
      to_adopt_.emplace_back(i, fd);
    }
    return "";
  }

  std::string_view backend() const { return loop_->name(); }

  void Run(const Phase& phase, Stats* stats) {
    phase_ = phase;
    stats_ = stats;
    if (router_ != nullptr) stats_->servers.resize(options_.servers.size());
    issued_ = 0;
    next_prefill_key_ = phase.first_key;
    ended_ns_ = 0;
    owner_->completed_.store(0, std::memory_order_relaxed);
    if (Publishing()) {
      std::lock_guard lock(owner_->latest_mu_);
      owner_->latest_.Reset();
    }
    published_ns_ = NowNs();
    std::chrono::nanoseconds tick = std::chrono::milliseconds(100);
    if (OpenLoop()) {
      // Requests are due every interval_ns_: turns come at least every 100 us to send them (a
      // request is timed from when it was due, so a late turn shows in the latency).
      interval_ns_ = 1e9 * options_.threads / options_.rate;
      next_due_ns_ = static_cast<double>(NowNs());
      tick = std::chrono::microseconds(100);
    }
    if (tick != tick_) loop_->SetTick(tick);
    tick_ = tick;
    loop_->Wake();  // a first turn, whose end sends the first requests
    loop_->Run();
  }

  void OnAccept(ConnId) override {}
  void OnWake() override {
    // Adopted from inside Run: an io_uring loop submits only once running, and a thousand
    // connections' receives do not fit in its submission queue at once before that.
    for (const auto& [i, fd] : to_adopt_) {
      conns_[i].id = loop_->Adopt(fd);
      index_[conns_[i].id] = i;
    }
    to_adopt_.clear();
  }
  void OnClosed(ConnId) override {}

  void OnTick() override {
    const int64_t now = NowNs();
    const int64_t end =
        phase_.quota == 0 && phase_.kind != Phase::kPrefill ? phase_.deadline_ns : ended_ns_;
    if (end != 0 && now > end + kDrainGraceNs) {
      for (Conn& c : conns_) {
        if (!c.dead && !c.ops.empty()) Drop(c, "timeout");
      }
    }
    if (Publishing() && now - published_ns_ >= kPublishNs) {
      std::lock_guard lock(owner_->latest_mu_);
      owner_->latest_ = stats_->latency_ns;
      published_ns_ = now;
    }
  }

  void OnReceive(ConnId id, std::string_view bytes) override {
    Conn& c = conns_[index_.at(id)];
    if (c.dead) return;
    const int64_t now = NowNs();
    std::string_view in = bytes;
    if (!c.rx.empty()) {
      c.rx.append(bytes);
      in = c.rx;
    }
    size_t off = 0;
    while (off < in.size() && !c.dead) {
      const protocol::ResponseParseResult r = ParseReply(in.substr(off));
      if (r.status == protocol::ResponseParseStatus::kNeedMore) break;
      if (r.status == protocol::ResponseParseStatus::kMalformed) {
        Drop(c, "malformed");
        return;
      }
      off += r.consumed;
      Handle(c, r.response, now);
    }
    if (c.dead) return;
    if (in.data() == c.rx.data()) {
      c.rx.erase(0, off);
    } else {
      c.rx.assign(in.substr(off));
    }
  }

  void OnHangup(ConnId id, int) override { Drop(conns_[index_.at(id)], "connection_closed"); }

  void OnSent(ConnId id, int64_t bytes) override {
    Conn& c = conns_[index_.at(id)];
    if (c.dead) return;
    if (bytes < 0) {
      Drop(c, "connection_closed");
      return;
    }
    c.tx_offset += static_cast<size_t>(bytes);
    if (c.tx_offset < c.tx_inflight.size()) {  // a partial send: the rest now
      c.iov = {c.tx_inflight.data() + c.tx_offset, c.tx_inflight.size() - c.tx_offset};
      loop_->Send(c.id, &c.iov, 1);
      return;
    }
    c.sending = false;
    c.tx_inflight.clear();
  }

  void OnTurnEnd() override {
    const int64_t now = NowNs();
    bool busy = false;
    bool live = false;
    if (router_ != nullptr) {
      IssueRouted(now);
    } else if (OpenLoop()) {
      IssueDue(now);
    }
    const bool fill = router_ == nullptr && !OpenLoop();
    const size_t pipeline = static_cast<size_t>(options_.pipeline);
    for (Conn& c : conns_) {
      if (c.dead) continue;
      live = true;
      while (fill && c.ops.size() < pipeline && CanIssue(now)) Issue(c, now);
      if (!c.sending && !c.tx_queue.empty()) {
        c.tx_inflight.swap(c.tx_queue);
        c.tx_queue.clear();
        c.tx_offset = 0;
        c.iov = {c.tx_inflight.data(), c.tx_inflight.size()};
        c.sending = true;
        loop_->Send(c.id, &c.iov, 1);
      }
      busy = busy || !c.ops.empty();
    }
    owner_->completed_.store(stats_->completed(), std::memory_order_relaxed);
    if (!live || (!busy && !held_valid_ && !CanIssue(now))) loop_->Stop();
  }

 private:
  bool Publishing() const { return options_.progress && phase_.kind == Phase::kMeasure; }
  bool OpenLoop() const { return options_.rate > 0 && phase_.kind != Phase::kPrefill; }

  bool CanIssue(int64_t now) {
    bool more;
    if (phase_.kind == Phase::kPrefill) {
      more = next_prefill_key_ < phase_.end_key;
    } else {
      more = phase_.quota != 0 ? issued_ < phase_.quota : now < phase_.deadline_ns;
    }
    if (!more && ended_ns_ == 0) ended_ns_ = now;
    return more;
  }

  // Open loop: every request whose time has come goes to the next connection with room (round
  // robin), timed from when it was due. When every connection is full, the rest wait, and their
  // wait counts in their latency.
  void IssueDue(int64_t now) {
    for (size_t tried = 0; next_due_ns_ <= static_cast<double>(now) && CanIssue(now);) {
      Conn& c = conns_[next_conn_];
      next_conn_ = (next_conn_ + 1) % conns_.size();
      if (c.dead || c.ops.size() >= static_cast<size_t>(options_.pipeline)) {
        if (++tried == conns_.size()) return;
        continue;
      }
      tried = 0;
      Issue(c, static_cast<int64_t>(next_due_ns_));
      next_due_ns_ += interval_ns_;
    }
  }

  void Issue(Conn& c, int64_t start_ns) { Enqueue(c, Draw(start_ns), scratch_.data()); }

  // The next request of the workload: an Op, and its keys in scratch_.
  Op Draw(int64_t start_ns) {
    Op op{start_ns, 1, true};
    if (phase_.kind != Phase::kPrefill) {
      op.is_set = rng_.Below(options_.set_ratio + options_.get_ratio) < options_.set_ratio;
    }
    ++issued_;
    if (op.is_set) {
      scratch_[0] = phase_.kind == Phase::kPrefill ? next_prefill_key_++ : keys_.Next();
    } else {
      op.keys = static_cast<uint16_t>(options_.mget);
      for (uint32_t i = 0; i < op.keys; ++i) scratch_[i] = keys_.Next();
    }
    return op;
  }

  // Encodes `op` of `keys` (op.keys of them) on `c`: its versions are taken now, as it is sent.
  void Enqueue(Conn& c, const Op& op, const uint64_t* keys) {
    if (op.is_set) {
      VersionTable::Ticket ticket;
      if (versions_ != nullptr) ticket = versions_->BeginSet(keys[0]);
      AppendSet(options_.protocol, options_.key_prefix, keys[0], ticket.version, values_,
                &c.tx_queue);
      c.keys.push_back({keys[0], ticket});
    } else {
      for (uint32_t i = 0; i < op.keys; ++i) {
        VersionTable::Ticket floor;
        if (versions_ != nullptr) floor.version = versions_->Floor(keys[i]);
        c.keys.push_back({keys[i], floor});
      }
      AppendGet(options_.protocol, options_.key_prefix, keys, op.keys, &c.tx_queue);
    }
    c.ops.push_back(op);
  }

  // Several servers: requests are drawn one at a time (when due, in an open loop) and placed;
  // one that cannot be placed yet is held, and nothing is drawn behind it.
  void IssueRouted(int64_t now) {
    const bool open = OpenLoop();
    while (true) {
      if (!held_valid_) {
        if ((open && next_due_ns_ > static_cast<double>(now)) || !CanIssue(now)) return;
        held_ = Draw(open ? static_cast<int64_t>(next_due_ns_) : 0);
        held_valid_ = true;
        if (open) next_due_ns_ += interval_ns_;
      }
      if (!Place(open ? held_.start_ns : now)) return;
      held_valid_ = false;
    }
  }

  // Sends held_ (keys in scratch_): a piece to each of its keys' servers, each on the next
  // connection there with room. False, with nothing sent, when one of them has none.
  bool Place(int64_t start_ns) {
    split_.Split(*router_, std::span<const uint64_t>(scratch_.data(), held_.keys));
    const auto pieces = split_.pieces();
    for (size_t p = 0; p < pieces.size(); ++p) {
      if (live_[pieces[p].server] == 0) {
        ++stats_->errors["no_connection"];
        return true;  // dropped: waiting would never end
      }
      chosen_[p] = RoomOn(pieces[p].server);
      if (chosen_[p] == kNoRoom) return false;
    }
    Op op = held_;
    op.start_ns = start_ns;
    if (pieces.size() > 1) op.batch = batches_.Open(start_ns, static_cast<uint32_t>(pieces.size()));
    for (size_t p = 0; p < pieces.size(); ++p) {
      op.keys = static_cast<uint16_t>(pieces[p].end - pieces[p].begin);
      Enqueue(conns_[chosen_[p]], op, split_.keys().data() + pieces[p].begin);
      Stats::ServerLoad& load = stats_->servers[pieces[p].server];
      ++load.requests;
      load.keys += op.keys;
    }
    return true;
  }

  // The next connection to `server` with room for a request, round robin; kNoRoom if none.
  size_t RoomOn(uint32_t server) {
    const size_t per_server = static_cast<size_t>(options_.connections);
    size_t& next = next_of_server_[server];
    for (size_t tried = 0; tried < per_server; ++tried) {
      const size_t i = server * per_server + next;
      next = next + 1 == per_server ? 0 : next + 1;
      const Conn& c = conns_[i];
      if (!c.dead && c.ops.size() < static_cast<size_t>(options_.pipeline)) return i;
    }
    return kNoRoom;
  }

  // A piece of a split get has its answer (or never will): the get counts when its last does.
  void EndPiece(uint32_t batch, bool answered, int64_t now) {
    int64_t start_ns = 0;
    bool complete = false;
    if (batches_.Close(batch, answered, &start_ns, &complete) && complete) {
      ++stats_->gets;
      stats_->latency_ns.Record(static_cast<uint64_t>(now - start_ns));
    }
  }

  // Whether `op` is a meta get of quiet mg lines and an mn (a split get's piece of one key is a
  // plain mg, as AppendGet encodes it).
  bool MetaBatch(const Op& op) const { return meta_batch_ && op.keys > 1; }

  void Handle(Conn& c, const protocol::Response& r, int64_t now) {
    if (c.ops.empty()) return Drop(c, "unexpected_reply");
    const Op& op = c.ops.front();
    if (const char* kind = ErrorKind(r.type)) {
      ++stats_->errors[kind];
      // Inside a meta multi-get an error answers one of its mg lines; its MN still follows.
      if (!op.is_set && MetaBatch(op)) return;
      if (op.batch != Batches::kNone) EndPiece(op.batch, /*answered=*/false, now);
      return Pop(c, /*stored=*/false);
    }
    if (op.is_set) return HandleSetReply(c, op, r, now);
    switch (r.type) {
      case ResponseType::kValue:
        if (!text_) break;
        return Hit(c, op, r.key, r.client_flags, r.value);
      case ResponseType::kEnd:
        if (!text_) break;
        return FinishGet(c, op, now);
      case ResponseType::kMetaValue: {
        if (text_) break;
        uint32_t version = 0;
        std::string_view key;
        if (!ParseMetaValueFlags(r.text, MetaBatch(op), &version, &key)) {
          return Drop(c, "malformed");
        }
        Hit(c, op, key, version, r.value);
        if (!MetaBatch(op) && !c.dead) FinishGet(c, op, now);
        return;
      }
      case ResponseType::kMetaMiss:
        if (text_ || MetaBatch(op) || !r.text.empty()) break;
        return FinishGet(c, op, now);
      case ResponseType::kMetaNoop:
        if (!MetaBatch(op)) break;
        return FinishGet(c, op, now);
      default:
        break;
    }
    Drop(c, "unexpected_reply");
  }

  void HandleSetReply(Conn& c, const Op& op, const protocol::Response& r, int64_t now) {
    // We ask for no meta return flags, so an HD or NS that carries some is not our answer.
    const bool stored = text_ ? r.type == ResponseType::kStored
                              : r.type == ResponseType::kMetaHeader && r.text.empty();
    const bool not_stored = text_ ? r.type == ResponseType::kNotStored
                                  : r.type == ResponseType::kMetaNotStored && r.text.empty();
    if (stored) {
      ++stats_->sets;
      stats_->latency_ns.Record(static_cast<uint64_t>(now - op.start_ns));
      return Pop(c, /*stored=*/true);
    }
    if (not_stored) {
      ++stats_->errors["not_stored"];
      return Pop(c, /*stored=*/false);
    }
    Drop(c, "unexpected_reply");
  }

  // A hit for the get in front: `key` names it (checked unless a single meta get, whose VA does
  // not carry it), `version` is its client flags. Keys are answered in request order, so the
  // keys passed over on the way to it are misses.
  void Hit(Conn& c, const Op& op, std::string_view key, uint32_t version, std::string_view value) {
    if (c.answered >= op.keys) return Drop(c, "unexpected_reply");
    uint32_t j = c.answered;
    if (text_ || MetaBatch(op)) {
      uint64_t index = 0;
      if (!ParseKeyIndex(options_.key_prefix, key, &index)) return Drop(c, "wrong_key");
      while (j < op.keys && c.keys.at(j).key != index) ++j;
      if (j == op.keys) return Drop(c, "wrong_key");
    }
    stats_->misses += j - c.answered;
    ++stats_->hits;
    c.answered = j + 1;
    if (options_.validate == Validate::kFull) {
      const KeySlot& slot = c.keys.at(j);
      if (!values_.Matches(slot.key, version, value)) {
        ++stats_->errors["wrong_value"];
      } else if (version < slot.ticket.version) {
        ++stats_->errors["stale_value"];
      }
    }
  }

  void FinishGet(Conn& c, const Op& op, int64_t now) {
    stats_->misses += op.keys - c.answered;
    if (op.batch == Batches::kNone) {
      ++stats_->gets;
      stats_->latency_ns.Record(static_cast<uint64_t>(now - op.start_ns));
    } else {
      EndPiece(op.batch, /*answered=*/true, now);
    }
    Pop(c, /*stored=*/false);
  }

  // The request in front is answered: its key slots go, and a set's answer goes to the versions.
  void Pop(Conn& c, bool stored) {
    const Op& op = c.ops.front();
    if (op.is_set && versions_ != nullptr) {
      const KeySlot& slot = c.keys.front();
      versions_->EndSet(slot.key, slot.ticket, stored);
    }
    c.keys.pop_front(op.keys);
    c.ops.pop_front();
    c.answered = 0;
  }

  // Counts the error, loses what was in flight and closes: its id is dead to us from here on.
  // The lost sets stay unanswered in the versions, which only makes the stale check looser.
  void Drop(Conn& c, const char* error) {
    if (c.dead) return;
    ++stats_->errors[error];
    if (!c.ops.empty()) stats_->errors["lost_in_flight"] += c.ops.size();
    for (size_t i = 0; i < c.ops.size(); ++i) {
      if (c.ops.at(i).batch != Batches::kNone) EndPiece(c.ops.at(i).batch, /*answered=*/false, 0);
    }
    --live_[c.server];
    c.ops.clear();
    c.keys.clear();
    c.answered = 0;
    c.dead = true;
    loop_->Close(c.id);
  }

  const BenchOptions& options_;
  Worker* const owner_;
  VersionTable* const versions_;
  const Router* const router_;  // null with one server
  const bool text_;
  const bool meta_batch_;  // a get of several keys is N quiet mg lines and an mn
  KeyGenerator keys_;
  Rng rng_;
  ValueModel values_;
  std::vector<uint64_t> scratch_;  // the keys of the get being encoded
  Phase phase_;
  Stats* stats_ = nullptr;
  std::vector<Conn> conns_;
  std::unordered_map<ConnId, size_t> index_;
  std::vector<std::pair<size_t, int>> to_adopt_;  // connected, not yet handed to the loop
  uint64_t issued_ = 0;
  uint64_t next_prefill_key_ = 0;
  int64_t ended_ns_ = 0;
  int64_t published_ns_ = 0;
  std::chrono::nanoseconds tick_{0};
  double interval_ns_ = 0;  // open loop: between two requests of this thread
  double next_due_ns_ = 0;  // open loop: when the next request is due
  size_t next_conn_ = 0;
  // Several servers only.
  static constexpr size_t kNoRoom = SIZE_MAX;
  std::vector<uint32_t> live_;          // per server: its connections not dead
  std::vector<size_t> next_of_server_;  // per server: where RoomOn looks first
  std::vector<size_t> chosen_;          // per piece of the request being placed: its connection
  SplitGet split_;
  Batches batches_;
  Op held_{};  // drawn, not yet placed (when held_valid_); its keys are in scratch_
  bool held_valid_ = false;
  // Last, so it goes first: a Send in flight points into conns_.
  std::unique_ptr<server::EventLoop> loop_;
};

Worker::Worker(const BenchOptions& options, int index, std::shared_ptr<const ZipfTable> zipf,
               VersionTable* versions, const Router* router)
    : options_(options),
      index_(index),
      zipf_(std::move(zipf)),
      versions_(versions),
      router_(router) {}

Worker::~Worker() = default;

std::string Worker::Connect(Stats* stats) {
  const uint64_t seed = Mix64(options_.seed * 1000003 + static_cast<uint64_t>(index_));
  const uint64_t start =
      options_.keys / static_cast<uint64_t>(options_.threads) * static_cast<uint64_t>(index_);
  KeyGenerator keys(options_.key_pattern, options_.keys, zipf_, seed, start);
  impl_ = std::make_unique<Impl>(options_, this, std::move(keys), seed ^ 0x9e37);
  std::string why = impl_->Connect(stats);
  if (why.empty()) backend_ = std::string(impl_->backend());
  return why;
}

void Worker::Run(const Phase& phase, Stats* stats) { impl_->Run(phase, stats); }

void Worker::LatestLatency(Histogram* out) const {
  std::lock_guard lock(latest_mu_);
  *out = latest_;
}

}  // namespace spillway::bench
