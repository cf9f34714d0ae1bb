#include "protocol/base64.h"

#include <array>
#include <cstdint>

namespace spillway::protocol {
namespace {

constexpr std::string_view kAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
constexpr uint8_t kInvalid = 0x80;

constexpr std::array<uint8_t, 256> MakeDecodeTable() {
  std::array<uint8_t, 256> table{};
  for (auto& v : table) v = kInvalid;
  for (size_t i = 0; i < kAlphabet.size(); ++i) {
    table[static_cast<uint8_t>(kAlphabet[i])] = static_cast<uint8_t>(i);
  }
  table['='] = 0;
  return table;
}
constexpr std::array<uint8_t, 256> kDecode = MakeDecodeTable();

}  // namespace

size_t Base64Decode(std::string_view in, char* out, size_t out_len) {
  size_t count = 0;
  for (char c : in) count += kDecode[static_cast<uint8_t>(c)] != kInvalid;
  if (count == 0 || count % 4 != 0 || count / 4 * 3 > out_len) return 0;

  // Writing trails reading by at least one byte per block, so `out` may alias `in`.
  size_t pos = 0;
  uint8_t block[4];
  size_t filled = 0;
  int pad = 0;
  for (char c : in) {
    const uint8_t v = kDecode[static_cast<uint8_t>(c)];
    if (v == kInvalid) continue;
    if (c == '=') ++pad;
    block[filled++] = v;
    if (filled < 4) continue;
    out[pos++] = static_cast<char>((block[0] << 2) | (block[1] >> 4));
    out[pos++] = static_cast<char>((block[1] << 4) | (block[2] >> 2));
    out[pos++] = static_cast<char>((block[2] << 6) | block[3]);
    filled = 0;
    if (pad > 0) {
      if (pad > 2) return 0;
      pos -= static_cast<size_t>(pad);
      break;
    }
  }
  return pos;
}

void Base64Encode(std::string_view in, std::string* out) {
  const auto* p = reinterpret_cast<const uint8_t*>(in.data());
  size_t n = in.size();
  for (; n >= 3; p += 3, n -= 3) {
    const uint32_t v = (uint32_t{p[0]} << 16) | (uint32_t{p[1]} << 8) | p[2];
    out->push_back(kAlphabet[(v >> 18) & 63]);
    out->push_back(kAlphabet[(v >> 12) & 63]);
    out->push_back(kAlphabet[(v >> 6) & 63]);
    out->push_back(kAlphabet[v & 63]);
  }
  if (n == 0) return;
  const uint32_t v = (uint32_t{p[0]} << 16) | (n == 2 ? uint32_t{p[1]} << 8 : 0);
  out->push_back(kAlphabet[(v >> 18) & 63]);
  out->push_back(kAlphabet[(v >> 12) & 63]);
  out->push_back(n == 2 ? kAlphabet[(v >> 6) & 63] : '=');
  out->push_back('=');
}

}  // namespace spillway::protocol
