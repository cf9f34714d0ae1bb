#include "protocol/encoder.h"

#include <charconv>

namespace spillway::protocol {
namespace {

void AppendWithSpace(std::string_view text, std::string* out) {
  if (text.empty()) return;
  out->push_back(' ');
  out->append(text);
}

void AppendNoreply(const Request& request, std::string* out) {
  if (request.noreply) out->append(" noreply");
}

void EncodeMeta(const Request& r, std::string* out) {
  out->append(CommandName(r.command));
  if (r.command == Command::kMetaNoop) {
    out->append("\r\n");
    return;
  }
  AppendWithSpace(r.key_token, out);
  if (r.command == Command::kMetaSet) {
    out->push_back(' ');
    AppendDecimal(r.value.size(), out);
  }
  AppendWithSpace(r.meta.tokens, out);
  out->append("\r\n");
  if (r.command == Command::kMetaSet) {
    out->append(r.value);
    out->append("\r\n");
  }
}

}  // namespace

void AppendDecimal(uint64_t value, std::string* out) {
  char buf[20];
  const auto end = std::to_chars(buf, buf + sizeof(buf), value).ptr;
  out->append(buf, static_cast<size_t>(end - buf));
}

void AppendSignedDecimal(int64_t value, std::string* out) {
  char buf[20];
  const auto end = std::to_chars(buf, buf + sizeof(buf), value).ptr;
  out->append(buf, static_cast<size_t>(end - buf));
}

void AppendValueHeader(std::string_view key, uint32_t client_flags, size_t bytes,
                       const uint64_t* cas, std::string* out) {
  out->append("VALUE ");
  out->append(key);
  out->push_back(' ');
  AppendDecimal(client_flags, out);
  out->push_back(' ');
  AppendDecimal(bytes, out);
  if (cas != nullptr) {
    out->push_back(' ');
    AppendDecimal(*cas, out);
  }
  out->append("\r\n");
}

void AppendMetaValueHeader(size_t bytes, std::string* out) {
  out->append("VA ");
  AppendDecimal(bytes, out);
}

void AppendMetaFlag(char flag, uint64_t value, std::string* out) {
  out->push_back(' ');
  out->push_back(flag);
  AppendDecimal(value, out);
}

void AppendMetaFlag(char flag, std::string_view value, std::string* out) {
  out->push_back(' ');
  out->push_back(flag);
  out->append(value);
}

void EncodeRequest(const Request& r, std::string* out) {
  if (IsMeta(r.command)) {
    EncodeMeta(r, out);
    return;
  }
  out->append(CommandName(r.command));
  switch (r.command) {
    case Command::kGat:
    case Command::kGats:
      out->push_back(' ');
      AppendSignedDecimal(r.exptime, out);
      [[fallthrough]];
    case Command::kGet:
    case Command::kGets:
      AppendWithSpace(r.keys.empty() ? r.key : r.keys, out);
      break;
    case Command::kSet:
    case Command::kAdd:
    case Command::kReplace:
    case Command::kAppend:
    case Command::kPrepend:
    case Command::kCas:
      AppendWithSpace(r.key, out);
      out->push_back(' ');
      AppendDecimal(r.client_flags, out);
      out->push_back(' ');
      AppendSignedDecimal(r.exptime, out);
      out->push_back(' ');
      AppendDecimal(r.value.size(), out);
      if (r.command == Command::kCas) {
        out->push_back(' ');
        AppendDecimal(r.cas_unique, out);
      }
      AppendNoreply(r, out);
      out->append("\r\n");
      out->append(r.value);
      break;
    case Command::kIncr:
    case Command::kDecr:
      AppendWithSpace(r.key, out);
      out->push_back(' ');
      AppendDecimal(r.delta, out);
      AppendNoreply(r, out);
      break;
    case Command::kTouch:
      AppendWithSpace(r.key, out);
      out->push_back(' ');
      AppendSignedDecimal(r.exptime, out);
      AppendNoreply(r, out);
      break;
    case Command::kDelete:
      AppendWithSpace(r.key, out);
      AppendNoreply(r, out);
      break;
    case Command::kFlushAll:
      if (r.exptime != 0) {
        out->push_back(' ');
        AppendSignedDecimal(r.exptime, out);
      }
      AppendNoreply(r, out);
      break;
    case Command::kVerbosity:
      if (r.argument.empty()) {
        out->push_back(' ');
        AppendDecimal(r.level, out);
      } else {
        AppendWithSpace(r.argument, out);
      }
      AppendNoreply(r, out);
      break;
    case Command::kStats:
    case Command::kShutdown:
      AppendWithSpace(r.argument, out);
      break;
    default:
      break;
  }
  out->append("\r\n");
}

void EncodeResponse(const Response& r, std::string* out) {
  switch (r.type) {
    case ResponseType::kValue:
      AppendValueHeader(r.key, r.client_flags, r.value.size(), r.has_cas ? &r.cas : nullptr, out);
      out->append(r.value);
      break;
    case ResponseType::kNumber:
      AppendDecimal(r.number, out);
      break;
    case ResponseType::kStat:
      out->append("STAT ");
      out->append(r.name);
      out->push_back(' ');
      out->append(r.text);
      break;
    case ResponseType::kError:
      out->append("ERROR");
      out->append(r.text);
      break;
    case ResponseType::kMetaValue:
      AppendMetaValueHeader(r.value.size(), out);
      AppendWithSpace(r.text, out);
      out->append("\r\n");
      out->append(r.value);
      break;
    default:
      out->append(ResponseWord(r.type));
      AppendWithSpace(r.text, out);
      break;
  }
  out->append("\r\n");
}

}  // namespace spillway::protocol
