// How an item evicted from memory lies on disk: the RocksDB key is the item's key, the value a
// small header and the item's value. Pure encoding, no I/O.
//
//   [format 1][bits 1][exptime 4][client flags 4][CAS 8][seq 8][value]
//
// `seq` numbers the spills of one shard (1, 2, 3...). The shard keeps, per key on disk, the seq
// of its newest spill; a record whose seq is not that one is an older version and is never
// served (docs/storage.md, "The spill tier").

#ifndef SPILLWAY_STORAGE_SPILL_RECORD_H_
#define SPILLWAY_STORAGE_SPILL_RECORD_H_

#include <cstdint>
#include <string>
#include <string_view>

namespace spillway::storage {

struct SpillRecord {
  uint64_t seq = 0;
  uint64_t cas = 0;
  uint32_t exptime = 0;  // absolute Unix seconds; 0 = never
  uint32_t client_flags = 0;
  bool binary_key = false;
  std::string_view value;  // DecodeRecord: a view into the encoded bytes
};

inline constexpr size_t kSpillRecordHeader = 26;

// Appends the record's bytes to *out.
void EncodeRecord(const SpillRecord& record, std::string* out);
// False when `bytes` is not a record this version wrote.
bool DecodeRecord(std::string_view bytes, SpillRecord* record);

}  // namespace spillway::storage

#endif  // SPILLWAY_STORAGE_SPILL_RECORD_H_
