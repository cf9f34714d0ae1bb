// memcached's error lines, byte for byte (without "\r\n"). One place, so that the parser, the
// server and the tests agree on every string.

#ifndef SPILLWAY_PROTOCOL_ERRORS_H_
#define SPILLWAY_PROTOCOL_ERRORS_H_

#include <string_view>

namespace spillway::protocol::errors {

inline constexpr std::string_view kError = "ERROR";
inline constexpr std::string_view kBadFormat = "CLIENT_ERROR bad command line format";
inline constexpr std::string_view kBadDataChunk = "CLIENT_ERROR bad data chunk";
inline constexpr std::string_view kTooLarge = "SERVER_ERROR object too large for cache";
inline constexpr std::string_view kOutOfMemory = "SERVER_ERROR out of memory storing object";
inline constexpr std::string_view kBadDelta = "CLIENT_ERROR invalid numeric delta argument";
inline constexpr std::string_view kNonNumeric =
    "CLIENT_ERROR cannot increment or decrement non-numeric value";
inline constexpr std::string_view kBadExptime = "CLIENT_ERROR invalid exptime argument";
inline constexpr std::string_view kDeleteUsage =
    "CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]";
inline constexpr std::string_view kShutdownDisabled = "ERROR: shutdown not enabled";
inline constexpr std::string_view kBadShutdownMode = "CLIENT_ERROR invalid shutdown mode";
inline constexpr std::string_view kTooManyConnections = "ERROR Too many open connections";

// Meta commands.
inline constexpr std::string_view kBadToken = "CLIENT_ERROR bad token in command line format";
inline constexpr std::string_view kInvalidFlag = "CLIENT_ERROR invalid flag";
inline constexpr std::string_view kDuplicateFlag = "CLIENT_ERROR duplicate flag";
// md and ma answer every flag error with this one line.
inline constexpr std::string_view kInvalidOrDuplicateFlag =
    "CLIENT_ERROR invalid or duplicate flag";
// mg says the first, ms, md and ma the second.
inline constexpr std::string_view kFlagsTooLong = "CLIENT_ERROR options flags are too long";
inline constexpr std::string_view kShortFlagsTooLong = "CLIENT_ERROR options flags too long";
inline constexpr std::string_view kOpaqueTooLong = "CLIENT_ERROR opaque token too long";
inline constexpr std::string_view kBadKeyEncoding = "CLIENT_ERROR error decoding key";
inline constexpr std::string_view kBadModeLength = "CLIENT_ERROR incorrect length for M token";
inline constexpr std::string_view kBadSetMode = "CLIENT_ERROR invalid mode for ms M token";
inline constexpr std::string_view kBadArithmeticMode = "CLIENT_ERROR invalid mode for ma M token";
inline constexpr std::string_view kBadInitial = "CLIENT_ERROR invalid numeric initial value";
inline constexpr std::string_view kBadDeltaToken = "CLIENT_ERROR invalid numeric delta value";

}  // namespace spillway::protocol::errors

#endif  // SPILLWAY_PROTOCOL_ERRORS_H_
