// The meta commands (mg, ms, md, ma, me) against one key, as memcached 1.6.18's proto_text.c
// answers them: return flags in the order sent, then mg's Z, X, W.

#include <cstdio>
#include <string>
#include <utility>

#include "protocol/encoder.h"
#include "protocol/errors.h"
#include "protocol/response.h"
#include "server/internal/execute_util.h"

namespace spillway::server::internal {
namespace {

using protocol::Command;
using protocol::MetaFlags;
using protocol::Request;
using protocol::ResponseType;
using protocol::TokenIterator;
using storage::Key;

void MetaGet(const Request& r, const Key& key, const KeyContext& ctx, Reply* out) {
  const MetaFlags& m = r.meta;
  // memcached walks the flags in order: a t or R before T sees the TTL before the touch.
  bool split = false, seen_t = false, r_after_t = false, t_after_n = false;
  TokenIterator scan(m.tokens);
  for (std::string_view token; scan.Next(&token);) {
    if (token[0] == 'T') {
      seen_t = true;
      t_after_n = m.Has('N');
    } else if ((token[0] == 't' || token[0] == 'R') && m.Has('T') && !seen_t) {
      split = true;
    } else if (token[0] == 'R' && seen_t) {
      r_after_t = true;
    } else if (token[0] == 'N') {
      t_after_n = false;
    }
  }
  storage::ReadOptions options;
  options.bump = !m.Has('u');
  if (m.Has('T') && !split) options.touch = m.ttl;
  if (m.Has('R') && !(split && r_after_t)) options.recache = m.recache_ttl;
  storage::ReadResult res = ctx.store->Read(key, ctx.now, options);
  bool created = false;
  if (!res.item && m.Has('N')) {
    storage::ReadOptions vivify;
    vivify.bump = options.bump;
    vivify.vivify = m.vivify_ttl;
    if (m.Has('E')) vivify.new_cas = m.new_cas;
    res = ctx.store->Read(key, ctx.now, vivify);
    created = static_cast<bool>(res.item);
  }
  Counters& n = *ctx.counters;
  if (!res.item) {
    ++n.cmd_get;
    ++n.get_misses;
    std::string line = "EN";
    AppendEchoes(m, key.bytes, &line);
    Finish(r, ResponseType::kMetaMiss, line, out);
    return;
  }
  if (m.Has('T')) {
    ++n.cmd_touch;
    ++n.touch_hits;
  } else {
    ++n.cmd_get;
    ++n.get_hits;
  }
  // A vivified item starts with no TTL, then N and T set it in the order sent.
  int64_t ttl = created ? 0 : res.item.exptime();
  bool won = res.won;
  if (m.Has('T') && (created ? t_after_n : split)) {
    storage::ReadOptions touch;
    touch.bump = false;
    touch.touch = m.ttl;
    if (!created && r_after_t) touch.recache = m.recache_ttl;
    won = ctx.store->Read(key, ctx.now, touch).won || won;
  }

  const storage::ItemRef& item = res.item;
  std::string line;
  if (m.Has('v')) {
    protocol::AppendMetaValueHeader(item.value().size(), &line);
  } else {
    line = "HD";
  }
  TokenIterator it(m.tokens);
  for (std::string_view token; it.Next(&token);) {
    switch (token[0]) {
      case 'T':
        ttl = Deadline(m.ttl, ctx.now);
        break;
      case 'N':
        if (created) ttl = Deadline(m.vivify_ttl, ctx.now);
        break;
      case 's':
        protocol::AppendMetaFlag('s', item.value().size(), &line);
        break;
      case 't':
        AppendTtl(ttl, ctx.now, &line);
        break;
      case 'c':
        protocol::AppendMetaFlag('c', item.cas(), &line);
        break;
      case 'f':
        protocol::AppendMetaFlag('f', item.client_flags(), &line);
        break;
      case 'l':
        protocol::AppendMetaFlag('l', static_cast<uint64_t>(res.idle_seconds), &line);
        break;
      case 'h':
        protocol::AppendMetaFlag('h', res.hit_before ? 1 : 0, &line);
        break;
      case 'O':
        line.push_back(' ');
        line.append(token);
        break;
      case 'k':
        AppendKey(item.key(), item.binary_key(), &line);
        break;
      default:
        break;
    }
  }
  if (res.win_taken) line.append(" Z");
  if (res.stale) line.append(" X");
  if (won) line.append(" W");
  AppendLine(line, out);
  if (m.Has('v')) out->AppendValue(std::move(res.item));
}

storage::WriteMode SetMode(char mode) {
  switch (mode) {
    case 'E':
      return storage::WriteMode::kAdd;
    case 'A':
      return storage::WriteMode::kAppend;
    case 'P':
      return storage::WriteMode::kPrepend;
    case 'R':
      return storage::WriteMode::kReplace;
    default:  // 'S' or none
      return storage::WriteMode::kSet;
  }
}

void MetaSet(const Request& r, const Key& key, const KeyContext& ctx, Reply* out) {
  const MetaFlags& m = r.meta;
  storage::WriteOptions options;
  options.mode = SetMode(m.mode);
  if (m.Has('C')) options.compare_cas = m.compare_cas;
  if (m.Has('E')) options.new_cas = m.new_cas;
  options.invalidate = m.Has('I');
  options.binary_key = m.Has('b');
  // N in append or prepend mode creates a missing item, as the protocol document says (and newer
  // memcached does); 1.6.18 ignores it and answers NS. A deviation listed in the README.
  if (m.Has('N') && (options.mode == storage::WriteMode::kAppend ||
                     options.mode == storage::WriteMode::kPrepend)) {
    options.vivify = m.vivify_ttl;
  }
  const storage::WriteResult w = ctx.store->Write(key, r.value, m.Has('F') ? m.client_flags : 0,
                                                  m.Has('T') ? m.ttl : 0, ctx.now, options);
  Counters& n = *ctx.counters;
  if (w.status == storage::WriteStatus::kTooLarge || w.status == storage::WriteStatus::kNoMemory) {
    // Whatever the mode, memcached drops the old item when it cannot store the new one.
    ctx.store->Delete(key, ctx.now);
    const bool too_large = w.status == storage::WriteStatus::kTooLarge;
    ++(too_large ? n.store_too_large : n.store_no_memory);
    AppendLine(too_large ? protocol::errors::kTooLarge : protocol::errors::kOutOfMemory, out);
    return;
  }
  ++n.cmd_set;
  // Set and replace with C act as memcached's cas command, and count as one.
  const bool cas = m.Has('C') && (options.mode == storage::WriteMode::kSet ||
                                  options.mode == storage::WriteMode::kReplace);
  ResponseType type = ResponseType::kMetaNotStored;
  switch (w.status) {
    case storage::WriteStatus::kStored:
      if (cas) ++n.cas_hits;
      ++n.total_items;
      type = ResponseType::kMetaHeader;
      break;
    case storage::WriteStatus::kExists:
      if (cas) ++n.cas_badval;
      type = ResponseType::kMetaExists;
      break;
    case storage::WriteStatus::kNotFound:
      if (cas) ++n.cas_misses;
      type = ResponseType::kMetaNotFound;
      break;
    default:
      break;
  }
  std::string line(protocol::ResponseWord(type));
  TokenIterator it(m.tokens);
  for (std::string_view token; it.Next(&token);) {
    if (token[0] == 'O') {
      line.push_back(' ');
      line.append(token);
    } else if (token[0] == 'k') {
      AppendKey(key.bytes, m.Has('b'), &line);
    } else if (token[0] == 'c') {
      // memcached reports 0 when nothing was stored.
      protocol::AppendMetaFlag('c', type == ResponseType::kMetaHeader ? w.cas : 0, &line);
    }
  }
  Finish(r, type, line, out);
}

void MetaDelete(const Request& r, const Key& key, const KeyContext& ctx, Reply* out) {
  const MetaFlags& m = r.meta;
  storage::DeleteOptions options;
  if (m.Has('C')) options.compare_cas = m.compare_cas;
  if (m.Has('E')) options.new_cas = m.new_cas;
  options.invalidate = m.Has('I');
  if (m.Has('T')) options.touch = m.ttl;
  options.drop_value = m.Has('x');
  const storage::DeleteStatus status = ctx.store->Delete(key, ctx.now, options);
  Counters& n = *ctx.counters;
  ResponseType type = ResponseType::kMetaHeader;
  if (status == storage::DeleteStatus::kDeleted) {
    // memcached counts a hit only when the item goes; md I keeps it.
    if (!options.invalidate) ++n.delete_hits;
  } else {
    ++n.delete_misses;  // a CAS mismatch counts as a miss too
    type = status == storage::DeleteStatus::kExists ? ResponseType::kMetaExists
                                                    : ResponseType::kMetaNotFound;
  }
  std::string line(protocol::ResponseWord(type));
  AppendEchoes(m, key.bytes, &line);
  Finish(r, type, line, out);
}

void MetaArithmetic(const Request& r, const Key& key, const KeyContext& ctx, Reply* out) {
  const MetaFlags& m = r.meta;
  storage::ArithmeticOptions options;
  options.increment = m.mode != 'D' && m.mode != '-';
  options.delta = m.delta;
  if (m.Has('C')) options.compare_cas = m.compare_cas;
  if (m.Has('E')) options.new_cas = m.new_cas;
  storage::ArithmeticResult a = ctx.store->Arithmetic(key, ctx.now, options);
  bool created = false;
  if (a.status == storage::ArithmeticStatus::kNotFound && m.Has('N')) {
    options.vivify = m.vivify_ttl;
    options.initial = m.initial;
    a = ctx.store->Arithmetic(key, ctx.now, options);
    created = a.status == storage::ArithmeticStatus::kOk;
  }
  Counters& n = *ctx.counters;
  std::string line;
  switch (a.status) {
    case storage::ArithmeticStatus::kOk:
      break;
    case storage::ArithmeticStatus::kNotFound:
    case storage::ArithmeticStatus::kExists: {
      const bool miss = a.status == storage::ArithmeticStatus::kNotFound;
      if (miss) ++(options.increment ? n.incr_misses : n.decr_misses);
      const ResponseType type = miss ? ResponseType::kMetaNotFound : ResponseType::kMetaExists;
      line = protocol::ResponseWord(type);
      AppendEchoes(m, key.bytes, &line);
      Finish(r, type, line, out);
      return;
    }
    case storage::ArithmeticStatus::kNonNumeric:
      AppendLine(protocol::errors::kNonNumeric, out);
      return;
    case storage::ArithmeticStatus::kNoMemory:
      AppendLine("SERVER_ERROR out of memory", out);
      return;
  }
  if (!created) ++(options.increment ? n.incr_hits : n.decr_hits);
  // The number as computed: the stored value may be space-padded to its old length.
  std::string number;
  protocol::AppendDecimal(a.value, &number);
  if (m.Has('v')) {
    protocol::AppendMetaValueHeader(number.size(), &line);
  } else {
    line = "HD";
  }
  // memcached applies T (and N, for a created item) in the order sent; t shows the TTL so far.
  const int64_t stored_ttl = a.item.exptime();
  int64_t ttl = created ? 0 : stored_ttl;
  TokenIterator it(m.tokens);
  for (std::string_view token; it.Next(&token);) {
    switch (token[0]) {
      case 'c':
        protocol::AppendMetaFlag('c', a.item.cas(), &line);
        break;
      case 't':
        AppendTtl(ttl, ctx.now, &line);
        break;
      case 'T':
        ttl = Deadline(m.ttl, ctx.now);
        break;
      case 'N':
        if (created) ttl = Deadline(m.vivify_ttl, ctx.now);
        break;
      case 'O':
        line.push_back(' ');
        line.append(token);
        break;
      case 'k':
        AppendKey(key.bytes, m.Has('b'), &line);
        break;
      default:
        break;
    }
  }
  if (ttl != stored_ttl) {
    storage::ReadOptions touch;
    touch.bump = false;
    touch.touch = ExptimeFor(ttl, ctx.now);
    ctx.store->Read(key, ctx.now, touch);
  }
  if (m.Has('v')) {
    line.append(kCrlf);
    line.append(number);
  }
  // q hides the answer to an update, but memcached still answers an ma that created the item.
  if (created) {
    AppendLine(line, out);
  } else {
    Finish(r, m.Has('v') ? ResponseType::kMetaValue : ResponseType::kMetaHeader, line, out);
  }
}

// me: memcached's debug line, with the size and slab class memcached would give this item.
void MetaDebug(const Key& key, const KeyContext& ctx, Reply* out) {
  ++ctx.counters->cmd_meta;
  storage::ReadOptions options;
  options.bump = false;
  const storage::ReadResult res = ctx.store->Read(key, ctx.now, options);
  if (!res.item) {
    AppendLine("EN", out);
    return;
  }
  const storage::ItemRef& item = res.item;
  std::string line = "ME ";
  if (item.binary_key()) {
    protocol::Base64Encode(item.key(), &line);
  } else {
    line.append(item.key());
  }
  const int64_t deadline = item.exptime();
  const uint64_t size =
      MemcachedItemSize(item.key().size(), item.value().size(), item.client_flags());
  char buffer[160];
  std::snprintf(buffer, sizeof(buffer), " exp=%lld la=%llu cas=%llu fetch=%s cls=%u size=%llu",
                static_cast<long long>(deadline == 0 ? -1 : ctx.now - deadline),
                static_cast<unsigned long long>(res.idle_seconds),
                static_cast<unsigned long long>(item.cas()), res.hit_before ? "yes" : "no",
                SlabClass(size), static_cast<unsigned long long>(size));
  line.append(buffer);
  AppendLine(line, out);
}

}  // namespace

void ExecuteMeta(const Request& request, std::string_view key, uint64_t hash,
                 const KeyContext& context, Reply* out) {
  const Key k(key, hash);
  switch (request.command) {
    case Command::kMetaGet:
      MetaGet(request, k, context, out);
      return;
    case Command::kMetaSet:
      MetaSet(request, k, context, out);
      return;
    case Command::kMetaDelete:
      MetaDelete(request, k, context, out);
      return;
    case Command::kMetaArithmetic:
      MetaArithmetic(request, k, context, out);
      return;
    case Command::kMetaDebug:
      MetaDebug(k, context, out);
      return;
    default:
      // mn is the connection's; reaching here is a bug in the caller.
      AppendLine(protocol::errors::kError, out);
      return;
  }
}

}  // namespace spillway::server::internal
