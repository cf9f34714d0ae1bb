#include "server/connection.h"

#include <glog/logging.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <utility>

#include "protocol/errors.h"
#include "server/execute.h"
#include "server/prefetch.h"
#include "server/server.h"
#include "server/shard.h"
#include "storage/store.h"

namespace spillway::server {
namespace {

using protocol::Command;
using protocol::ParseStatus;
using protocol::Request;

constexpr std::string_view kCrlf = "\r\n";

bool HasKey(Command c) {
  switch (c) {
    case Command::kSet:
    case Command::kAdd:
    case Command::kReplace:
    case Command::kAppend:
    case Command::kPrepend:
    case Command::kCas:
    case Command::kIncr:
    case Command::kDecr:
    case Command::kDelete:
    case Command::kTouch:
    case Command::kMetaGet:
    case Command::kMetaSet:
    case Command::kMetaDelete:
    case Command::kMetaArithmetic:
    case Command::kMetaDebug:
      return true;
    default:
      return false;
  }
}

// One key of a get/gets/gat/gats as a request of its own, for the key's owner shard.
void AppendRetrievalLine(const Request& request, std::string_view key, std::string* line) {
  line->append(protocol::CommandName(request.command));
  line->push_back(' ');
  if (request.command == Command::kGat || request.command == Command::kGats) {
    line->append(std::to_string(request.exptime)).push_back(' ');
  }
  line->append(key);
  line->append(kCrlf);
}

}  // namespace

Connection::Connection(Shard* shard, ConnId id)
    : shard_(shard),
      id_(id),
      parser_(shard->server().parser_options()),
      batches_(shard->server().shards() > 1 ? shard->server().shards() : 0),
      last_active_(shard->now()) {}

void Connection::Reject() {
  Ready().Append(std::string(protocol::errors::kTooManyConnections) + "\r\n");
  close_after_ = true;
  Flush();
}

void Connection::OnReceive(std::string_view bytes) {
  if (closed_ || close_after_) return;
  last_active_ = shard_->now();
  received_ = true;
  shard_->counters().bytes_read += bytes.size();
  if (in_start_ > 0 && in_start_ == in_.size()) {
    in_.clear();
    in_start_ = 0;
  }
  in_.append(bytes);
  Process();
}

bool Connection::OverCap() const {
  // Answers owed: those being sent, those ready behind a slot still waiting, and those other
  // shards are still working on (each may be a large value).
  return out_.size() + ready_.size() + queued_bytes_ >
             shard_->server().options().output_cap_bytes ||
         slots_.size() > kMaxSlots || remote_pending_ > kMaxRemotePending ||
         shard_->spill_backlogged();
}

void Connection::MaybeResume() {
  // Held back only by the disk: the shard resumes it once the spills are written (this may be
  // the last event of the connection's own to wake it).
  if (paused_ && shard_->spill_backlogged()) shard_->NoteSpillPause();
  if (!paused_ || closed_ || OverCap() ||
      out_.size() + queued_bytes_ > shard_->server().options().output_cap_bytes / 2) {
    return;
  }
  paused_ = false;
  shard_->loop().ResumeReceive(id_);
  Process();  // what was buffered before the pause
}

void Connection::Process() {
  size_t prefetched = in_start_;  // the reads before this offset of in_ were hinted to the store
  while (!close_after_ && !closed_) {
    // The client is not reading its answers (or the disk is behind with spills): stop reading
    // its requests until it does.
    if ((pending_get_ && !ContinueRetrieval()) || OverCap()) {
      Pause();
      break;
    }
    const std::string_view input(in_.data() + in_start_, in_.size() - in_start_);
    if (in_start_ >= prefetched) {
      prefetched = in_start_ + std::max<size_t>(1, PrefetchReads(input, *shard_));
    }
    const protocol::ParseResult r = parser_.Parse(input);
    if (r.status == ParseStatus::kNeedMore) break;
    if (r.status == ParseStatus::kRequest) Dispatch(r.request, input.substr(0, r.consumed));
    if (r.status == ParseStatus::kError) {
      const Request& request = r.request;
      if (!r.error.empty() && !request.noreply) {
        Reply& reply = Ready();
        reply.Append(r.error);
        reply.Append(kCrlf);
      }
      // memcached drops the stored value of a set (and ms) whose new value is too large, so no
      // stale value survives.
      if (r.error == protocol::errors::kTooLarge && !request.key.empty() &&
          (request.command == Command::kSet || request.command == Command::kMetaSet)) {
        Request del;
        del.command = Command::kDelete;
        del.key = request.key;
        del.noreply = true;
        KeyOp(del, request.key, "delete " + std::string(request.key) + " noreply\r\n",
              /*discard=*/true);
      }
      if (r.close) close_after_ = true;
    }
    in_start_ += r.consumed;
  }
  if (in_start_ > 64 * 1024 && in_start_ * 2 > in_.size()) {
    in_.erase(0, in_start_);
    in_start_ = 0;
  }
  Flush();
}

void Connection::Pause() {
  if (!paused_) shard_->loop().PauseReceive(id_);
  paused_ = true;
  // Nothing of this connection's may be left to wake it: the shard resumes it when the disk
  // has caught up.
  if (shard_->spill_backlogged()) shard_->NoteSpillPause();
}

Connection::Slot& Connection::NewSlot() {
  slots_.emplace_back();
  slots_.back().id = next_slot_++;
  return slots_.back();
}

void Connection::Dispatch(const Request& request, std::string_view raw) {
  Server& server = shard_->server();
  switch (request.command) {
    case Command::kGet:
    case Command::kGets:
    case Command::kGat:
    case Command::kGats:
      Retrieval(request);
      return;
    case Command::kMetaNoop:
      Ready().Append("MN\r\n");
      return;
    case Command::kVersion:
      Ready().Append("VERSION " + server.options().version + "\r\n");
      return;
    case Command::kVerbosity:
      if (!request.noreply) Ready().Append("OK\r\n");
      return;
    case Command::kQuit:
      close_after_ = true;
      return;
    case Command::kShutdown:
      if (!server.options().enable_shutdown) {
        Ready().Append(std::string(protocol::errors::kShutdownDisabled) + "\r\n");
      } else if (!request.argument.empty() && request.argument != "graceful") {
        Ready().Append(std::string(protocol::errors::kBadShutdownMode) + "\r\n");
      } else {
        server.Shutdown();
        close_after_ = true;
      }
      return;
    case Command::kFlushAll: {
      const int64_t delay = request.exptime;
      const bool quiet = request.noreply;
      Broadcast(
          [delay](Shard& s) {
            s.store().FlushAll(s.now(), delay);
            ++s.counters().cmd_flush;
            return std::string();
          },
          [quiet](Reply& r) {
            if (!quiet) r.Append("OK\r\n");
          });
      return;
    }
    case Command::kStats:
      Stats(request.argument);
      return;
    default:
      break;
  }
  if (HasKey(request.command)) {
    KeyOp(request, request.key, raw);
    return;
  }
  Ready().Append("ERROR\r\n");
}

void Connection::Retrieval(const Request& request) {
  // The keys are taken a few at a time (ContinueRetrieval), so that a long multi-get whose client
  // is not reading stops where the output cap says, like a pipeline of single gets.
  const size_t issued = IssueKeys(request, request.keys);
  if (issued == request.keys.size()) return;
  pending_get_.emplace();
  pending_get_->request.command = request.command;
  pending_get_->request.exptime = request.exptime;
  pending_get_->keys.assign(request.keys.substr(issued));  // the input buffer moves on
}

bool Connection::ContinueRetrieval() {
  PendingGet& get = *pending_get_;
  const std::string_view rest = std::string_view(get.keys).substr(get.next);
  const size_t issued = IssueKeys(get.request, rest);
  if (issued < rest.size()) {
    get.next += issued;
    return false;  // more keys, later
  }
  pending_get_.reset();
  return true;
}

size_t Connection::IssueKeys(const Request& request, std::string_view keys) {
  protocol::TokenIterator it(keys);
  std::string_view key;
  size_t issued = 0;
  // A multi-get's keys for each other shard travel together: one message per shard, not per key.
  while (!OverCap() && it.Next(&key)) {
    issued = static_cast<size_t>(key.data() + key.size() - keys.data());
    KeyOp(request, key, /*raw=*/"", /*discard=*/false, /*batch=*/true);
  }
  SendBatches();
  if (OverCap() && it.Next(&key)) return issued;
  Ready().Append("END\r\n");
  return keys.size();
}

void Connection::KeyOp(const Request& request, std::string_view key, std::string_view raw,
                       bool discard, bool batch) {
  const uint64_t hash = storage::Key(key).hash;
  const uint32_t owner = shard_->server().OwnerOf(hash);
  const bool local = owner == shard_->index();
  const bool wait = local && shard_->MustWait(request, key, hash);
  if (local && !wait && !discard && slots_.empty()) {
    shard_->Execute(request, key, hash, &ready_);
    return;
  }
  Slot& slot = NewSlot();
  slot.discard = discard;
  if (local && !wait) {
    shard_->Execute(request, key, hash, &slot.reply);
    Count(slot, slot.reply.size());
    return;
  }
  // It waits: on another shard's answer, or on this shard's disk read of the key.
  slot.pending = 1;
  slot.remote = true;
  ++remote_pending_;
  if (wait) {
    std::string line(raw);
    if (line.empty()) AppendRetrievalLine(request, key, &line);
    shard_->tier()->Wait(key, hash, std::move(line),
                         [shard = shard_, conn = id_, id = slot.id](Reply&& answer) {
                           shard->AnswerConnection(conn, id, std::move(answer));
                         });
    return;
  }
  if (batch && raw.empty()) {
    Batch& b = batches_[owner];
    AppendRetrievalLine(request, key, &b.lines);
    b.slots.push_back(slot.id);
    return;
  }
  std::string line(raw);
  if (line.empty()) AppendRetrievalLine(request, key, &line);
  auto message = std::make_unique<Message>();
  message->lines = std::move(line);
  message->conn = id_;
  message->slot = slot.id;
  shard_->Send(owner, std::move(message));
}

void Connection::Broadcast(const std::function<std::string(Shard&)>& task,
                           std::function<void(Reply&)> finish) {
  Slot& slot = NewSlot();
  slot.finish = std::move(finish);
  const uint32_t shards = shard_->server().shards();
  slot.pending = static_cast<int>(shards);
  const uint64_t id = slot.id;
  for (uint32_t i = 0; i < shards; ++i) {
    if (i == shard_->index()) continue;
    auto message = std::make_unique<Message>();
    message->task = task;
    message->conn = id_;
    message->slot = id;
    shard_->Send(i, std::move(message));
  }
  // This shard's part runs now; Answer counts it and finishes the slot if it was the last.
  Answer(id, task(*shard_));
}

void Connection::SendBatches() {
  for (uint32_t owner = 0; owner < batches_.size(); ++owner) {
    Batch& batch = batches_[owner];
    if (batch.slots.empty()) continue;
    auto message = std::make_unique<Message>();
    message->lines = std::exchange(batch.lines, {});
    message->slots = std::exchange(batch.slots, {});
    message->conn = id_;
    shard_->Send(owner, std::move(message));
  }
}

void Connection::AnswerBatch(const std::vector<uint64_t>& slots, std::string_view framed) {
  for (uint64_t slot : slots) {
    uint32_t length = 0;
    if (framed.size() < sizeof length) break;  // cannot happen: one frame per line sent
    std::memcpy(&length, framed.data(), sizeof length);
    framed.remove_prefix(sizeof length);
    AddToSlot(slot, framed.substr(0, length));
    framed.remove_prefix(std::min<size_t>(length, framed.size()));
  }
  Flush();
  MaybeResume();
}

void Connection::Answer(uint64_t slot_id, std::string_view bytes) {
  AddToSlot(slot_id, bytes);
  Flush();
  MaybeResume();
}

void Connection::Answer(uint64_t slot_id, Reply&& answer) {
  if (!slots_.empty() && slot_id >= slots_.front().id) {
    Slot& slot = slots_[slot_id - slots_.front().id];
    Count(slot, answer.size());
    slot.reply.Splice(std::move(answer));
  }
  AddToSlot(slot_id, {});
  Flush();
  MaybeResume();
}

void Connection::AddToSlot(uint64_t slot_id, std::string_view bytes) {
  if (slots_.empty() || slot_id < slots_.front().id) return;
  Slot& slot = slots_[slot_id - slots_.front().id];
  if (!bytes.empty()) slot.reply.Append(bytes);
  Count(slot, bytes.size());
  if (slot.remote) --remote_pending_;
  if (--slot.pending == 0 && slot.finish) {
    const size_t before = slot.reply.size();
    slot.finish(slot.reply);
    Count(slot, slot.reply.size() - before);
  }
}

void Connection::Flush() {
  if (closed_) return;
  out_.Splice(std::move(ready_));  // ahead of every slot
  while (!slots_.empty() && slots_.front().pending == 0) {
    queued_bytes_ -= slots_.front().counted;
    if (!slots_.front().discard) out_.Splice(std::move(slots_.front().reply));
    slots_.pop_front();
  }
  if (!sending_ && !out_.empty()) {
    const int n = out_.Gather(iov_, EventLoop::kMaxIov);
    sending_ = true;
    shard_->loop().Send(id_, iov_, n);
    return;
  }
  if (!sending_ && out_.empty() && slots_.empty() && close_after_) CloseNow();
}

void Connection::OnSent(int64_t bytes) {
  sending_ = false;
  if (closed_) return;
  if (bytes < 0) {
    CloseNow();
    return;
  }
  out_.Consume(static_cast<size_t>(bytes));
  shard_->counters().bytes_written += static_cast<uint64_t>(bytes);
  Flush();
  MaybeResume();
}

void Connection::CloseNow() {
  if (closed_) return;
  closed_ = true;
  shard_->loop().Close(id_);
}

}  // namespace spillway::server
