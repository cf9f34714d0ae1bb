// The spill tier's records and its RocksDB database, on a real disk in a temporary directory.

#include "storage/disk.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdlib.h>
#include <unistd.h>

#include <ctime>
#include <filesystem>
#include <map>
#include <string>

#include "storage/spill_record.h"

namespace spillway::storage {
namespace {

TEST(SpillRecord, RoundTripsEveryField) {
  SpillRecord r;
  r.seq = 0x0102030405060708;
  r.cas = 0xfffffffffffffffe;
  r.exptime = 1'800'000'000;
  r.client_flags = 0xdeadbeef;
  r.binary_key = true;
  const std::string value("a\0b\r\nc", 6);
  r.value = value;
  std::string bytes = "prefix";
  EncodeRecord(r, &bytes);
  SpillRecord back;
  ASSERT_TRUE(DecodeRecord(std::string_view(bytes).substr(6), &back));
  EXPECT_EQ(back.seq, r.seq);
  EXPECT_EQ(back.cas, r.cas);
  EXPECT_EQ(back.exptime, r.exptime);
  EXPECT_EQ(back.client_flags, r.client_flags);
  EXPECT_TRUE(back.binary_key);
  EXPECT_EQ(back.value, value);
}

TEST(SpillRecord, RejectsWhatItDidNotWrite) {
  SpillRecord r;
  EXPECT_FALSE(DecodeRecord("", &r));
  EXPECT_FALSE(DecodeRecord(std::string(kSpillRecordHeader - 1, '\1'), &r));
  EXPECT_FALSE(DecodeRecord(std::string(kSpillRecordHeader, '\2'), &r));  // unknown format
}

class DiskTest : public ::testing::TestWithParam<bool> {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/spillway-disk-test-XXXXXX";
    ASSERT_NE(mkdtemp(pattern), nullptr);
    dir_ = pattern;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::unique_ptr<Disk> Open(uint64_t limit = 64 << 20) {
    std::string error;
    auto disk = Disk::Open(DiskOptions{dir_ + "/db", limit, /*io_uring=*/GetParam()}, &error);
    EXPECT_NE(disk, nullptr) << error;
    return disk;
  }
  static std::string Record(uint64_t seq, uint32_t exptime, std::string_view value) {
    SpillRecord r;
    r.seq = seq;
    r.cas = seq * 10;
    r.exptime = exptime;
    r.value = value;
    std::string bytes;
    EncodeRecord(r, &bytes);
    return bytes;
  }
  std::map<std::string, SpillRecord> All(Disk& disk) {
    std::map<std::string, SpillRecord> all;
    disk.ForEach([&](std::string_view key, std::string_view bytes) {
      SpillRecord r;
      EXPECT_TRUE(DecodeRecord(bytes, &r));
      r.value = {};
      all.emplace(std::string(key), r);
    });
    return all;
  }
  std::string dir_;
};

TEST_P(DiskTest, ReadsBackWhatWasWrittenAndNotWhatWasDeleted) {
  auto disk = Open();
  DiskBatch batch;
  batch.Put("a", Record(1, 0, "alpha"));
  batch.Put("b", Record(2, 0, "beta"));
  batch.Put("a", Record(3, 0, "alpha2"));  // later in the batch wins
  batch.Delete("b");
  ASSERT_TRUE(disk->Write(std::move(batch)));
  std::vector<std::optional<std::string>> got;
  disk->Read({"a", "b", "c"}, &got);
  ASSERT_EQ(got.size(), 3u);
  ASSERT_TRUE(got[0].has_value());
  SpillRecord r;
  ASSERT_TRUE(DecodeRecord(*got[0], &r));
  EXPECT_EQ(r.seq, 3u);
  EXPECT_EQ(r.value, "alpha2");
  EXPECT_FALSE(got[1].has_value());
  EXPECT_FALSE(got[2].has_value());
}

TEST_P(DiskTest, FlushedRecordsSurviveReopening) {
  {
    auto disk = Open();
    DiskBatch batch;
    for (int i = 0; i < 100; ++i) batch.Put("k" + std::to_string(i), Record(i + 1, 0, "v"));
    ASSERT_TRUE(disk->Write(std::move(batch)));
    ASSERT_TRUE(disk->Flush());
    EXPECT_GT(disk->bytes(), 0u);
  }
  auto disk = Open();
  EXPECT_EQ(All(*disk).size(), 100u);
}

// Merging files runs the compaction filter: flushed (seq below the mark) and expired records go,
// the rest stay. Enough flushed files make FIFO compaction merge them (intra-L0).
TEST_P(DiskTest, CompactionDropsFlushedAndExpiredRecords) {
  auto disk = Open();
  const auto past = static_cast<uint32_t>(std::time(nullptr) - 10);
  uint64_t seq = 1;
  for (int file = 0; file < 12; ++file) {
    DiskBatch batch;
    for (int i = 0; i < 50; ++i) {
      const std::string key = "f" + std::to_string(file) + "-" + std::to_string(i);
      // Every third record expired; the first four files' records flushed (seq < 201).
      batch.Put(key, Record(seq++, i % 3 == 0 ? past : 0, "value"));
    }
    ASSERT_TRUE(disk->Write(std::move(batch)));
    ASSERT_TRUE(disk->Flush());
  }
  disk->SetFlushedBelow(201);
  const auto dead = [&] {
    size_t n = 0;
    for (const auto& [key, r] : All(*disk))
      n += r.seq < 201 || (r.exptime != 0 && r.exptime <= past);
    return n;
  };
  // The flushed ones at least are still there (expired ones may already have been merged away).
  ASSERT_GE(dead(), 200u);
  // Compaction runs in the background; more files keep triggering it until it has merged them.
  for (int round = 0; round < 300 && dead() > 0; ++round) {
    DiskBatch batch;
    batch.Put("trigger" + std::to_string(round), Record(seq++, 0, "t"));
    ASSERT_TRUE(disk->Write(std::move(batch)));
    ASSERT_TRUE(disk->Flush());
  }
  EXPECT_EQ(dead(), 0u);
  // The live ones all stayed.
  size_t live = 0;
  for (const auto& [key, r] : All(*disk)) live += key[0] == 'f';
  EXPECT_EQ(live, 8u * (50 - 17));
}

// Many keys over many table files, looked up in batches: MultiGet's MultiRead per file is where
// the io_uring file system submits its reads together.
TEST_P(DiskTest, BatchedReadsAcrossFilesReturnEveryRecord) {
  auto disk = Open();
  const int kFiles = 6, kPerFile = 500;
  uint64_t seq = 1;
  for (int file = 0; file < kFiles; ++file) {
    DiskBatch batch;
    for (int i = 0; i < kPerFile; ++i) {
      const int k = i * kFiles + file;  // keys interleaved over the files
      batch.Put("key" + std::to_string(k),
                Record(seq++, 0, std::string(100 + k % 3000, 'a' + k % 26)));
    }
    ASSERT_TRUE(disk->Write(std::move(batch)));
    ASSERT_TRUE(disk->Flush());
  }
  for (int from = 0; from < kFiles * kPerFile; from += 100) {
    std::vector<std::string> keys;
    for (int k = from; k < from + 100; ++k) keys.push_back("key" + std::to_string(k));
    keys.push_back("absent" + std::to_string(from));
    std::vector<std::optional<std::string>> got;
    disk->Read(keys, &got);
    ASSERT_EQ(got.size(), keys.size());
    for (int k = from; k < from + 100; ++k) {
      ASSERT_TRUE(got[k - from].has_value()) << k;
      SpillRecord r;
      ASSERT_TRUE(DecodeRecord(*got[k - from], &r));
      EXPECT_EQ(r.value, std::string(100 + k % 3000, 'a' + k % 26)) << k;
    }
    EXPECT_FALSE(got.back().has_value());
  }
}

// Reads that must not wait: served from the page cache when it has the blocks, refused
// ("blocked") when it does not, and then served by a read that may wait.
TEST_P(DiskTest, ReadsThatMustNotWaitAreRefusedWhenTheBlocksAreNotCached) {
  auto disk = Open();
  DiskBatch batch;
  for (int i = 0; i < 200; ++i)
    batch.Put("key" + std::to_string(i), Record(i + 1, 0, std::string(3000, 'x')));
  ASSERT_TRUE(disk->Write(std::move(batch)));
  ASSERT_TRUE(disk->Flush());  // the table is written and synced: its pages are clean
  std::vector<std::string> keys = {"key7", "key150", "absent"};
  std::vector<std::optional<std::string>> got;
  std::vector<bool> blocked;
  disk->Read(keys, &got, &blocked);  // just written: cached
  EXPECT_EQ(blocked, (std::vector<bool>{false, false, false}));
  EXPECT_TRUE(got[0].has_value());
  EXPECT_TRUE(got[1].has_value());
  EXPECT_FALSE(got[2].has_value());
  // Drop the table files from the page cache.
  for (const auto& entry : std::filesystem::directory_iterator(dir_ + "/db")) {
    if (entry.path().extension() != ".sst") continue;
    const int fd = open(entry.path().c_str(), O_RDONLY);
    ASSERT_GE(fd, 0);
    ASSERT_EQ(posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED), 0);
    close(fd);
  }
  disk->Read(keys, &got, &blocked);
  EXPECT_TRUE(blocked[0]);
  EXPECT_TRUE(blocked[1]);
  EXPECT_FALSE(got[0].has_value());
  disk->Read(keys, &got);  // may wait
  ASSERT_TRUE(got[0].has_value());
  SpillRecord r;
  ASSERT_TRUE(DecodeRecord(*got[0], &r));
  EXPECT_EQ(r.seq, 8u);
  EXPECT_TRUE(got[1].has_value());
  EXPECT_FALSE(got[2].has_value());
}

INSTANTIATE_TEST_SUITE_P(Reads, DiskTest, ::testing::Bool(),
                         [](const ::testing::TestParamInfo<bool>& info) {
                           return info.param ? "io_uring" : "pread";
                         });

}  // namespace
}  // namespace spillway::storage
