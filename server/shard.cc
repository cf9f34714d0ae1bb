#include "server/shard.h"

#include <glog/logging.h>
#include <pthread.h>
#include <sched.h>

#include <ctime>
#include <utility>

#include "server/connection.h"
#include "server/server.h"

namespace spillway::server {
namespace {

constexpr size_t kRingCapacity = 4096;
constexpr auto kTick = std::chrono::milliseconds(10);
// Expired items the sweep looks at per tick: a few microseconds of work.
constexpr size_t kSweepItemsPerTick = 64;

storage::Options StoreOptions(const storage::Options& base, uint32_t index, uint32_t shards) {
  storage::Options o = base;
  // Disjoint CAS sequences: shard i draws i+1, i+1+n, i+1+2n...
  o.cas_first = index + 1;
  o.cas_stride = shards;
  return o;
}

}  // namespace

Shard::Shard(Server* server, uint32_t index,
             const std::function<std::unique_ptr<EventLoop>(LoopHandler*)>& make_loop,
             const storage::Options& store_options)
    : server_(server),
      index_(index),
      loop_(make_loop(this)),
      store_(StoreOptions(store_options, index, server->options().threads)),
      now_(std::time(nullptr)),
      outbox_(server->options().threads) {
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
  auto it = connections_.find(message->conn);
  if (it == connections_.end()) return;
  if (message->slots.empty()) {
    it->second->Answer(message->slot, message->answer);
  } else {
    it->second->AnswerBatch(message->slots, message->answer);
  }
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
