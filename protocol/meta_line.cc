#include "protocol/internal/meta_line.h"

#include <climits>

#include "protocol/base64.h"
#include "protocol/errors.h"
#include "protocol/internal/keys.h"
#include "protocol/numbers.h"

namespace spillway::protocol {
namespace {

// memcached's MFLAG_MAX_OPT_LENGTH: a meta line of more tokens than this is refused.
constexpr size_t kMaxMetaTokens = 20;

bool ParseTtl(std::string_view token, int64_t* out) {
  int32_t value = 0;
  if (!ParseInt32(token, &value)) return false;
  *out = value;
  return true;
}

// memcached's _meta_flag_preparse: checks every flag token from `first` on and fills `r.meta`.
// A repeated or unknown flag stops at once; a bad token is remembered and the scan goes on, so
// the last bad token names the error, as in memcached.
std::string_view ParseFlags(const Tokens& t, size_t first, std::string_view line, Request& r,
                            char* scratch, size_t scratch_size) {
  MetaFlags& m = r.meta;
  m.tokens = t.From(first, line);
  std::string_view error;
  for (size_t i = first; i + 1 < t.ntokens; ++i) {
    const std::string_view token = t.token[i];
    const char flag = token[0];
    const std::string_view arg = token.substr(1);
    if (MetaFlags::Bit(flag) == 63 || m.Has(flag)) {
      // memcached reports any byte it has no slot for as a duplicate.
      if (MetaFlags::Bit(flag) == 63 && static_cast<unsigned char>(flag) < 127) {
        return errors::kInvalidFlag;
      }
      return errors::kDuplicateFlag;
    }
    m.Set(flag);
    switch (flag) {
      case 'b': {
        const size_t n = Base64Decode(r.key_token, scratch, scratch_size);
        if (n == 0) error = errors::kBadKeyEncoding;
        r.key = std::string_view(scratch, n);
        break;
      }
      case 'N':
        if (!ParseTtl(arg, &m.vivify_ttl)) error = errors::kBadToken;
        break;
      case 'T':
        if (!ParseTtl(arg, &m.ttl)) error = errors::kBadToken;
        break;
      case 'R':
        if (!ParseTtl(arg, &m.recache_ttl)) error = errors::kBadToken;
        break;
      case 'O':
        m.opaque = arg;
        break;
      case 'F':
        if (!ParseUint32(arg, &m.client_flags)) error = errors::kBadFormat;
        break;
      case 'C':
        if (!ParseUint64(arg, &m.compare_cas)) error = errors::kBadToken;
        break;
      case 'E':
        if (!ParseUint64(arg, &m.new_cas)) error = errors::kBadToken;
        break;
      case 'M':
        if (token.size() != 2) error = errors::kBadModeLength;
        m.mode = token.size() == 2 ? token[1] : 0;
        break;
      case 'J':
        if (!ParseUint64(arg, &m.initial)) error = errors::kBadInitial;
        break;
      case 'D':
        if (!ParseUint64(arg, &m.delta)) error = errors::kBadDeltaToken;
        break;
      case 'P':  // proxy hints: accepted and ignored
      case 'L':
      case 'k':
      case 's':
      case 't':
      case 'c':
      case 'f':
      case 'v':
      case 'h':
      case 'l':
      case 'u':
      case 'q':
      case 'I':
      case 'x':
        break;
      default:
        return errors::kInvalidFlag;
    }
  }
  if (!m.Has('D')) m.delta = 1;
  return error;
}

MetaLine Fail(std::string_view error, uint64_t discard = 0) {
  MetaLine out;
  out.error = error;
  out.discard = discard;
  return out;
}

MetaLine ParseDebug(const Tokens& t, std::string_view line, Request& r, char* scratch,
                    size_t scratch_size) {
  if (t.ntokens < 3 || r.key.size() > kMaxKeyLength) return Fail(errors::kBadFormat);
  r.meta.tokens = t.From(2, line);
  if (t.ntokens >= 4 && t.token[2] == "b") {
    r.meta.Set('b');
    const size_t n = Base64Decode(r.key_token, scratch, scratch_size);
    if (n == 0) return Fail(errors::kBadFormat);
    r.key = std::string_view(scratch, n);
  } else if (HasControlCharacter(r.key)) {
    return Fail(errors::kBadFormat);
  }
  return MetaLine();
}

}  // namespace

MetaLine ParseMetaLine(const Tokens& t, std::string_view line, Request* request, char* scratch,
                       size_t scratch_size, size_t max_item_size) {
  MetaLine out;
  Request& r = *request;
  r.key = r.key_token = t.token[1];
  switch (t.token[0][1]) {
    case 'g':
      r.command = Command::kMetaGet;
      break;
    case 's':
      r.command = Command::kMetaSet;
      break;
    case 'd':
      r.command = Command::kMetaDelete;
      break;
    case 'a':
      r.command = Command::kMetaArithmetic;
      break;
    case 'n':
      r.command = Command::kMetaNoop;
      r.key = r.key_token = {};
      return out;
    case 'e':
      r.command = Command::kMetaDebug;
      return ParseDebug(t, line, r, scratch, scratch_size);
    default:
      return Fail(errors::kError);
  }

  if (t.ntokens < 3) return Fail(errors::kError);
  if (r.key.size() > kMaxKeyLength) return Fail(errors::kBadFormat);
  const bool is_set = r.command == Command::kMetaSet;
  if (is_set && t.ntokens == 3) return Fail(errors::kBadFormat);
  if (t.ntokens > kMaxMetaTokens) {
    // mg words it one way, ms, md and ma another.
    return Fail(r.command == Command::kMetaGet ? errors::kFlagsTooLong
                                               : errors::kShortFlagsTooLong);
  }

  int32_t length = 0;
  uint64_t discard = 0;
  if (is_set) {
    if (!ParseInt32(t.token[2], &length) || length < 0 || length > INT_MAX - 2) {
      return Fail(errors::kBadFormat);
    }
    // From here on a rejected ms has its data block discarded, not read as commands.
    discard = static_cast<uint64_t>(length) + 2;
  }

  const std::string_view error = ParseFlags(t, is_set ? 3 : 2, line, r, scratch, scratch_size);
  if (!error.empty()) {
    // md and ma word every flag error alike.
    const bool generic = r.command == Command::kMetaDelete || r.command == Command::kMetaArithmetic;
    return Fail(generic ? errors::kInvalidOrDuplicateFlag : error, discard);
  }
  // memcached checks the opaque's length (O included) only once the flags are understood.
  if (r.meta.opaque.size() + 1 > kMaxOpaqueLength) {
    return Fail(errors::kOpaqueTooLong, discard);
  }
  if (!r.meta.Has('b') && HasControlCharacter(r.key)) {
    return Fail(errors::kBadFormat, discard);
  }

  const char mode = r.meta.mode;
  if (is_set) {
    if (mode != 0 && std::string_view("EAPRS").find(mode) == std::string_view::npos) {
      return Fail(errors::kBadSetMode, discard);
    }
    if (static_cast<size_t>(length) > max_item_size) return Fail(errors::kTooLarge, discard);
    out.data_length = length;
  } else if (r.command == Command::kMetaArithmetic) {
    if (mode != 0 && std::string_view("I+D-").find(mode) == std::string_view::npos) {
      return Fail(errors::kBadArithmeticMode);
    }
  }
  return out;
}

}  // namespace spillway::protocol
