#include "protocol/request.h"

namespace spillway::protocol {

std::string_view CommandName(Command command) {
  switch (command) {
    case Command::kNone:
      return "";
    case Command::kGet:
      return "get";
    case Command::kGets:
      return "gets";
    case Command::kGat:
      return "gat";
    case Command::kGats:
      return "gats";
    case Command::kSet:
      return "set";
    case Command::kAdd:
      return "add";
    case Command::kReplace:
      return "replace";
    case Command::kAppend:
      return "append";
    case Command::kPrepend:
      return "prepend";
    case Command::kCas:
      return "cas";
    case Command::kIncr:
      return "incr";
    case Command::kDecr:
      return "decr";
    case Command::kDelete:
      return "delete";
    case Command::kTouch:
      return "touch";
    case Command::kFlushAll:
      return "flush_all";
    case Command::kStats:
      return "stats";
    case Command::kVersion:
      return "version";
    case Command::kVerbosity:
      return "verbosity";
    case Command::kQuit:
      return "quit";
    case Command::kShutdown:
      return "shutdown";
    case Command::kMetaGet:
      return "mg";
    case Command::kMetaSet:
      return "ms";
    case Command::kMetaDelete:
      return "md";
    case Command::kMetaArithmetic:
      return "ma";
    case Command::kMetaNoop:
      return "mn";
    case Command::kMetaDebug:
      return "me";
  }
  return "";
}

bool IsRetrieval(Command command) {
  return command == Command::kGet || command == Command::kGets || command == Command::kGat ||
         command == Command::kGats;
}

bool IsStorage(Command command) { return command >= Command::kSet && command <= Command::kCas; }

bool IsMeta(Command command) { return command >= Command::kMetaGet; }

bool TokenIterator::Next(std::string_view* token) {
  size_t start = 0;
  while (start < rest_.size() && rest_[start] == ' ') ++start;
  if (start == rest_.size()) {
    rest_ = {};
    return false;
  }
  size_t end = start;
  while (end < rest_.size() && rest_[end] != ' ') ++end;
  *token = rest_.substr(start, end - start);
  rest_.remove_prefix(end);
  return true;
}

}  // namespace spillway::protocol
