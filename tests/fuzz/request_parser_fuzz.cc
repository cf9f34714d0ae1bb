// libFuzzer target for RequestParser and EncodeRequest.
//
// Input: 4 option bytes, then the bytes a client sends.
//   [0] max_item_size   [1] max_line_length   [2] max_multiget_line_length   [3] split point
// Seeds in corpus/request/ start with such a header (see SetupFrom for the mapping).
//
// Invariants (any violation aborts, so libFuzzer records the input):
//  - Parse() on every state a connection can reach: consumed <= input size; kNeedMore consumes
//    nothing and its `need` exceeds the input and is a true lower bound (no answer comes before
//    the buffer holds `need` bytes); kRequest, kDiscarded and kError consume something (a kError
//    that closes is exempt: nothing is read after it, so what it consumed does not matter).
//  - Every view of a Request lies in the consumed bytes of the input, except a base64 (b flag)
//    key, which lives in the parser's scratch; keys are 1..250 bytes without space or control
//    characters (a decoded base64 key may hold any byte); a value never exceeds max_item_size
//    and is followed by "\r\n"; meta commands never set noreply.
//  - The parser never reads outside its input: each Parse() sees an exactly-sized heap copy,
//    so ASan reports a read past the end.
//  - The same bytes fed whole, in two pieces split at the chosen point, and (under 512 bytes)
//    one byte at a time give the same Describe() sequence, which also equals Feed()'s.
//  - Encode-then-parse: every kRequest, encoded with EncodeRequest and parsed by a fresh parser,
//    is one kRequest that takes the whole encoding and has the same Describe(); encoding it
//    again gives the same bytes. See RoundTrips for the one request the encoder cannot express.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "feed.h"
#include "fuzz_check.h"
#include "protocol/encoder.h"
#include "protocol/request.h"
#include "protocol/request_parser.h"

namespace spillway::protocol {
namespace {

using testing::Describe;

constexpr size_t kHeaderBytes = 4;

struct Setup {
  ParserOptions options;
  size_t split = 0;  // where the two-piece run cuts the client bytes
};

// Small limits, so that inputs of a few KiB reach every limit; one header byte each.
Setup SetupFrom(const uint8_t* header, size_t payload_size) {
  Setup s;
  // Bit 7 keeps the default (1 MiB); otherwise 0..1016 in steps of 8.
  s.options.max_item_size =
      header[0] & 0x80 ? ParserOptions().max_item_size : size_t{header[0]} * 8;
  s.options.max_line_length = size_t{header[1]} * 8;
  s.options.max_multiget_line_length = s.options.max_line_length + size_t{header[2]} * 16;
  s.split = payload_size * header[3] / 255;
  return s;
}

bool Inside(std::string_view view, std::string_view span) {
  if (view.empty()) return true;  // an empty view may point anywhere (or nowhere)
  const auto v = reinterpret_cast<uintptr_t>(view.data());
  const auto s = reinterpret_cast<uintptr_t>(span.data());
  return v >= s && v + view.size() <= s + span.size();
}

bool ValidClassicKey(std::string_view key) {
  if (key.empty() || key.size() > kMaxKeyLength) return false;
  for (char c : key) {
    const auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u == 0x7f) return false;
  }
  return true;
}

bool KnownErrorLine(std::string_view error) {
  return error.empty() || error.starts_with("ERROR") || error.starts_with("CLIENT_ERROR ") ||
         error.starts_with("SERVER_ERROR ");
}

// The views of a kRequest or kError result, against the bytes it consumed.
void CheckViews(const ParseResult& r, std::string_view consumed, const ParserOptions& options) {
  const Request& q = r.request;
  const bool base64_key = IsMeta(q.command) && q.meta.Has('b');
  FUZZ_CHECK(Inside(q.key, consumed) || base64_key, q.key);
  FUZZ_CHECK(Inside(q.key_token, consumed));
  FUZZ_CHECK(Inside(q.keys, consumed));
  FUZZ_CHECK(Inside(q.value, consumed));
  FUZZ_CHECK(Inside(q.argument, consumed));
  FUZZ_CHECK(Inside(q.meta.tokens, consumed));
  FUZZ_CHECK(Inside(q.meta.opaque, consumed));
  FUZZ_CHECK(q.key.size() <= kMaxKeyLength || r.status == ParseStatus::kError);
  FUZZ_CHECK(q.value.size() <= options.max_item_size);
  if (r.status == ParseStatus::kError) {
    FUZZ_CHECK(KnownErrorLine(r.error), r.error);
    // The server drops the stored item under this key.
    if (r.error == "SERVER_ERROR object too large for cache") {
      FUZZ_CHECK(q.key.size() <= kMaxKeyLength);
    }
    return;
  }

  FUZZ_CHECK(q.command != Command::kNone);
  FUZZ_CHECK(!IsMeta(q.command) || !q.noreply);
  if (IsRetrieval(q.command)) {
    TokenIterator keys(q.keys);
    std::string_view key;
    bool first = true;
    while (keys.Next(&key)) {
      FUZZ_CHECK(ValidClassicKey(key), key);
      if (first) FUZZ_CHECK(key == q.key && key.data() == q.key.data());
      first = false;
    }
    if (first) {
      FUZZ_CHECK(q.key.empty());
      // gat/gats with no key at all is accepted (memcached answers END); get/gets need one.
      FUZZ_CHECK(q.command == Command::kGat || q.command == Command::kGats);
    }
  } else if (q.command == Command::kMetaNoop) {
    FUZZ_CHECK(q.key.empty() && q.key_token.empty());
  } else if (q.command >= Command::kSet && q.command <= Command::kTouch) {
    FUZZ_CHECK(ValidClassicKey(q.key), q.key);
  } else if (IsMeta(q.command)) {
    FUZZ_CHECK(!q.key_token.empty() && q.key_token.size() <= kMaxKeyLength);
    if (base64_key) {
      FUZZ_CHECK(!q.key.empty());
    } else {
      FUZZ_CHECK(q.key.data() == q.key_token.data() && q.key.size() == q.key_token.size());
      for (char c : q.key) {
        const auto u = static_cast<unsigned char>(c);
        FUZZ_CHECK(u > 0x20 && u != 0x7f, q.key);
      }
    }
    if (!q.meta.opaque.empty()) {
      // The value after an O token's O, which with its O fits memcached's limit.
      FUZZ_CHECK(q.meta.Has('O') && q.meta.opaque.size() + 1 <= kMaxOpaqueLength);
      FUZZ_CHECK(Inside(q.meta.opaque, q.meta.tokens) &&
                 q.meta.opaque.data() > q.meta.tokens.data());
      FUZZ_CHECK(q.meta.opaque.data()[-1] == 'O');
    }
  }
  if (IsStorage(q.command) || q.command == Command::kMetaSet) {
    // The data block ends with "\r\n", inside what was consumed.
    const size_t end = static_cast<size_t>(q.value.data() - consumed.data()) + q.value.size();
    FUZZ_CHECK(q.value.empty() || end + 2 == consumed.size());
    FUZZ_CHECK(consumed.substr(consumed.size() - 2) == "\r\n");
  } else {
    FUZZ_CHECK(q.value.empty());
  }
}

// Encode-then-parse for one kRequest.
//
// This is an invariant for every request but one shape, which is skipped: a verbosity whose
// argument is the word "noreply" without the noreply flag ("verbosity noreply <junk>", which
// older memcached accepted). The encoder drops junk as the parser does and writes "verbosity
// noreply", which reads as the flag with no argument; no junk-free encoding can say it. (Today's
// parser refuses a non-numeric level, so the guard only matters if that is relaxed.)
//
// The rest needs no normalising: keys and meta tokens keep their inner runs of spaces in both
// directions (`keys`, `meta.tokens`, `argument` are slices of the line); junk tokens after the
// last argument are dropped by the parser and never written; a base64 key is written as its
// key_token and decoded again; numbers come back in canonical decimal, which parses to the same
// value. The re-parse uses the same limits: canonical numbers, collapsed spaces and dropped junk
// never make the line longer, and the limits do not count the "\r" the encoder adds.
void RoundTrips(const ParseResult& original, const std::string& description,
                const ParserOptions& options) {
  const Request& q = original.request;
  if (q.command == Command::kVerbosity && !q.noreply && q.argument == "noreply") return;

  std::string encoded;
  EncodeRequest(q, &encoded);
  RequestParser parser(options);
  const std::unique_ptr<char[]> copy(new char[encoded.size()]);
  std::memcpy(copy.get(), encoded.data(), encoded.size());
  const ParseResult again = parser.Parse(std::string_view(copy.get(), encoded.size()));
  FUZZ_CHECK(again.status == ParseStatus::kRequest, encoded);
  FUZZ_CHECK(again.consumed == encoded.size(), encoded);
  FUZZ_CHECK(Describe(again) == description, encoded);
  std::string twice;
  EncodeRequest(again.request, &twice);
  FUZZ_CHECK(twice == encoded, twice);
}

enum class RoundTrip { kCheck, kSkip };

// Feeds `data` as a connection does, appending the pieces that `cuts` (increasing offsets)
// delimit, and checks every Parse(). Returns what Feed() would: Describe() of each kRequest and
// kError, "close", and "partial:<n>" for leftovers.
std::vector<std::string> FeedChecked(std::string_view data, const std::vector<size_t>& cuts,
                                     const ParserOptions& options, RoundTrip round_trip) {
  RequestParser parser(options);
  std::vector<std::string> out;
  std::string buffer;
  size_t offset = 0;
  size_t next_cut = 0;
  size_t need = 0;  // the largest lower bound given since the front of `buffer` last moved
  while (offset < data.size()) {
    const size_t end = next_cut < cuts.size() ? cuts[next_cut++] : data.size();
    if (end <= offset) continue;
    buffer.append(data.substr(offset, end - offset));
    offset = end;
    for (;;) {
      // An exactly-sized copy, so that a read past the input is a heap overflow for ASan.
      const std::unique_ptr<char[]> copy(new char[buffer.size()]);
      std::memcpy(copy.get(), buffer.data(), buffer.size());
      const std::string_view input(copy.get(), buffer.size());
      const ParseResult r = parser.Parse(input);
      FUZZ_CHECK(r.consumed <= input.size());
      if (r.status == ParseStatus::kNeedMore) {
        FUZZ_CHECK(r.consumed == 0);
        FUZZ_CHECK(r.need > input.size());
        need = std::max(need, r.need);
        break;
      }
      FUZZ_CHECK(need <= input.size());  // `need` was a lower bound
      need = 0;
      const bool closes = r.status == ParseStatus::kError && r.close;
      FUZZ_CHECK(r.consumed > 0 || closes);
      if (r.status == ParseStatus::kDiscarded) {
        FUZZ_CHECK(r.request.command == Command::kNone);
      } else {
        FUZZ_CHECK(r.status == ParseStatus::kRequest || r.status == ParseStatus::kError);
        CheckViews(r, input.substr(0, r.consumed), options);
        out.push_back(Describe(r));
        if (r.status == ParseStatus::kRequest && round_trip == RoundTrip::kCheck) {
          RoundTrips(r, out.back(), options);
        }
      }
      buffer.erase(0, r.consumed);
      if (closes) {
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

void CheckSame(const std::vector<std::string>& a, const std::vector<std::string>& b,
               const char* what) {
  if (a == b) return;
  for (size_t i = 0; i < a.size() || i < b.size(); ++i) {
    std::fprintf(stderr, "%zu: %s\n   %s\n", i, i < a.size() ? a[i].c_str() : "(none)",
                 i < b.size() ? b[i].c_str() : "(none)");
  }
  fuzz::Fail(what);
}

}  // namespace
}  // namespace spillway::protocol

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  using namespace spillway::protocol;
  if (size < kHeaderBytes) return -1;  // not added to the corpus
  const std::string_view data(reinterpret_cast<const char*>(bytes) + kHeaderBytes,
                              size - kHeaderBytes);
  const Setup setup = SetupFrom(bytes, data.size());

  const std::vector<std::string> whole = FeedChecked(data, {}, setup.options, RoundTrip::kCheck);
  CheckSame(whole, testing::Feed(data, 0, setup.options), "whole input: FeedChecked vs Feed");
  CheckSame(whole, FeedChecked(data, {setup.split}, setup.options, RoundTrip::kSkip),
            "two pieces vs whole");
  if (data.size() < 512) {
    std::vector<size_t> every_byte(data.size());
    for (size_t i = 0; i < data.size(); ++i) every_byte[i] = i + 1;
    CheckSame(whole, FeedChecked(data, every_byte, setup.options, RoundTrip::kSkip),
              "one byte at a time vs whole");
  }
  return 0;
}
