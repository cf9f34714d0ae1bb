// One client connection, on its shard's thread: parses requests, runs each key operation on the
// key's owner shard (inline when that is this shard), and writes the answers in request order,
// whatever shard answered first.

#ifndef SPILLWAY_SERVER_CONNECTION_H_
#define SPILLWAY_SERVER_CONNECTION_H_

#include <sys/uio.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "protocol/request_parser.h"
#include "server/event_loop.h"
#include "server/reply.h"

namespace spillway::server {

class Shard;

// A multi-get not yet fully issued (its keys are copied: the input buffer moves on).
struct PendingGet {
  protocol::Request request;  // command and exptime
  std::string keys;
  size_t next = 0;  // offset in keys of what is left
};

class Connection {
 public:
  Connection(Shard* shard, ConnId id);

  // Refuses the client: memcached's "too many connections" answer, then close.
  void Reject();
  void OnReceive(std::string_view bytes);
  void OnSent(int64_t bytes);
  // A part of slot `slot` came back from another shard.
  void Answer(uint64_t slot, std::string_view bytes);
  // The same for an answer made on this shard (it may pin items: they go out without a copy).
  void Answer(uint64_t slot, Reply&& answer);
  // The answers to a batch of key operations, one framed answer per slot, in `slots` order.
  void AnswerBatch(const std::vector<uint64_t>& slots, std::string_view framed);
  // Closes now, dropping whatever was pending (peer gone, idle, shutting down).
  void CloseNow();
  // Resumes reading once the client has taken half of what it was owed (and the spill tier is
  // not backlogged).
  void MaybeResume();

  int64_t last_active() const { return last_active_; }
  bool busy() const { return !slots_.empty() || !out_.empty() || !ready_.empty(); }
  // True when nothing arrived since the last call (shutdown closes connections that are quiet
  // for a whole tick and owe nothing).
  bool QuietSinceLastAsked() { return !std::exchange(received_, false); }

 private:
  // Answers in request order: a slot is ready when every part has arrived.
  struct Slot {
    uint64_t id = 0;
    Reply reply;
    int pending = 0;
    bool discard = false;                // answer nobody asked for (cleanup operations)
    bool remote = false;                 // a key operation on another shard
    size_t counted = 0;                  // bytes of it in queued_bytes_
    std::function<void(Reply&)> finish;  // runs once every part is in
  };

  void Process();
  void Dispatch(const protocol::Request& request, std::string_view raw);
  void Retrieval(const protocol::Request& request);
  // Issues the rest of a multi-get's keys while under the output cap; true when it is done.
  bool ContinueRetrieval();
  // Issues `keys` of a retrieval while under the output cap, and its END once all are issued;
  // returns how many bytes of `keys` were issued (keys.size() when all were).
  size_t IssueKeys(const protocol::Request& request, std::string_view keys);
  // Retrieval keys bound for one other shard, sent as one message at the end of IssueKeys.
  struct Batch {
    std::string lines;  // one request line per key
    std::vector<uint64_t> slots;
  };
  // One key's operation, inline or on its owner; `raw` is a request that says exactly it (empty
  // for a retrieval key: the line is made only if the key goes to another shard, and with
  // `batch` it joins batches_[owner] for SendBatches instead of travelling alone).
  void KeyOp(const protocol::Request& request, std::string_view key, std::string_view raw,
             bool discard = false, bool batch = false);
  void SendBatches();
  // Adds a part to a slot without flushing (Answer and AnswerBatch flush).
  void AddToSlot(uint64_t slot, std::string_view bytes);
  // Runs `task` on every shard; `finish` writes the answer once all are done.
  void Broadcast(const std::function<std::string(Shard&)>& task,
                 std::function<void(Reply&)> finish);
  // stats and its sub-forms (stats.cc).
  void Stats(std::string_view argument);
  Slot& NewSlot();
  // Where an answer that is complete now goes: straight after the answers before it when none
  // is still waiting (the common case: no slot, no allocation per request), else a slot.
  Reply& Ready() { return slots_.empty() ? ready_ : NewSlot().reply; }
  void Flush();
  // Unsent answers (or answers other shards still owe) past the caps: stop reading the client.
  static constexpr size_t kMaxSlots = 64 * 1024;
  static constexpr size_t kMaxRemotePending = 64;
  bool OverCap() const;
  void Pause();
  void Count(Slot& slot, size_t bytes) {
    slot.counted += bytes;
    queued_bytes_ += bytes;
  }

  Shard* shard_;
  ConnId id_;
  protocol::RequestParser parser_;
  std::string in_;
  size_t in_start_ = 0;
  // Answers complete in request order, ahead of every slot; moved to out_ by Flush.
  Reply ready_{/*pin=*/true, Reply::kTextReserve};
  std::deque<Slot> slots_;
  uint64_t next_slot_ = 0;
  std::optional<PendingGet> pending_get_;
  std::vector<Batch> batches_;  // by owner shard (empty with one shard); filled by IssueKeys
  size_t queued_bytes_ = 0;     // answers ready in slots, not yet in out_
  size_t remote_pending_ = 0;   // key operations other shards have not answered yet
  Reply out_;
  iovec iov_[EventLoop::kMaxIov];
  bool sending_ = false;
  bool paused_ = false;
  bool close_after_ = false;  // close once everything before is sent
  bool closed_ = false;
  int64_t last_active_ = 0;
  bool received_ = false;
};

}  // namespace spillway::server

#endif  // SPILLWAY_SERVER_CONNECTION_H_
