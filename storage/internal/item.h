// How an item lies in segment memory. Internal to the storage module.
//
//   [header: 13 bytes][CAS: 8 bytes, only when stored][client flags: 4 bytes, only when non-zero]
//   [key][value]
//
// Most items store no CAS: a new version's CAS is derived from where it was first written (the
// store's log position, unique for the store's lifetime: see Store::Impl::CasOf). An item that
// moves (eviction copies hot items forward) or was given a CAS (meta E) stores it.
//
// Items are byte-packed (no alignment), so every field is read and written with memcpy.

#ifndef SPILLWAY_STORAGE_INTERNAL_ITEM_H_
#define SPILLWAY_STORAGE_INTERNAL_ITEM_H_

#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string_view>

namespace spillway::storage {

// Bits of ItemHeader::bits.
inline constexpr uint8_t kItemHasFlags = 1;    // a 4-byte client flags field follows
inline constexpr uint8_t kItemStale = 2;       // invalidated (md I, ms I): served with X
inline constexpr uint8_t kItemWon = 4;         // a client was handed the recache win (W)
inline constexpr uint8_t kItemFetched = 8;     // read at least once since written (h)
inline constexpr uint8_t kItemBinaryKey = 16;  // key arrived base64-encoded (meta b)
inline constexpr uint8_t kItemHasCas = 32;     // an 8-byte CAS follows the header
inline constexpr uint8_t kItemOnDisk = 64;     // promoted from the spill tier, unchanged since

#pragma pack(push, 1)
struct ItemHeader {
  uint32_t exptime;            // absolute Unix seconds; 0 = never
  uint32_t atime;              // last access, Unix seconds
  uint32_t value_length : 24;  // an item fits in a segment, at most 16 MiB
  uint32_t key_length : 8;
  uint8_t bits;
};
#pragma pack(pop)
static_assert(sizeof(ItemHeader) == 13);
// ItemView reads the fields at these offsets (little-endian: value_length is the low 24 bits of
// the 32-bit word at 8, key_length its high byte).
static_assert(std::endian::native == std::endian::little);

inline constexpr size_t ItemSize(size_t key_length, size_t value_length, uint32_t flags,
                                 bool has_cas) {
  return sizeof(ItemHeader) + (has_cas ? 8 : 0) + (flags != 0 ? 4 : 0) + key_length + value_length;
}
// The size limits are checked as if every item stored its CAS, so that any item can be moved.
inline constexpr size_t LargestItemSize(size_t key_length, size_t value_length, uint32_t flags) {
  return ItemSize(key_length, value_length, flags, /*has_cas=*/true);
}

// A view of one item in segment memory. Cheap to copy; owns nothing.
class ItemView {
 public:
  explicit ItemView(char* at) : at_(at) {}

  // The fields one at a time, loaded straight from item memory. (Copying the packed header to
  // the stack and reading its bitfields back defeated store-to-load forwarding: with the index
  // misses prefetched away, that was the top cost of a get.)
  uint32_t exptime() const { return Load32(0); }
  uint32_t atime() const { return Load32(4); }
  uint32_t value_length() const { return Load32(8) & 0xffffff; }
  uint8_t key_length() const { return static_cast<uint8_t>(at_[11]); }
  uint8_t bits() const { return static_cast<uint8_t>(at_[12]); }
  void set_exptime(uint32_t exptime) const { std::memcpy(at_, &exptime, 4); }
  void set_atime(uint32_t atime) const { std::memcpy(at_ + 4, &atime, 4); }
  void set_bits(uint8_t bits) const { at_[12] = static_cast<char>(bits); }

  ItemHeader header() const {
    ItemHeader h;
    h.exptime = exptime();
    h.atime = atime();
    h.value_length = value_length();
    h.key_length = key_length();
    h.bits = bits();
    return h;
  }
  // Only the metadata may change in place; not what decides the layout (bits kItemHasFlags and
  // kItemHasCas, lengths).
  void set_header(const ItemHeader& h) { std::memcpy(at_, &h, sizeof h); }

  std::optional<uint64_t> stored_cas() const {
    if ((bits() & kItemHasCas) == 0) return std::nullopt;
    uint64_t cas;
    std::memcpy(&cas, at_ + sizeof(ItemHeader), sizeof cas);
    return cas;
  }
  uint32_t client_flags() const {
    const uint8_t b = bits();
    if ((b & kItemHasFlags) == 0) return 0;
    return Load32(sizeof(ItemHeader) + CasBytes(b));
  }
  std::string_view key() const { return {at_ + KeyOffset(bits()), key_length()}; }
  std::string_view value() const {
    return {at_ + KeyOffset(bits()) + key_length(), value_length()};
  }
  size_t size() const { return KeyOffset(bits()) + key_length() + value_length(); }
  char* data() const { return at_; }

  // Writes the header, CAS, flags and key of an item at `at` (ItemSize bytes are reserved); the
  // caller writes the value bytes (mutable_value()), which lets append/prepend assemble them in
  // place.
  static ItemView Write(char* at, const ItemHeader& header, std::optional<uint64_t> cas,
                        uint32_t flags, std::string_view key) {
    ItemHeader h = header;
    h.bits = static_cast<uint8_t>((h.bits & ~(kItemHasFlags | kItemHasCas)) |
                                  (flags != 0 ? kItemHasFlags : 0) | (cas ? kItemHasCas : 0));
    h.key_length = static_cast<uint8_t>(key.size());
    ItemView item(at);
    item.set_header(h);
    char* p = at + sizeof(ItemHeader);
    if (cas) {
      std::memcpy(p, &*cas, sizeof(uint64_t));
      p += sizeof(uint64_t);
    }
    if (flags != 0) {
      std::memcpy(p, &flags, sizeof flags);
      p += sizeof flags;
    }
    std::memcpy(p, key.data(), key.size());
    return item;
  }
  char* mutable_value() const { return at_ + KeyOffset(bits()) + key_length(); }

 private:
  uint32_t Load32(size_t offset) const {
    uint32_t v;
    std::memcpy(&v, at_ + offset, sizeof v);
    return v;
  }
  static size_t CasBytes(uint8_t bits) { return (bits & kItemHasCas) != 0 ? 8 : 0; }
  static size_t KeyOffset(uint8_t bits) {
    return sizeof(ItemHeader) + CasBytes(bits) + ((bits & kItemHasFlags) != 0 ? 4 : 0);
  }
  char* at_;
};

}  // namespace spillway::storage

#endif  // SPILLWAY_STORAGE_INTERNAL_ITEM_H_
