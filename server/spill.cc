#include "server/spill.h"

#include <glog/logging.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <ctime>
#include <utility>

#include "server/event_loop.h"
#include "server/shard.h"
#include "storage/spill_record.h"

namespace spillway::server {
namespace {

using protocol::Command;

// A write whose outcome does not depend on the key's current value: it runs at once, and the
// copy on disk is simply superseded.
bool IsBlindWrite(const protocol::Request& r) {
  if (r.command == Command::kSet) return true;
  return r.command == Command::kMetaSet &&
         (r.meta.mode == 0 || r.meta.mode == 'S' || r.meta.mode == 's') && !r.meta.Has('C') &&
         !r.meta.Has('I');
}

// Reads that change nothing about the item (a touch does: it changes the exptime).
bool IsPureRead(const protocol::Request& r) {
  switch (r.command) {
    case Command::kGet:
    case Command::kGets:
    case Command::kMetaDebug:
      return true;
    case Command::kMetaGet:
      return !r.meta.Has('T');
    default:
      return false;
  }
}

// Writes of the memory tier at shutdown go to disk in batches of about this many bytes.
constexpr size_t kPersistBatchBytes = 8 << 20;
// Records smaller than this are assumed when bounding the index by the disk budget.
constexpr uint64_t kMinRecordBytes = 64;

}  // namespace

SpillStats& SpillStats::operator+=(const SpillStats& o) {
  items += o.items;
  bytes += o.bytes;
  spills += o.spills;
  spill_bytes += o.spill_bytes;
  promotions += o.promotions;
  hits += o.hits;
  misses += o.misses;
  filter_skips += o.filter_skips;
  reads += o.reads;
  inline_reads += o.inline_reads;
  dropped += o.dropped;
  clean_evictions += o.clean_evictions;
  unpromoted += o.unpromoted;
  queue_depth += o.queue_depth;
  waiting += o.waiting;
  index_bytes += o.index_bytes;
  for (size_t i = 0; i < latency_log2.size(); ++i) latency_log2[i] += o.latency_log2[i];
  return *this;
}

uint64_t SpillStats::LatencyPercentile(double fraction) const {
  uint64_t total = 0;
  for (uint64_t n : latency_log2) total += n;
  if (total == 0) return 0;
  const auto want = static_cast<uint64_t>(fraction * static_cast<double>(total));
  uint64_t seen = 0;
  for (size_t i = 0; i < latency_log2.size(); ++i) {
    seen += latency_log2[i];
    if (seen > want) return uint64_t{1} << i;
  }
  return uint64_t{1} << (latency_log2.size() - 1);
}

SpillTier::SpillTier(Shard* shard, std::unique_ptr<storage::Disk> disk, uint64_t limit_bytes,
                     bool warm, uint64_t flushed_below, int64_t now)
    : shard_(shard),
      disk_(std::move(disk)),
      limit_bytes_(limit_bytes),
      flushed_below_(flushed_below),
      job_(std::make_unique<Job>()) {
  disk_->SetFlushedBelow(flushed_below_);
  if (warm) {
    uint64_t max_seq = flushed_below_;
    disk_->ForEach([&](std::string_view key, std::string_view bytes) {
      storage::SpillRecord r;
      if (!storage::DecodeRecord(bytes, &r)) return;
      max_seq = std::max(max_seq, r.seq);
      max_cas_ = std::max(max_cas_, r.cas);
      if (r.seq < flushed_below_ || (r.exptime != 0 && r.exptime <= now)) return;
      index_.Set(storage::Key(key).hash, r.seq);
    });
    next_seq_ = max_seq + 1;
  }
  applied_seq_ = next_seq_ - 1;
  thread_ = std::thread([this] { Run(); });
}

SpillTier::~SpillTier() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

void SpillTier::set_store(storage::Store* store, int64_t now) {
  store_ = store;
  backlog_cap_ = std::clamp<size_t>(store_->stats().limit_bytes / 16, 1 << 20, 32 << 20);
  storage::DiskOptions d;
  d.limit_bytes = limit_bytes_;
  // An empty store has the room: this cannot fail short of a budget smaller than a memtable.
  store_->Charge(static_cast<int64_t>(storage::Disk::memory_bytes(d)), now);
  ChargeIndex();
}

bool SpillTier::MustWait(const protocol::Request& request, std::string_view key, uint64_t hash,
                         int64_t now) {
  if (!faults_.empty() && faults_.contains(hash)) return true;
  if (index_.size() == 0 || IsBlindWrite(request)) return false;
  // Memory first: a key in memory holds its newest version (if it also has an index entry, it
  // was promoted and is unchanged since), and a hit is far more common than a disk-only key.
  if (store_->Contains(storage::Key(key, hash), now)) return false;
  if (index_.Find(hash) != 0) return true;
  ++stats_.filter_skips;
  return false;
}

void SpillTier::Wait(std::string_view key, uint64_t hash, std::string line, Done done) {
  auto [it, fresh] = faults_.try_emplace(hash);
  if (fresh) {
    it->second.key.assign(key);
    job_->keys.emplace_back(key);
    job_->hashes.push_back(hash);
  }
  it->second.waiters.push_back(Waiter{std::move(line), std::move(done)});
}

void SpillTier::AfterOp(const protocol::Request& request, std::string_view key, uint64_t hash) {
  if (IsPureRead(request) || index_.size() == 0) return;
  Supersede(key, hash);
}

void SpillTier::Supersede(std::string_view key, uint64_t hash) {
  if (!index_.Erase(hash)) return;
  // Unreachable now; the delete makes it so on disk too, for a restart's scan.
  job_->writes.Delete(key);
  job_->write_bytes += key.size();
  backlog_bytes_ += key.size();
}

void SpillTier::Evicted(const storage::ItemCopy& item) {
  const uint64_t hash = storage::Key(item.key).hash;
  // Promoted and unchanged since: the record it came from is still its newest version.
  if (item.on_disk && index_.Find(hash) != 0) {
    ++stats_.clean_evictions;
    return;
  }
  const uint64_t seq = Encode(item);
  job_->writes.Put(item.key, scratch_);
  const size_t bytes = item.key.size() + scratch_.size();
  job_->write_bytes += bytes;
  backlog_bytes_ += bytes;
  index_.Set(hash, seq);
  ++stats_.spills;
  stats_.spill_bytes += bytes;
}

uint64_t SpillTier::Encode(const storage::ItemCopy& item) {
  storage::SpillRecord r;
  r.seq = next_seq_++;
  r.cas = item.cas;
  r.exptime = static_cast<uint32_t>(item.exptime);
  r.client_flags = item.client_flags;
  r.binary_key = item.binary_key;
  r.value = item.value;
  scratch_.clear();
  storage::EncodeRecord(r, &scratch_);
  return r.seq;
}

void SpillTier::Flushed() {
  // Every record spilled so far is dead; reads in flight find no index entry and miss.
  index_.Clear();
  flushed_below_ = next_seq_;
  disk_->SetFlushedBelow(flushed_below_);
}

void SpillTier::ChargeIndex() {
  // The index grows inside evictions, where the store cannot be asked for room; the budget
  // catches up here, between operations (evicting may grow the index again, hence the loop).
  for (int round = 0; round < 4 && index_.bytes() != charged_bytes_; ++round) {
    const auto delta = static_cast<int64_t>(index_.bytes()) - static_cast<int64_t>(charged_bytes_);
    if (!store_->Charge(delta, shard_->now())) break;
    charged_bytes_ += static_cast<size_t>(delta);
  }
}

void SpillTier::OnTurnEnd() {
  ChargeIndex();
  if (!job_->keys.empty()) ReadInline();
  if (job_->writes.empty() && job_->keys.empty()) return;
  job_->max_seq = next_seq_ - 1;
  {
    std::lock_guard<std::mutex> lock(mu_);
    queue_.push_back(std::exchange(job_, std::make_unique<Job>()));
    ++stats_.queue_depth;
  }
  cv_.notify_one();
}

void SpillTier::ReadInline() {
  // Twice at most: the operations that ran may have started reads of their own.
  for (int round = 0; round < 2 && !job_->keys.empty(); ++round) {
    std::vector<std::string> keys;
    std::vector<uint64_t> hashes;
    std::vector<std::string> later;
    std::vector<uint64_t> later_hashes;
    std::vector<uint64_t> gone;
    for (size_t i = 0; i < job_->keys.size(); ++i) {
      const uint64_t seq = index_.Find(job_->hashes[i]);
      if (seq == 0) {
        gone.push_back(job_->hashes[i]);  // nothing on disk any more (flushed): no read at all
      } else if (seq <= applied_seq_) {
        keys.push_back(std::move(job_->keys[i]));
        hashes.push_back(job_->hashes[i]);
      } else {
        later.push_back(std::move(job_->keys[i]));
        later_hashes.push_back(job_->hashes[i]);
      }
    }
    job_->keys = std::move(later);
    job_->hashes = std::move(later_hashes);
    for (uint64_t hash : gone) Complete(hash, std::nullopt);
    if (keys.empty()) return;
    std::vector<std::optional<std::string>> records;
    std::vector<bool> blocked;
    disk_->Read(keys, &records, &blocked);
    for (size_t i = 0; i < keys.size(); ++i) {
      if (blocked[i]) {
        job_->keys.push_back(std::move(keys[i]));
        job_->hashes.push_back(hashes[i]);
        continue;
      }
      ++stats_.reads;
      ++stats_.inline_reads;
      Complete(hashes[i], records[i]);
    }
  }
}

void SpillTier::Run() {
  for (;;) {
    std::deque<std::unique_ptr<Job>> jobs;
    {
      std::unique_lock<std::mutex> lock(mu_);
      cv_.wait(lock, [&] { return stop_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and nothing left
      jobs.swap(queue_);
    }
    // Every write first, so that a read sees what was spilled before it was asked for.
    for (auto& job : jobs) disk_->Write(std::move(job->writes));
    for (auto& job : jobs) {
      if (job->keys.empty()) continue;
      const auto start = std::chrono::steady_clock::now();
      disk_->Read(job->keys, &job->records);
      job->read_micros =
          static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::microseconds>(
                                    std::chrono::steady_clock::now() - start)
                                    .count());
    }
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& job : jobs) done_.push_back(std::move(job));
    }
    shard_->loop().Wake();
  }
}

void SpillTier::OnWake() {
  std::deque<std::unique_ptr<Job>> done;
  {
    std::lock_guard<std::mutex> lock(mu_);
    done.swap(done_);
  }
  for (auto& job : done) {
    --stats_.queue_depth;
    backlog_bytes_ -= std::min(backlog_bytes_, job->write_bytes);
    applied_seq_ = std::max(applied_seq_, job->max_seq);
    if (job->keys.empty()) continue;
    stats_.reads += job->keys.size();
    const size_t bucket = std::min<size_t>(std::bit_width(job->read_micros), 31);
    ++stats_.latency_log2[bucket];
    for (size_t i = 0; i < job->keys.size(); ++i) Complete(job->hashes[i], job->records[i]);
  }
}

void SpillTier::Complete(uint64_t hash, const std::optional<std::string>& bytes) {
  auto node = faults_.extract(hash);
  if (node.empty()) return;
  Fault& fault = node.mapped();
  const int64_t now = shard_->now();
  const uint64_t seq = index_.Find(hash);
  storage::SpillRecord r;
  // Served only if it is the newest spill of the key, still wanted (no flush since) and live.
  const bool live = seq != 0 && bytes && storage::DecodeRecord(*bytes, &r) && r.seq == seq &&
                    (r.exptime == 0 || r.exptime > now);
  bool promoted = false;
  if (live) {
    storage::WriteOptions promote;
    promote.new_cas = r.cas;
    promote.binary_key = r.binary_key;
    promote.on_disk = true;  // evicted unchanged, it need not be written again
    promoted =
        store_
            ->Write(storage::Key(fault.key, hash), r.value, r.client_flags, r.exptime, now, promote)
            .status == storage::WriteStatus::kStored;
    stats_.promotions += promoted;
    ++stats_.hits;
    if (!promoted) {
      // No room in memory (every segment pinned by answers not yet sent, which may themselves
      // wait for this one): gets are answered from the record, which stays on disk, and the
      // other operations run against memory.
      ++stats_.unpromoted;
      for (Waiter& w : fault.waiters) {
        if (!shard_->AnswerFromRecord(w.line, r, w.done)) {
          shard_->RunLine(std::move(w.line), std::move(w.done));
        }
      }
      return;
    }
  } else {
    ++stats_.misses;
  }
  // The record stays the key's newest version while the promoted copy is unchanged (a write
  // supersedes it in AfterOp); a dead one is done with.
  if (!live) Supersede(fault.key, hash);
  for (Waiter& w : fault.waiters) shard_->RunLine(std::move(w.line), std::move(w.done));
}

void SpillTier::OnTick() {
  // Records the disk budget dropped (FIFO: the oldest files) leave index entries behind; past
  // what the budget can hold, the oldest entries are given up.
  const uint64_t average = std::max(
      kMinRecordBytes, stats_.spills == 0 ? kMinRecordBytes : stats_.spill_bytes / stats_.spills);
  // Twice what the budget holds at the average record size: records of other sizes skew it,
  // and an entry kept too long costs only a disk read that misses.
  const uint64_t most = 4 * limit_bytes_ / average + 4096;
  if (index_.size() > most && next_seq_ > most / 2) {
    // Dead on disk too, as if flushed, so that a restart's scan cannot bring one back after its
    // key was written or deleted (with no index entry, that left no delete on disk).
    flushed_below_ = std::max(flushed_below_, next_seq_ - most / 2);
    disk_->SetFlushedBelow(flushed_below_);
    stats_.dropped += index_.EraseOlderThan(flushed_below_);
  }
}

bool SpillTier::Persist(int64_t now, uint64_t* flushed_below) {
  OnTurnEnd();
  {
    std::lock_guard<std::mutex> lock(mu_);
    stop_ = true;
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
  bool ok = true;
  storage::DiskBatch batch;
  store_->ForEachLive(now, [&](const storage::ItemCopy& item) {
    if (item.on_disk && index_.Find(storage::Key(item.key).hash) != 0) return;  // already there
    Encode(item);
    batch.Put(item.key, scratch_);
    if (batch.bytes() >= kPersistBatchBytes) ok &= disk_->Write(std::exchange(batch, {}));
  });
  ok &= disk_->Write(std::move(batch));
  ok &= disk_->Flush();
  *flushed_below = flushed_below_;
  return ok;
}

SpillStats SpillTier::stats() const {
  SpillStats s = stats_;
  s.items = index_.size();
  s.waiting = faults_.size();
  s.bytes = disk_->bytes();
  s.index_bytes = index_.bytes();
  return s;
}

}  // namespace spillway::server
