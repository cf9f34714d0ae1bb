#include "protocol/response.h"

namespace spillway::protocol {

std::string_view ResponseWord(ResponseType type) {
  switch (type) {
    case ResponseType::kValue:
      return "VALUE";
    case ResponseType::kEnd:
      return "END";
    case ResponseType::kStored:
      return "STORED";
    case ResponseType::kNotStored:
      return "NOT_STORED";
    case ResponseType::kExists:
      return "EXISTS";
    case ResponseType::kNotFound:
      return "NOT_FOUND";
    case ResponseType::kDeleted:
      return "DELETED";
    case ResponseType::kTouched:
      return "TOUCHED";
    case ResponseType::kNumber:
      return "";
    case ResponseType::kStat:
      return "STAT";
    case ResponseType::kVersion:
      return "VERSION";
    case ResponseType::kOk:
      return "OK";
    case ResponseType::kReset:
      return "RESET";
    case ResponseType::kError:
      return "ERROR";
    case ResponseType::kClientError:
      return "CLIENT_ERROR";
    case ResponseType::kServerError:
      return "SERVER_ERROR";
    case ResponseType::kMetaValue:
      return "VA";
    case ResponseType::kMetaHeader:
      return "HD";
    case ResponseType::kMetaMiss:
      return "EN";
    case ResponseType::kMetaNotFound:
      return "NF";
    case ResponseType::kMetaNotStored:
      return "NS";
    case ResponseType::kMetaExists:
      return "EX";
    case ResponseType::kMetaNoop:
      return "MN";
    case ResponseType::kMetaDebug:
      return "ME";
  }
  return "";
}

bool QuietHides(Command command, ResponseType type) {
  switch (command) {
    case Command::kMetaGet:
      return type == ResponseType::kMetaMiss;
    case Command::kMetaSet:
    case Command::kMetaDelete:
      return type == ResponseType::kMetaHeader;
    case Command::kMetaArithmetic:
      return type == ResponseType::kMetaHeader || type == ResponseType::kMetaValue;
    default:
      return false;
  }
}

bool SameResponse(const Response& a, const Response& b) {
  if (a.type != b.type) return false;
  switch (a.type) {
    case ResponseType::kValue:
      return a.key == b.key && a.client_flags == b.client_flags && a.value == b.value &&
             a.has_cas == b.has_cas && (!a.has_cas || a.cas == b.cas);
    case ResponseType::kNumber:
      return a.number == b.number;
    case ResponseType::kStat:
      return a.name == b.name && a.text == b.text;
    case ResponseType::kMetaValue:
      return a.value == b.value && a.text == b.text;
    default:
      return a.text == b.text;
  }
}

}  // namespace spillway::protocol
