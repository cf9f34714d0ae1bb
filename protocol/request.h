// One memcached text-protocol request, classic or meta, as the parser hands it out and the
// encoder takes it in.
//
// Ownership: every std::string_view in a Request points into the byte buffer that was parsed
// (or, for a base64 meta key, into the RequestParser's scratch space). The views stay valid
// until the caller consumes those bytes or calls RequestParser::Parse again, whichever comes
// first. A Request owns nothing; copying it copies views.

#ifndef SPILLWAY_PROTOCOL_REQUEST_H_
#define SPILLWAY_PROTOCOL_REQUEST_H_

#include <cstdint>
#include <string_view>

namespace spillway::protocol {

inline constexpr size_t kMaxKeyLength = 250;
// memcached answers an opaque token longer than this, its O included, with a CLIENT_ERROR.
inline constexpr size_t kMaxOpaqueLength = 32;

enum class Command : uint8_t {
  kNone,
  // Retrieval.
  kGet,
  kGets,
  kGat,
  kGats,
  // Storage: a command line, then a data block.
  kSet,
  kAdd,
  kReplace,
  kAppend,
  kPrepend,
  kCas,
  // Single-key, no data block.
  kIncr,
  kDecr,
  kDelete,
  kTouch,
  // Whole-server.
  kFlushAll,
  kStats,
  kVersion,
  kVerbosity,
  kQuit,
  kShutdown,
  // Meta.
  kMetaGet,
  kMetaSet,
  kMetaDelete,
  kMetaArithmetic,
  kMetaNoop,
  kMetaDebug,
};

// The command word as sent on the wire ("get", "mg", "flush_all", ...); "" for kNone.
std::string_view CommandName(Command command);
bool IsRetrieval(Command command);  // get, gets, gat, gats
bool IsStorage(Command command);    // set, add, replace, append, prepend, cas (not ms)
bool IsMeta(Command command);

// Iterates the space-separated tokens of a view (multi-get keys, meta flags). Runs of spaces
// are one separator, as in memcached's tokenizer.
class TokenIterator {
 public:
  explicit TokenIterator(std::string_view text) : rest_(text) {}
  // Stores the next token in *token and returns true, or returns false at the end.
  bool Next(std::string_view* token);

 private:
  std::string_view rest_;
};

// The meta flags of one request. Flags are single characters [A-Za-z]; some carry a token
// ("T30", "Oabc"). Return flags are echoed in the order the client sent them, so `tokens`
// keeps the flag tokens as sent; the fields below hold the parsed value of each token flag.
struct MetaFlags {
  uint64_t present = 0;     // one bit per flag character; see Has()
  std::string_view tokens;  // every flag token as sent, space separated

  std::string_view opaque;    // O: the value after the O, echoed back verbatim
  uint64_t compare_cas = 0;   // C: compare against the item's CAS
  uint64_t new_cas = 0;       // E: the CAS to give a modified item
  uint64_t delta = 1;         // D: ma delta
  uint64_t initial = 0;       // J: ma initial value on auto-create
  int64_t ttl = 0;            // T: new TTL (exptime semantics as in classic commands)
  int64_t vivify_ttl = 0;     // N: vivify/auto-create on miss with this TTL
  int64_t recache_ttl = 0;    // R: win the recache if the remaining TTL is below this
  uint32_t client_flags = 0;  // F: ms client flags
  char mode = 0;              // M: ms E/A/P/R/S, ma I/+/D/- (0 when absent)

  bool Has(char flag) const { return (present >> Bit(flag)) & 1; }
  void Set(char flag) { present |= uint64_t{1} << Bit(flag); }
  // A..Z -> 0..25, a..z -> 26..51, anything else -> 63 (never a valid flag).
  static constexpr unsigned Bit(char flag) {
    if (flag >= 'A' && flag <= 'Z') return static_cast<unsigned>(flag - 'A');
    if (flag >= 'a' && flag <= 'z') return 26 + static_cast<unsigned>(flag - 'a');
    return 63;
  }
};

struct Request {
  Command command = Command::kNone;

  // The key, decoded when a meta command carries the b flag. For the retrieval commands this is
  // the first key; `keys` holds them all.
  std::string_view key;
  // The key token exactly as sent (base64 text with the b flag); echoed by the k return flag.
  std::string_view key_token;
  // Retrieval commands: every key, space separated, as sent. Iterate with TokenIterator.
  std::string_view keys;
  // Storage commands and ms: the data block, without its "\r\n".
  std::string_view value;

  uint32_t client_flags = 0;  // storage commands
  // Storage commands, touch, gat/gats: the exptime as sent (0 never, <= 30 days relative,
  // larger absolute, negative already expired). flush_all: the delay in seconds (0 = now).
  int64_t exptime = 0;
  uint64_t cas_unique = 0;  // cas
  uint64_t delta = 0;       // incr, decr
  uint32_t level = 0;       // verbosity
  // stats: everything after "stats" ("" for plain stats); shutdown: its mode token ("" or
  // "graceful" or whatever was sent: the server judges it, since a disabled shutdown answers
  // before the mode is looked at).
  std::string_view argument;

  // Classic commands: the client asked for no reply ("noreply"). The server sends nothing for
  // this request, errors included, exactly as memcached does. Never set for meta commands: their
  // q flag hides only some return codes (see MetaFlags).
  bool noreply = false;

  MetaFlags meta;
};

}  // namespace spillway::protocol

#endif  // SPILLWAY_PROTOCOL_REQUEST_H_
