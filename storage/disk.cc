#include "storage/disk.h"

#include <glog/logging.h>
#include <rocksdb/compaction_filter.h>
#include <rocksdb/db.h>
#include <rocksdb/env.h>
#include <rocksdb/filter_policy.h>
#include <rocksdb/options.h>
#include <rocksdb/table.h>
#include <rocksdb/write_batch.h>

#include <algorithm>
#include <ctime>

#include "storage/spill_record.h"
#include "storage/uring_fs.h"

namespace spillway::storage {
namespace {

// Drops records that can never be served again: expired, or written before a flush_all.
class DeadRecordFilter : public rocksdb::CompactionFilter {
 public:
  explicit DeadRecordFilter(std::shared_ptr<std::atomic<uint64_t>> flushed_below)
      : flushed_below_(std::move(flushed_below)) {}
  bool Filter(int /*level*/, const rocksdb::Slice& /*key*/, const rocksdb::Slice& value,
              std::string* /*new_value*/, bool* /*value_changed*/) const override {
    SpillRecord r;
    if (!DecodeRecord(std::string_view(value.data(), value.size()), &r)) return true;
    if (r.seq < flushed_below_->load(std::memory_order_relaxed)) return true;
    return r.exptime != 0 && r.exptime <= static_cast<uint64_t>(std::time(nullptr));
  }
  const char* Name() const override { return "spillway.DeadRecordFilter"; }

 private:
  std::shared_ptr<std::atomic<uint64_t>> flushed_below_;
};

size_t MemtableBytes(const DiskOptions& o) {
  return std::clamp<size_t>(o.limit_bytes / 64, 1 << 20, 4 << 20);
}

rocksdb::Options DatabaseOptions(const DiskOptions& o, const rocksdb::CompactionFilter* filter) {
  rocksdb::Options options;
  options.create_if_missing = true;
  // FIFO: when the table files pass the budget the oldest file goes, so the newest spills are
  // the ones kept. Small files are merged (intra-L0), which is when the filter runs.
  options.compaction_style = rocksdb::kCompactionStyleFIFO;
  options.compaction_options_fifo.max_table_files_size = o.limit_bytes;
  options.compaction_options_fifo.allow_compaction = true;
  // A merged file goes whole when it is the oldest: keep them small, so that the budget is never
  // undercut by more than an eighth (unbounded, merging had made one file of nearly everything).
  options.max_compaction_bytes = std::max<uint64_t>(4 * MemtableBytes(o), o.limit_bytes / 8);
  options.compaction_filter = filter;
  // The memtable is RAM outside the item budget (the server charges it to the store): small.
  options.write_buffer_size = MemtableBytes(o);
  options.max_write_buffer_number = 2;
  options.compression = rocksdb::kNoCompression;
  // A Bloom filter over the memtable's keys, so that most lookups skip its skiplist.
  options.memtable_whole_key_filtering = true;
  options.memtable_prefix_bloom_size_ratio = 0.05;
  options.keep_log_file_num = 2;
  options.max_log_file_size = 1 << 20;
  options.max_background_jobs = 2;
  rocksdb::BlockBasedTableOptions table;
  // FIFO keeps every file in level 0, so a lookup asks each file: a Bloom filter per file makes
  // that one probe of memory per file.
  table.filter_policy.reset(rocksdb::NewBloomFilterPolicy(10));
  // No block cache: the spills are far larger than any cache RAM would allow, so the page cache
  // serves the data blocks (and FIFO keeps every table open with its index and filter).
  table.no_block_cache = true;
  options.table_factory.reset(rocksdb::NewBlockBasedTableFactory(table));
  return options;
}

}  // namespace

// ---- DiskBatch

DiskBatch::DiskBatch() : batch_(std::make_unique<rocksdb::WriteBatch>()) {}
DiskBatch::~DiskBatch() = default;
DiskBatch::DiskBatch(DiskBatch&&) noexcept = default;
DiskBatch& DiskBatch::operator=(DiskBatch&&) noexcept = default;

void DiskBatch::Put(std::string_view key, std::string_view record) {
  batch_->Put(rocksdb::Slice(key.data(), key.size()), rocksdb::Slice(record.data(), record.size()));
  ++count_;
}

void DiskBatch::Delete(std::string_view key) {
  batch_->Delete(rocksdb::Slice(key.data(), key.size()));
  ++count_;
}

size_t DiskBatch::bytes() const { return batch_->GetDataSize(); }

// ---- Disk

Disk::Disk() : flushed_below_(std::make_shared<std::atomic<uint64_t>>(0)) {}

Disk::~Disk() = default;

std::unique_ptr<Disk> Disk::Open(const DiskOptions& o, std::string* error) {
  std::unique_ptr<Disk> disk(new Disk());
  disk->filter_ = std::make_unique<DeadRecordFilter>(disk->flushed_below_);
  rocksdb::Options options = DatabaseOptions(o, disk->filter_.get());
  disk->env_ = rocksdb::NewCompositeEnv(NewUringFileSystem(o.io_uring));
  options.env = disk->env_.get();
  rocksdb::DB* db = nullptr;
  const rocksdb::Status s = rocksdb::DB::Open(options, o.path, &db);
  if (!s.ok()) {
    *error = s.ToString();
    return nullptr;
  }
  disk->db_.reset(db);
  return disk;
}

bool Disk::Write(DiskBatch batch) {
  if (batch.empty()) return true;
  rocksdb::WriteOptions w;
  w.disableWAL = true;
  const rocksdb::Status s = db_->Write(w, batch.batch_.get());
  LOG_IF(ERROR, !s.ok()) << "spill write failed: " << s.ToString();
  return s.ok();
}

void Disk::Read(const std::vector<std::string>& keys,
                std::vector<std::optional<std::string>>* records, std::vector<bool>* blocked) {
  const size_t n = keys.size();
  records->assign(n, std::nullopt);
  if (blocked != nullptr) blocked->assign(n, false);
  std::optional<NoWaitScope> no_wait;
  if (blocked != nullptr) no_wait.emplace();
  if (n == 0) return;
  std::vector<rocksdb::Slice> slices(keys.begin(), keys.end());
  std::vector<rocksdb::PinnableSlice> values(n);
  std::vector<rocksdb::Status> statuses(n);
  rocksdb::ReadOptions options;
  // Records are checked by DecodeRecord and their seq; a block checksum per read costs more.
  options.verify_checksums = false;
  db_->MultiGet(options, db_->DefaultColumnFamily(), n, slices.data(), values.data(),
                statuses.data());
  for (size_t i = 0; i < n; ++i) {
    if (statuses[i].ok()) {
      (*records)[i].emplace(values[i].data(), values[i].size());
    } else if (blocked != nullptr && !statuses[i].IsNotFound()) {
      (*blocked)[i] = true;  // not cached (Busy), or failed: the storage thread tries
    } else if (!statuses[i].IsNotFound()) {
      LOG_EVERY_N(ERROR, 1000) << "spill read failed: " << statuses[i].ToString();
    }
  }
}

void Disk::ForEach(const std::function<void(std::string_view, std::string_view)>& f) {
  rocksdb::ReadOptions r;
  r.fill_cache = false;
  std::unique_ptr<rocksdb::Iterator> it(db_->NewIterator(r));
  for (it->SeekToFirst(); it->Valid(); it->Next()) {
    f(std::string_view(it->key().data(), it->key().size()),
      std::string_view(it->value().data(), it->value().size()));
  }
  LOG_IF(ERROR, !it->status().ok()) << "spill scan failed: " << it->status().ToString();
}

bool Disk::Flush() {
  const rocksdb::Status s = db_->Flush(rocksdb::FlushOptions());
  LOG_IF(ERROR, !s.ok()) << "spill flush failed: " << s.ToString();
  return s.ok();
}

size_t Disk::memory_bytes(const DiskOptions& options) {
  return 2 * MemtableBytes(options);  // max_write_buffer_number
}

uint64_t Disk::bytes() const {
  uint64_t size = 0;
  db_->GetIntProperty(rocksdb::DB::Properties::kLiveSstFilesSize, &size);
  return size;
}

}  // namespace spillway::storage
