// Error kinds counted in Stats::errors:
//   connect_failed      a connection could not be made (the run still starts with the others)
//   malformed           a reply that is not memcached's protocol; the connection is dropped
//   unexpected_reply    a well-formed reply that does not answer the request in front (out of
//                       order, a second VALUE, a reply with nothing asked); connection dropped
//   wrong_key           a VALUE for another key than the one asked; connection dropped
//   wrong_value         a hit whose bytes are not the value this run writes for the key
//   not_stored          NOT_STORED for a set
//   server_error, client_error, error   the server's own error replies (the request completes)
//   connection_closed   the server closed or reset a connection, or a send failed
//   lost_in_flight      requests that were pending on a dropped connection
//   timeout             requests still pending 5 s after the phase should have ended

#include "tools/bench/worker.h"

#include <glog/logging.h>
#include <unistd.h>

#include <chrono>
#include <deque>
#include <unordered_map>
#include <vector>

#include "protocol/encoder.h"
#include "protocol/response_parser.h"
#include "server/event_loop.h"
#include "tools/bench/net.h"

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
}

namespace {

constexpr int64_t kDrainGraceNs = 5'000'000'000;

struct Pending {
  bool is_set;
  uint64_t key;
  int64_t start_ns;
};

struct Conn {
  ConnId id = 0;
  bool dead = false;
  bool sending = false;
  bool got_value = false;  // the get in front has had its VALUE; END completes it
  std::deque<Pending> pending;
  std::string rx;           // an incomplete reply carried over to the next receive
  std::string tx_queue;     // requests encoded this turn
  std::string tx_inflight;  // the bytes of the Send in flight
  size_t tx_offset = 0;
  iovec iov{};
};

}  // namespace

class Worker::Impl final : public server::LoopHandler {
 public:
  Impl(const BenchOptions& options, const Phase& phase, KeyGenerator keys, uint64_t seed,
       Stats* stats, std::atomic<uint64_t>* completed)
      : options_(options),
        phase_(phase),
        keys_(std::move(keys)),
        rng_(seed),
        values_(options.value_size, options.seed),
        stats_(stats),
        completed_(completed),
        next_prefill_key_(phase.first_key) {}

  std::string Start(std::unique_ptr<server::EventLoop> loop, int worker_index) {
    loop_ = std::move(loop);
    const size_t n = static_cast<size_t>(options_.connections);
    conns_.resize(n);
    for (size_t i = 0; i < n; ++i) {
      const size_t global = static_cast<size_t>(worker_index) * n + i;
      const ServerAddress& server = options_.servers[global % options_.servers.size()];
      std::string error;
      const int fd = ConnectTo(server, &error);
      if (fd < 0) {
        ++stats_->errors["connect_failed"];
        conns_[i].dead = true;
        if (i == 0) return error;
        continue;
      }
      to_adopt_.emplace_back(i, fd);
    }
    if (OpenLoop()) {
      // Requests are due every interval_ns_: turns come at least every 100 us to send them (a
      // request is timed from when it was due, so a late turn shows in the latency).
      interval_ns_ = 1e9 * options_.threads / options_.rate;
      next_due_ns_ = static_cast<double>(NowNs());
      loop_->SetTick(std::chrono::microseconds(100));
    } else {
      loop_->SetTick(std::chrono::milliseconds(100));
    }
    loop_->Wake();  // a first turn, whose end sends the first requests
    loop_->Run();
    return "";
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
    const int64_t end = phase_.quota == 0 ? phase_.deadline_ns : ended_ns_;
    if (end != 0 && now > end + kDrainGraceNs) {
      for (Conn& c : conns_) {
        if (!c.dead && !c.pending.empty()) Drop(c, "timeout");
      }
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
      const protocol::ResponseParseResult r = protocol::ParseResponse(in.substr(off));
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
    if (OpenLoop()) IssueDue(now);
    for (Conn& c : conns_) {
      if (c.dead) continue;
      live = true;
      while (!OpenLoop() && c.pending.size() < static_cast<size_t>(options_.pipeline) &&
             CanIssue(now)) {
        Issue(c, now);
      }
      if (!c.sending && !c.tx_queue.empty()) {
        c.tx_inflight.swap(c.tx_queue);
        c.tx_queue.clear();
        c.tx_offset = 0;
        c.iov = {c.tx_inflight.data(), c.tx_inflight.size()};
        c.sending = true;
        loop_->Send(c.id, &c.iov, 1);
      }
      busy = busy || !c.pending.empty();
    }
    completed_->store(stats_->completed(), std::memory_order_relaxed);
    if (!live || (!busy && !CanIssue(now))) loop_->Stop();
  }

 private:
  bool CanIssue(int64_t now) {
    if (phase_.kind == Phase::kPrefill) return next_prefill_key_ < phase_.end_key;
    const bool more = phase_.quota != 0 ? issued_ < phase_.quota : now < phase_.deadline_ns;
    if (!more && ended_ns_ == 0) ended_ns_ = now;
    return more;
  }

  bool OpenLoop() const { return options_.rate > 0 && phase_.kind == Phase::kMeasure; }

  // Open loop: every request whose time has come goes to the next connection with room (round
  // robin), timed from when it was due. When every connection is full, the rest wait, and their
  // wait counts in their latency.
  void IssueDue(int64_t now) {
    for (size_t tried = 0; next_due_ns_ <= static_cast<double>(now) && CanIssue(now);) {
      Conn& c = conns_[next_conn_];
      next_conn_ = (next_conn_ + 1) % conns_.size();
      if (c.dead || c.pending.size() >= static_cast<size_t>(options_.pipeline)) {
        if (++tried == conns_.size()) return;
        continue;
      }
      tried = 0;
      Issue(c, static_cast<int64_t>(next_due_ns_));
      next_due_ns_ += interval_ns_;
    }
  }

  void Issue(Conn& c, int64_t start_ns) {
    Pending p{};
    p.start_ns = start_ns;
    if (phase_.kind == Phase::kPrefill) {
      p.is_set = true;
      p.key = next_prefill_key_++;
    } else {
      p.is_set = rng_.Below(options_.set_ratio + options_.get_ratio) < options_.set_ratio;
      p.key = keys_.Next();
    }
    ++issued_;
    key_.clear();
    AppendKey(options_.key_prefix, p.key, &key_);
    protocol::Request request;
    request.key = key_;
    if (p.is_set) {
      value_.clear();
      values_.AppendValue(p.key, &value_);
      request.command = protocol::Command::kSet;
      request.value = value_;
    } else {
      request.command = protocol::Command::kGet;
    }
    protocol::EncodeRequest(request, &c.tx_queue);
    c.pending.push_back(p);
  }

  void Handle(Conn& c, const protocol::Response& r, int64_t now) {
    if (c.pending.empty()) {
      Drop(c, "unexpected_reply");
      return;
    }
    const Pending& p = c.pending.front();
    switch (r.type) {
      case ResponseType::kServerError:
        return Complete(c, "server_error");
      case ResponseType::kClientError:
        return Complete(c, "client_error");
      case ResponseType::kError:
        return Complete(c, "error");
      default:
        break;
    }
    if (p.is_set) {
      if (r.type == ResponseType::kStored) {
        ++stats_->sets;
        stats_->latency_ns.Record(static_cast<uint64_t>(now - p.start_ns));
        return Complete(c, nullptr);
      }
      if (r.type == ResponseType::kNotStored) return Complete(c, "not_stored");
      return Drop(c, "unexpected_reply");
    }
    if (r.type == ResponseType::kValue && !c.got_value) {
      key_.clear();
      AppendKey(options_.key_prefix, p.key, &key_);
      if (r.key != key_) return Drop(c, "wrong_key");
      if (!values_.Matches(p.key, r.value)) ++stats_->errors["wrong_value"];
      c.got_value = true;
      return;
    }
    if (r.type == ResponseType::kEnd) {
      ++stats_->gets;
      ++(c.got_value ? stats_->hits : stats_->misses);
      stats_->latency_ns.Record(static_cast<uint64_t>(now - p.start_ns));
      return Complete(c, nullptr);
    }
    Drop(c, "unexpected_reply");
  }

  void Complete(Conn& c, const char* error) {
    if (error != nullptr) ++stats_->errors[error];
    c.got_value = false;
    c.pending.pop_front();
  }

  // Counts the error, loses what was in flight and closes: its id is dead to us from here on.
  void Drop(Conn& c, const char* error) {
    if (c.dead) return;
    ++stats_->errors[error];
    if (!c.pending.empty()) stats_->errors["lost_in_flight"] += c.pending.size();
    c.pending.clear();
    c.dead = true;
    loop_->Close(c.id);
  }

  const BenchOptions& options_;
  const Phase phase_;
  KeyGenerator keys_;
  Rng rng_;
  ValueModel values_;
  Stats* const stats_;
  std::atomic<uint64_t>* const completed_;
  std::vector<Conn> conns_;
  std::unordered_map<ConnId, size_t> index_;
  std::vector<std::pair<size_t, int>> to_adopt_;  // connected, not yet handed to the loop
  uint64_t issued_ = 0;
  uint64_t next_prefill_key_;
  int64_t ended_ns_ = 0;
  double interval_ns_ = 0;  // open loop: between two requests of this thread
  double next_due_ns_ = 0;  // open loop: when the next request is due
  size_t next_conn_ = 0;
  std::string key_;    // scratch
  std::string value_;  // scratch
  // Last, so it goes first: a Send in flight points into conns_.
  std::unique_ptr<server::EventLoop> loop_;
};

Worker::Worker(const BenchOptions& options, int index, std::shared_ptr<const ZipfTable> zipf)
    : options_(options), index_(index), zipf_(std::move(zipf)) {}

Worker::~Worker() = default;

std::string Worker::Run(const Phase& phase, Stats* stats) {
  const uint64_t seed = Mix64(options_.seed * 1000003 + static_cast<uint64_t>(index_));
  const uint64_t start =
      options_.keys / static_cast<uint64_t>(options_.threads) * static_cast<uint64_t>(index_);
  KeyGenerator keys(options_.key_pattern, options_.keys, zipf_, seed, start);
  completed_.store(0, std::memory_order_relaxed);
  Impl impl(options_, phase, std::move(keys), seed ^ 0x9e37, stats, &completed_);
  std::unique_ptr<server::EventLoop> loop;
  if (options_.io != "epoll") {
    std::string why_not;
    loop = server::MakeUringLoop(&impl, &why_not);
    if (loop == nullptr && options_.io == "uring") return "io_uring not usable: " + why_not;
    if (loop == nullptr && index_ == 0 && phase.kind == Phase::kMeasure) {
      LOG(WARNING) << "io_uring not usable (" << why_not << "), using epoll";
    }
  }
  if (loop == nullptr) loop = server::MakeEpollLoop(&impl);
  backend_ = std::string(loop->name());
  return impl.Start(std::move(loop), index_);
}

}  // namespace spillway::bench
