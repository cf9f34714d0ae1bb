// One shard: a thread, its event loop, its store, its connections, and its links to the other
// shards. A key belongs to the shard its hash picks (OwnerOf); a connection's request for another
// shard's key travels there as a Message and its answer comes back the same way.

#ifndef SPILLWAY_SERVER_SHARD_H_
#define SPILLWAY_SERVER_SHARD_H_

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "server/counters.h"
#include "server/event_loop.h"
#include "server/reply.h"
#include "server/spill.h"
#include "server/spsc.h"
#include "storage/disk.h"
#include "storage/spill_record.h"
#include "storage/store.h"

namespace spillway::server {

class Connection;
class Server;

// Travels between shards: a task to run on the target, key operations to run there, or an answer
// for a connection.
struct Message {
  // Task: runs on the target shard; what it returns goes back to (origin, conn, slot).
  std::function<std::string(class Shard&)> task;
  // Key operations: one request per line, run on the target (RunLines); the answers go back
  // to (origin, conn, slot), or framed per line with `slots`.
  std::string lines;
  // Answer: bytes for a connection's slot on the origin shard.
  std::string answer;
  uint32_t origin = 0;
  ConnId conn = 0;
  uint64_t slot = 0;
  // A batch (the keys of one multi-get that this target owns): one slot per key, and the
  // answer is framed per slot (a 4-byte length, then the bytes). `slot` is unused.
  std::vector<uint64_t> slots;
};

class Shard : public LoopHandler {
 public:
  // `make_loop` builds the shard's event loop with the shard as its handler (null: none).
  // `disk`: the shard's spill database (null: no spill tier); `warm` and `flushed_below` come
  // from the data directory's shutdown marker.
  Shard(Server* server, uint32_t index,
        const std::function<std::unique_ptr<EventLoop>(LoopHandler*)>& make_loop,
        const storage::Options& store_options, std::unique_ptr<storage::Disk> disk = nullptr,
        bool warm = false, uint64_t flushed_below = 0);
  ~Shard() override;

  uint32_t index() const { return index_; }
  storage::Store& store() { return store_; }
  Counters& counters() { return counters_; }
  Server& server() { return *server_; }
  EventLoop& loop() { return *loop_; }
  bool has_loop() const { return loop_ != nullptr; }
  int64_t now() const { return now_; }
  SpillTier* tier() { return tier_.get(); }

  // Key operations on this shard, the key's owner (ExecuteKey, plus the spill tier's part):
  // whether one must wait for the key's disk read before it can run...
  bool MustWait(const protocol::Request& request, std::string_view key, uint64_t hash) {
    return tier_ != nullptr && tier_->MustWait(request, key, hash, now_);
  }
  // ...running one now...
  void Execute(const protocol::Request& request, std::string_view key, uint64_t hash, Reply* out);
  // ...and running one given as its request bytes, waiting if need be: `done` gets the answer.
  void RunLine(std::string line, SpillTier::Done done);
  // A get or gets (one key, as its request bytes) answered straight from a disk record; false
  // for any other command.
  bool AnswerFromRecord(std::string_view line, const storage::SpillRecord& record,
                        const SpillTier::Done& done);
  // Gives a connection of this shard a part of a slot's answer (dropped if it has gone).
  void AnswerConnection(ConnId conn, uint64_t slot, Reply&& answer);
  // A connection stopped reading because spills are backlogged: resume it once they are not.
  void NoteSpillPause() { spill_paused_ = true; }
  bool spill_backlogged() const { return tier_ != nullptr && tier_->backlogged(); }

  // Loop thread: queues a message for shard `target` (pushed, with one wake-up, at turn end).
  void Send(uint32_t target, std::unique_ptr<Message> message);
  // Starts the shard's thread, accepting on `listen_fd`.
  void Start(int listen_fd);
  void Join();
  void Stop() { loop_->Stop(); }
  // Any thread: stop taking connections, finish what the open ones asked for (answers sent),
  // then stop the loop; by `deadline_seconds` at the latest.
  void Drain(int64_t deadline_seconds);

  uint64_t hops() const { return hops_; }
  template <typename F>
  void ForEachConnection(F&& f) const {
    for (const auto& [id, c] : connections_) f(id, *c);
  }

  // LoopHandler.
  void OnAccept(ConnId conn) override;
  void OnReceive(ConnId conn, std::string_view bytes) override;
  void OnHangup(ConnId conn, int error) override;
  void OnSent(ConnId conn, int64_t bytes) override;
  void OnClosed(ConnId conn) override;
  void OnWake() override;
  void OnTick() override;
  void OnTurnEnd() override;

 private:
  void Deliver(std::unique_ptr<Message> message);
  // Runs a message's key operations and sends the answers back once all have run.
  void RunLines(std::unique_ptr<Message> message);

  Server* server_;
  uint32_t index_;
  std::unique_ptr<EventLoop> loop_;
  // Before the store, which points at it, and after the loop, which its thread wakes.
  std::unique_ptr<SpillTier> tier_;
  storage::Store store_;
  bool spill_paused_ = false;
  Counters counters_;
  int64_t now_ = 0;
  std::thread thread_;
  std::unordered_map<ConnId, std::unique_ptr<Connection>> connections_;
  std::unordered_set<ConnId> accepted_;  // counted in curr_connections (not the rejected)
  // Messages to each shard not yet pushed (the ring was full, or the turn has not ended).
  std::vector<std::vector<Message*>> outbox_;
  std::atomic<int64_t> drain_deadline_{0};  // 0: serving
  bool listening_ = true;                   // loop thread: until the drain closes the listeners
  void DrainStep();
  uint64_t hops_ = 0;
  uint64_t ticks_ = 0;

  friend class Server;
  // inbox_[from]: the ring shard `from` pushes to.
  std::vector<std::unique_ptr<SpscRing<Message>>> inbox_;
};

}  // namespace spillway::server

#endif  // SPILLWAY_SERVER_SHARD_H_
