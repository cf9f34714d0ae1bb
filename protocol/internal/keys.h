// Key checks shared by the classic and meta parsers. Internal to the protocol module.

#ifndef SPILLWAY_PROTOCOL_INTERNAL_KEYS_H_
#define SPILLWAY_PROTOCOL_INTERNAL_KEYS_H_

#include <algorithm>
#include <string_view>

namespace spillway::protocol {

// spillway refuses keys with control characters (memcached stores them; README, "Protocol
// notes").
inline bool HasControlCharacter(std::string_view key) {
  return std::any_of(key.begin(), key.end(), [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x20 || u == 0x7f;
  });
}

}  // namespace spillway::protocol

#endif  // SPILLWAY_PROTOCOL_INTERNAL_KEYS_H_
