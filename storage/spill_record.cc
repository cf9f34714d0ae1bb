#include "storage/spill_record.h"

#include <cstring>

namespace spillway::storage {
namespace {

constexpr uint8_t kFormat = 1;
constexpr uint8_t kBinaryKey = 1;

template <typename T>
void Put(std::string* out, T v) {
  out->append(reinterpret_cast<const char*>(&v), sizeof v);
}

template <typename T>
T Get(const char* p) {
  T v;
  std::memcpy(&v, p, sizeof v);
  return v;
}

}  // namespace

void EncodeRecord(const SpillRecord& r, std::string* out) {
  out->reserve(out->size() + kSpillRecordHeader + r.value.size());
  Put<uint8_t>(out, kFormat);
  Put<uint8_t>(out, r.binary_key ? kBinaryKey : 0);
  Put<uint32_t>(out, r.exptime);
  Put<uint32_t>(out, r.client_flags);
  Put<uint64_t>(out, r.cas);
  Put<uint64_t>(out, r.seq);
  out->append(r.value);
}

bool DecodeRecord(std::string_view bytes, SpillRecord* r) {
  if (bytes.size() < kSpillRecordHeader || static_cast<uint8_t>(bytes[0]) != kFormat) {
    return false;
  }
  const char* p = bytes.data();
  r->binary_key = (static_cast<uint8_t>(p[1]) & kBinaryKey) != 0;
  r->exptime = Get<uint32_t>(p + 2);
  r->client_flags = Get<uint32_t>(p + 6);
  r->cas = Get<uint64_t>(p + 10);
  r->seq = Get<uint64_t>(p + 18);
  r->value = bytes.substr(kSpillRecordHeader);
  return true;
}

}  // namespace spillway::storage
