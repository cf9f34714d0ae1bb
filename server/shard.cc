#include "server/shard.h"

#include <glog/logging.h>
#include <pthread.h>
#include <sched.h>

#include <cstring>
#include <ctime>
#include <utility>

#include "protocol/encoder.h"
#include "protocol/request_parser.h"
#include "server/connection.h"
#include "server/execute.h"
#include "server/server.h"

namespace spillway::server {
namespace {

constexpr size_t kRingCapacity = 4096;
constexpr auto kTick = std::chrono::milliseconds(10);
// Expired items the sweep looks at per tick: a few microseconds of work.
constexpr size_t kSweepItemsPerTick = 64;

storage::Options StoreOptions(const storage::Options& base, uint32_t index, uint32_t shards,
                              SpillTier* tier) {
  storage::Options o = base;
  // Disjoint CAS sequences: shard i draws i+1, i+1+n, i+1+2n... After a warm restart they start
  // above every CAS on disk, so no new version repeats one a client may still hold.
  const uint64_t above = tier != nullptr && tier->max_cas() != 0 ? tier->max_cas() / shards + 1 : 0;
  o.cas_first = index + 1 + above * shards;
  o.cas_stride = shards;
  o.eviction_sink = tier;
  return o;
}

// Answers of a message's key operations, some of which wait for the spill tier: the answers
// that were ready went into `answer`; each waiting one goes at its hole, in order, and the
// message goes back once every one is in (and all lines were issued).
struct LateLines {
  std::unique_ptr<Message> message;
  std::string answer;
  std::vector<size_t> holes;  // offsets in `answer`
  std::vector<std::string> late;
  size_t waiting = 0;
  bool issued = false;
};

void AppendFramed(std::string_view bytes, bool framed, std::string* out) {
  if (framed) {
    const auto length = static_cast<uint32_t>(bytes.size());
    out->append(reinterpret_cast<const char*>(&length), sizeof length);
  }
  out->append(bytes);
}

}  // namespace

Shard::Shard(Server* server, uint32_t index,
             const std::function<std::unique_ptr<EventLoop>(LoopHandler*)>& make_loop,
             const storage::Options& store_options, std::unique_ptr<storage::Disk> disk, bool warm,
             uint64_t flushed_below)
    : server_(server),
      index_(index),
      loop_(make_loop(this)),
      tier_(disk == nullptr ? nullptr
                            : std::make_unique<SpillTier>(
                                  this, std::move(disk),
                                  server->options().disk_limit_bytes / server->options().threads,
                                  warm, flushed_below, std::time(nullptr))),
      store_(StoreOptions(store_options, index, server->options().threads, tier_.get())),
      now_(std::time(nullptr)),
      outbox_(server->options().threads) {
  if (tier_) tier_->set_store(&store_, now_);
  for (uint32_t i = 0; i < server->options().threads; ++i) {
    inbox_.push_back(std::make_unique<SpscRing<Message>>(kRingCapacity));
  }
}

Shard::~Shard() {
  if (loop_) loop_->Stop();
  Join();
  connections_.clear();
  for (auto& box : outbox_) {
    for (Message* m : box) delete m;
  }
  for (auto& ring : inbox_) {
    while (Message* m = ring->Pop()) delete m;
  }
}

void Shard::Start(int listen_fd) {
  loop_->Listen(listen_fd);
  loop_->SetZeroCopyThreshold(server_->options().zero_copy_threshold);
  loop_->SetTick(kTick);
  thread_ = std::thread([this] {
    if (server_->options().pin) {
      cpu_set_t set;
      CPU_ZERO(&set);
      CPU_SET(index_ % CPU_SETSIZE, &set);
      if (pthread_setaffinity_np(pthread_self(), sizeof set, &set) != 0) {
        LOG(WARNING) << "shard " << index_ << ": could not pin to CPU " << index_;
      }
    }
    loop_->Run();
    // Connections hold pins into this shard's store: release them on this thread.
    connections_.clear();
  });
}

void Shard::Join() {
  if (thread_.joinable()) thread_.join();
}

void Shard::Send(uint32_t target, std::unique_ptr<Message> message) {
  ++hops_;
  message->origin = index_;
  outbox_[target].push_back(message.release());
}

void Shard::OnTurnEnd() {
  if (tier_) tier_->OnTurnEnd();
  bool left = false;
  for (uint32_t target = 0; target < outbox_.size(); ++target) {
    std::vector<Message*>& box = outbox_[target];
    if (box.empty()) continue;
    SpscRing<Message>& ring = *server_->shard(target).inbox_[index_];
    size_t pushed = 0;
    while (pushed < box.size() && ring.Push(box[pushed])) ++pushed;
    box.erase(box.begin(), box.begin() + static_cast<std::ptrdiff_t>(pushed));
    // One wake-up per target per turn, however many messages went.
    if (pushed > 0) server_->shard(target).loop().Wake();
    left |= !box.empty();
  }
  // A full ring: try again next turn, and make sure there is one.
  if (left) loop_->Wake();
}

void Shard::Drain(int64_t deadline_seconds) {
  drain_deadline_.store(std::time(nullptr) + deadline_seconds);
  loop_->Wake();
}

void Shard::DrainStep() {
  if (drain_deadline_.load(std::memory_order_relaxed) == 0) return;
  if (listening_) {
    loop_->StopListening();
    listening_ = false;
  }
  std::vector<Connection*> done;
  for (auto& [id, c] : connections_) {
    // Owes nothing and sent nothing for a tick: whatever it asked for has been answered.
    if (c->QuietSinceLastAsked() && !c->busy()) done.push_back(c.get());
  }
  for (Connection* c : done) c->CloseNow();
  // Every shard keeps running until no shard has a client left: a connection on another shard
  // may still be waiting for this one's answers.
  if ((connections_.empty() && server_->curr_connections.load() == 0) ||
      now_ >= drain_deadline_.load()) {
    loop_->Stop();
  }
}

void Shard::OnWake() {
  now_ = std::time(nullptr);
  if (tier_) {
    tier_->OnWake();
    if (spill_paused_ && !tier_->backlogged()) {
      spill_paused_ = false;
      std::vector<Connection*> all;
      for (auto& [id, c] : connections_) all.push_back(c.get());
      for (Connection* c : all) c->MaybeResume();
    }
  }
  for (auto& ring : inbox_) {
    while (Message* m = ring->Pop()) Deliver(std::unique_ptr<Message>(m));
  }
  DrainStep();
}

void Shard::Deliver(std::unique_ptr<Message> message) {
  if (message->task) {
    // A task from another shard: run it here and send the answer back.
    message->answer = message->task(*this);
    message->task = nullptr;
    const uint32_t origin = message->origin;
    Send(origin, std::move(message));
    return;
  }
  if (!message->lines.empty()) {
    RunLines(std::move(message));
    return;
  }
  auto it = connections_.find(message->conn);
  if (it == connections_.end()) return;
  if (message->slots.empty()) {
    it->second->Answer(message->slot, message->answer);
  } else {
    it->second->AnswerBatch(message->slots, message->answer);
  }
}

void Shard::AnswerConnection(ConnId conn, uint64_t slot, Reply&& answer) {
  auto it = connections_.find(conn);
  if (it != connections_.end()) it->second->Answer(slot, std::move(answer));
}

void Shard::Execute(const protocol::Request& request, std::string_view key, uint64_t hash,
                    Reply* out) {
  const KeyContext context{&store_, now_, &counters_};
  ExecuteKey(request, key, hash, context, out);
  if (tier_) tier_->AfterOp(request, key, hash);
}

void Shard::RunLine(std::string line, SpillTier::Done done) {
  protocol::RequestParser parser(server_->parser_options());
  const protocol::ParseResult r = parser.Parse(line);
  if (r.status != protocol::ParseStatus::kRequest) {  // re-parsing what parsed once cannot fail
    done(Reply(/*pin=*/false));
    return;
  }
  const std::string_view key = r.request.key;
  const uint64_t hash = storage::Key(key).hash;
  if (MustWait(r.request, key, hash)) {
    const std::string owned_key(key);  // `line` moves
    tier_->Wait(owned_key, hash, std::move(line), std::move(done));
    return;
  }
  // Copied, not pinned: a multi-get's answers wait for one another, and pins held meanwhile
  // would keep the store from promoting the next item (large values pin whole segments).
  Reply reply(/*pin=*/false);
  Execute(r.request, key, hash, &reply);
  done(std::move(reply));
}

bool Shard::AnswerFromRecord(std::string_view line, const storage::SpillRecord& record,
                             const SpillTier::Done& done) {
  protocol::RequestParser parser(server_->parser_options());
  const protocol::ParseResult r = parser.Parse(line);
  if (r.status != protocol::ParseStatus::kRequest) return false;
  const protocol::Command command = r.request.command;
  if (command != protocol::Command::kGet && command != protocol::Command::kGets) return false;
  ++counters_.cmd_get;
  ++counters_.get_hits;
  Reply reply(/*pin=*/false);
  protocol::AppendValueHeader(r.request.key, record.client_flags, record.value.size(),
                              command == protocol::Command::kGets ? &record.cas : nullptr,
                              reply.text());
  reply.Append(record.value);
  reply.Append("\r\n");
  done(std::move(reply));
  return true;
}

void Shard::RunLines(std::unique_ptr<Message> message) {
  // One answer per line, in order; framed (a 4-byte length first) when they go to a batch's
  // slots. A line that waits for the spill tier leaves a hole, filled once its answer is in;
  // only then is a LateLines made (most messages have none).
  const bool framed = !message->slots.empty();
  const std::string text = std::exchange(message->lines, {});
  std::string answer;
  std::shared_ptr<LateLines> late;
  auto finish = [this](LateLines& l) {
    std::string whole;
    size_t from = 0;
    for (size_t i = 0; i < l.holes.size(); ++i) {
      whole.append(l.answer, from, l.holes[i] - from);
      AppendFramed(l.late[i], !l.message->slots.empty(), &whole);
      from = l.holes[i];
    }
    whole.append(l.answer, from);
    l.message->answer = std::move(whole);
    const uint32_t origin = l.message->origin;
    Send(origin, std::move(l.message));
  };
  protocol::RequestParser parser(server_->parser_options());
  std::string_view rest = text;
  while (!rest.empty()) {
    const protocol::ParseResult r = parser.Parse(rest);
    if (r.status != protocol::ParseStatus::kRequest) break;  // parsed once: cannot fail
    const std::string_view key = r.request.key;
    const uint64_t hash = storage::Key(key).hash;
    if (MustWait(r.request, key, hash)) {
      if (!late) late = std::make_shared<LateLines>();
      const size_t hole = late->late.size();
      late->holes.push_back(answer.size());
      late->late.emplace_back();
      ++late->waiting;
      tier_->Wait(key, hash, std::string(rest.substr(0, r.consumed)),
                  [late, hole, finish](Reply&& done) {
                    done.AppendTo(&late->late[hole]);
                    if (--late->waiting == 0 && late->issued) finish(*late);
                  });
    } else {
      Reply reply(/*pin=*/false);
      Execute(r.request, key, hash, &reply);
      if (framed) {
        // The frame's length goes in front once the answer is in (one copy of a value).
        const size_t at = answer.size();
        answer.append(sizeof(uint32_t), '\0');
        reply.AppendTo(&answer);
        const auto length = static_cast<uint32_t>(answer.size() - at - sizeof(uint32_t));
        std::memcpy(answer.data() + at, &length, sizeof length);
      } else {
        reply.AppendTo(&answer);
      }
    }
    rest.remove_prefix(r.consumed);
  }
  if (!late) {
    message->answer = std::move(answer);
    const uint32_t origin = message->origin;
    Send(origin, std::move(message));
    return;
  }
  late->answer = std::move(answer);
  late->message = std::move(message);
  late->issued = true;
  if (late->waiting == 0) finish(*late);
}

void Shard::OnAccept(ConnId conn) {
  if (drain_deadline_.load(std::memory_order_relaxed) != 0) {
    loop_->Close(conn);  // shutting down: no new clients
    return;
  }
  auto c = std::make_unique<Connection>(this, conn);
  Connection* raw = c.get();
  connections_.emplace(conn, std::move(c));
  if (server_->curr_connections.load() >= server_->options().max_connections) {
    ++server_->rejected_connections;
    raw->Reject();
    return;
  }
  ++server_->curr_connections;
  ++server_->total_connections;
  accepted_.insert(conn);
}

void Shard::OnReceive(ConnId conn, std::string_view bytes) {
  now_ = std::time(nullptr);
  auto it = connections_.find(conn);
  if (it != connections_.end()) it->second->OnReceive(bytes);
}

void Shard::OnHangup(ConnId conn, int /*error*/) {
  auto it = connections_.find(conn);
  if (it != connections_.end()) it->second->CloseNow();
}

void Shard::OnSent(ConnId conn, int64_t bytes) {
  auto it = connections_.find(conn);
  if (it != connections_.end()) it->second->OnSent(bytes);
}

void Shard::OnClosed(ConnId conn) {
  connections_.erase(conn);
  if (accepted_.erase(conn) > 0) --server_->curr_connections;
}

void Shard::OnTick() {
  now_ = std::time(nullptr);
  DrainStep();
  store_.Sweep(now_, kSweepItemsPerTick);
  if (tier_) tier_->OnTick();
  const int64_t idle = server_->options().idle_timeout_seconds;
  // Idle connections: looked at once a second.
  if (idle > 0 && ++ticks_ % 100 == 0) {
    std::vector<Connection*> expired;
    for (auto& [id, c] : connections_) {
      // Strictly longer than the timeout, as memcached checks (times are whole seconds).
      if (!c->busy() && now_ - c->last_active() > idle) expired.push_back(c.get());
    }
    for (Connection* c : expired) c->CloseNow();
  }
}

}  // namespace spillway::server
