#include "feed.h"

#include <sstream>

namespace spillway::protocol::testing {

std::string Describe(const ParseResult& r) {
  std::ostringstream s;
  const Request& q = r.request;
  if (r.status == ParseStatus::kError) {
    s << "error:" << r.error << " cmd=" << CommandName(q.command) << " noreply=" << q.noreply
      << " close=" << r.close;
    return s.str();
  }
  s << CommandName(q.command) << " key=" << q.key << " key_token=" << q.key_token
    << " keys=" << q.keys << " flags=" << q.client_flags << " exptime=" << q.exptime
    << " cas=" << q.cas_unique << " delta=" << q.delta << " level=" << q.level
    << " arg=" << q.argument << " noreply=" << q.noreply << " value=" << q.value;
  if (IsMeta(q.command)) {
    const MetaFlags& m = q.meta;
    s << " meta[present=" << m.present << " tokens=" << m.tokens << " O=" << m.opaque
      << " C=" << m.compare_cas << " E=" << m.new_cas << " D=" << m.delta << " J=" << m.initial
      << " T=" << m.ttl << " N=" << m.vivify_ttl << " R=" << m.recache_ttl
      << " F=" << m.client_flags << " M=" << (m.mode ? std::string(1, m.mode) : "") << "]";
  }
  return s.str();
}

std::vector<std::string> Feed(std::string_view input, size_t chunk, const ParserOptions& options) {
  RequestParser parser(options);
  std::vector<std::string> out;
  std::string buffer;
  size_t offset = 0;
  while (offset < input.size()) {
    const size_t n = chunk == 0 ? input.size() : std::min(chunk, input.size() - offset);
    buffer.append(input.substr(offset, n));
    offset += n;
    for (;;) {
      const ParseResult r = parser.Parse(buffer);
      if (r.status == ParseStatus::kNeedMore) break;
      if (r.status != ParseStatus::kDiscarded) out.push_back(Describe(r));
      buffer.erase(0, r.consumed);
      if (r.status == ParseStatus::kError && r.close) {
        out.push_back("close");
        return out;
      }
    }
  }
  if (!buffer.empty() || parser.pending_discard() > 0) {
    out.push_back("partial:" + std::to_string(buffer.size() + parser.pending_discard()));
  }
  return out;
}

}  // namespace spillway::protocol::testing
