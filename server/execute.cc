// The classic commands against one key; the meta commands are in execute_meta.cc. Answers and
// counters follow memcached 1.6.18's proto_text.c.

#include "server/execute.h"

#include <utility>

#include "protocol/encoder.h"
#include "protocol/errors.h"
#include "server/internal/execute_util.h"

namespace spillway::server {
namespace {

using protocol::Command;
using protocol::Request;
using storage::Key;

// get, gets, gat, gats: the key's VALUE block on a hit, nothing on a miss.
void Retrieve(const Request& r, const Key& key, const KeyContext& ctx, Reply* out) {
  const bool touch = r.command == Command::kGat || r.command == Command::kGats;
  storage::ReadOptions options;
  if (touch) options.touch = r.exptime;
  storage::ReadResult result = ctx.store->Read(key, ctx.now, options);
  Counters& n = *ctx.counters;
  // memcached counts gat/gats as touches only, not as gets.
  if (touch) {
    ++n.cmd_touch;
    ++(result.item ? n.touch_hits : n.touch_misses);
  } else {
    ++n.cmd_get;
    ++(result.item ? n.get_hits : n.get_misses);
  }
  if (!result.item) return;
  const bool with_cas = r.command == Command::kGets || r.command == Command::kGats;
  const uint64_t cas = result.item.cas();
  protocol::AppendValueHeader(key.bytes, result.item.client_flags(), result.item.value().size(),
                              with_cas ? &cas : nullptr, out->text());
  out->AppendValue(std::move(result.item));
}

storage::WriteMode ModeOf(Command command) {
  switch (command) {
    case Command::kAdd:
      return storage::WriteMode::kAdd;
    case Command::kReplace:
      return storage::WriteMode::kReplace;
    case Command::kAppend:
      return storage::WriteMode::kAppend;
    case Command::kPrepend:
      return storage::WriteMode::kPrepend;
    default:  // set, cas
      return storage::WriteMode::kSet;
  }
}

std::string_view Store(const Request& r, const Key& key, const KeyContext& ctx) {
  storage::WriteOptions options;
  options.mode = ModeOf(r.command);
  const bool cas = r.command == Command::kCas;
  if (cas) options.compare_cas = r.cas_unique;
  const storage::WriteResult w =
      ctx.store->Write(key, r.value, r.client_flags, r.exptime, ctx.now, options);
  Counters& n = *ctx.counters;
  switch (w.status) {
    case storage::WriteStatus::kTooLarge:
      // The store already dropped the old value of a plain set, as memcached does.
      ++n.store_too_large;
      return protocol::errors::kTooLarge;
    case storage::WriteStatus::kNoMemory:
      ++n.store_no_memory;
      // memcached drops the old value of a set it cannot store, so no stale value survives.
      if (r.command == Command::kSet) ctx.store->Delete(key, ctx.now);
      return protocol::errors::kOutOfMemory;
    default:
      break;
  }
  // memcached counts a set once its data is read, whatever the outcome.
  ++n.cmd_set;
  switch (w.status) {
    case storage::WriteStatus::kStored:
      if (cas) ++n.cas_hits;
      ++n.total_items;
      return "STORED";
    case storage::WriteStatus::kExists:
      if (cas) ++n.cas_badval;
      return "EXISTS";
    case storage::WriteStatus::kNotFound:
      if (cas) ++n.cas_misses;
      return "NOT_FOUND";
    default:
      return "NOT_STORED";
  }
}

void Arithmetic(const Request& r, const Key& key, const KeyContext& ctx, Reply* out) {
  storage::ArithmeticOptions options;
  options.increment = r.command == Command::kIncr;
  options.delta = r.delta;
  const storage::ArithmeticResult a = ctx.store->Arithmetic(key, ctx.now, options);
  Counters& n = *ctx.counters;
  switch (a.status) {
    case storage::ArithmeticStatus::kOk:
      ++(options.increment ? n.incr_hits : n.decr_hits);
      if (r.noreply) return;
      protocol::AppendDecimal(a.value, out->text());
      out->Append(internal::kCrlf);
      return;
    case storage::ArithmeticStatus::kNotFound:
      ++(options.increment ? n.incr_misses : n.decr_misses);
      if (!r.noreply) internal::AppendLine("NOT_FOUND", out);
      return;
    case storage::ArithmeticStatus::kNonNumeric:
      if (!r.noreply) internal::AppendLine(protocol::errors::kNonNumeric, out);
      return;
    case storage::ArithmeticStatus::kExists:  // only with a CAS, which incr/decr never send
    case storage::ArithmeticStatus::kNoMemory:
      if (!r.noreply) internal::AppendLine("SERVER_ERROR out of memory", out);
      return;
  }
}

std::string_view Delete(const Key& key, const KeyContext& ctx) {
  const storage::DeleteStatus status = ctx.store->Delete(key, ctx.now);
  Counters& n = *ctx.counters;
  if (status == storage::DeleteStatus::kDeleted) {
    ++n.delete_hits;
    return "DELETED";
  }
  ++n.delete_misses;
  return "NOT_FOUND";
}

std::string_view Touch(const Request& r, const Key& key, const KeyContext& ctx) {
  storage::ReadOptions options;
  options.touch = r.exptime;
  const storage::ReadResult result = ctx.store->Read(key, ctx.now, options);
  Counters& n = *ctx.counters;
  ++n.cmd_touch;
  if (result.item) {
    ++n.touch_hits;
    return "TOUCHED";
  }
  ++n.touch_misses;
  return "NOT_FOUND";
}

}  // namespace

void ExecuteKey(const protocol::Request& request, std::string_view key, uint64_t hash,
                const KeyContext& context, Reply* out) {
  if (protocol::IsMeta(request.command)) {
    internal::ExecuteMeta(request, key, hash, context, out);
    return;
  }
  const Key k(key, hash);
  std::string_view line;
  switch (request.command) {
    case Command::kGet:
    case Command::kGets:
    case Command::kGat:
    case Command::kGats:
      Retrieve(request, k, context, out);
      return;
    case Command::kSet:
    case Command::kAdd:
    case Command::kReplace:
    case Command::kAppend:
    case Command::kPrepend:
    case Command::kCas:
      line = Store(request, k, context);
      break;
    case Command::kIncr:
    case Command::kDecr:
      Arithmetic(request, k, context, out);
      return;
    case Command::kDelete:
      line = Delete(k, context);
      break;
    case Command::kTouch:
      line = Touch(request, k, context);
      break;
    default:
      // Keyless commands are the connection's; reaching here is a bug in the caller.
      line = protocol::errors::kError;
      break;
  }
  // noreply hides every answer, errors included, as in memcached.
  if (!request.noreply) internal::AppendLine(line, out);
}

}  // namespace spillway::server
