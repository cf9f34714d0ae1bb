// One unit of a memcached text-protocol response: a line, or a line with its data block (VALUE,
// VA). A whole answer may be several units (VALUE... END, STAT... END); the caller knows what it
// asked and gathers them.
//
// Ownership: views point into the parsed buffer (ResponseParser) or into whatever the caller
// filled in (encoding); a Response owns nothing.

#ifndef SPILLWAY_PROTOCOL_RESPONSE_H_
#define SPILLWAY_PROTOCOL_RESPONSE_H_

#include <cstdint>
#include <string_view>

#include "protocol/request.h"

namespace spillway::protocol {

enum class ResponseType : uint8_t {
  kValue,          // VALUE <key> <flags> <bytes> [<cas unique>]\r\n<data>\r\n
  kEnd,            // END
  kStored,         // STORED
  kNotStored,      // NOT_STORED
  kExists,         // EXISTS
  kNotFound,       // NOT_FOUND
  kDeleted,        // DELETED
  kTouched,        // TOUCHED
  kNumber,         // <number>: incr/decr result
  kStat,           // STAT <name> <value>
  kVersion,        // VERSION <text>
  kOk,             // OK
  kReset,          // RESET
  kError,          // ERROR[<text>]: text is whatever follows "ERROR", verbatim
  kClientError,    // CLIENT_ERROR <text>
  kServerError,    // SERVER_ERROR <text>
  kMetaValue,      // VA <size> <flags>*\r\n<data>\r\n
  kMetaHeader,     // HD <flags>*
  kMetaMiss,       // EN <flags>*
  kMetaNotFound,   // NF <flags>*
  kMetaNotStored,  // NS <flags>*
  kMetaExists,     // EX <flags>*
  kMetaNoop,       // MN
  kMetaDebug,      // ME <text>: text is "<key> <k>=<v>*"
};

struct Response {
  ResponseType type = ResponseType::kEnd;
  std::string_view key;       // kValue
  uint32_t client_flags = 0;  // kValue
  std::string_view value;     // kValue, kMetaValue: the data block without "\r\n"
  bool has_cas = false;       // kValue: the line carries a CAS (gets, gats)
  uint64_t cas = 0;           // kValue
  uint64_t number = 0;        // kNumber
  std::string_view name;      // kStat
  // kStat: the value; kVersion: the version; errors: the message; kMetaDebug: the body; meta
  // codes: the return flags as sent, space separated ("" when none).
  std::string_view text;
};

// Whether a meta command sent with the q flag leaves out an answer of this type, as memcached
// 1.6 does: mg hides EN, ms hides HD, md hides HD, ma hides HD and VA. Errors, and every other
// code (NF, NS, EX, a hit's VA/HD for mg), are always sent.
bool QuietHides(Command command, ResponseType type);

// The word that starts the response line ("VALUE", "HD", ...); "" for kNumber.
std::string_view ResponseWord(ResponseType type);

// Two responses are equal when every field that their type uses is equal.
bool SameResponse(const Response& a, const Response& b);

}  // namespace spillway::protocol

#endif  // SPILLWAY_PROTOCOL_RESPONSE_H_
