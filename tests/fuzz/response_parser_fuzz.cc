// libFuzzer target for ParseResponse and EncodeResponse.
//
// Input: 3 option bytes, then the bytes a server sends.
//   [0] max_line_length   [1] max_value_size   [2] split point
// Seeds in corpus/response/ start with such a header (see SetupFrom for the mapping).
//
// The bytes are parsed unit after unit, as a client does, until kNeedMore or kMalformed. For
// every call (any violation aborts, so libFuzzer records the input):
//  - consumed <= input size; kNeedMore consumes nothing and `need` exceeds the input; a
//    kResponse consumes something. Each call sees an exactly-sized heap copy, so ASan reports a
//    read past the input.
//  - Every view of a kResponse lies in the bytes it consumed; a data block is at most
//    max_value_size and is followed by "\r\n".
//  - Split invariance: every strict prefix of a unit that parses (at the split point, one byte
//    short, and every prefix of a unit under 256 bytes) is kNeedMore with a `need` no larger
//    than the unit. A client must not call a response malformed because TCP cut it short.
//  - Encode-then-parse: EncodeResponse of the unit parses to one unit taking the whole encoding
//    that is SameResponse; encoding that again gives the same bytes. This holds for every
//    response the parser accepts: text fields are slices of the line kept verbatim (runs of
//    spaces included), and numbers come back in canonical decimal. The re-parse allows a line
//    one byte longer: "STAT name\r\n" (no value) encodes as memcached's "STAT %s %s" does, as
//    "STAT name \r\n"; every other encoding is no longer than what was parsed.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "fuzz_check.h"
#include "protocol/encoder.h"
#include "protocol/response.h"
#include "protocol/response_parser.h"

namespace spillway::protocol {
namespace {

constexpr size_t kHeaderBytes = 3;

struct Setup {
  ResponseParserOptions options;
  size_t split = 0;
};

// Bit 7 of each limit byte keeps the default; otherwise small limits that a few KiB reach.
Setup SetupFrom(const uint8_t* header, size_t payload_size) {
  Setup s;
  if (!(header[0] & 0x80)) s.options.max_line_length = size_t{header[0]} * 8;
  if (!(header[1] & 0x80)) s.options.max_value_size = size_t{header[1]} * 16;
  s.split = payload_size * header[2] / 255;
  return s;
}

bool Inside(std::string_view view, std::string_view span) {
  if (view.empty()) return true;
  const auto v = reinterpret_cast<uintptr_t>(view.data());
  const auto s = reinterpret_cast<uintptr_t>(span.data());
  return v >= s && v + view.size() <= s + span.size();
}

// ParseResponse over an exactly-sized heap copy of `bytes`. The result's views point into
// `*copy`.
ResponseParseResult ParseCopy(std::string_view bytes, const ResponseParserOptions& options,
                              std::unique_ptr<char[]>* copy) {
  copy->reset(new char[bytes.size()]);
  std::memcpy(copy->get(), bytes.data(), bytes.size());
  const std::string_view input(copy->get(), bytes.size());
  const ResponseParseResult r = ParseResponse(input, options);
  FUZZ_CHECK(r.consumed <= input.size());
  if (r.status == ResponseParseStatus::kNeedMore) {
    FUZZ_CHECK(r.consumed == 0);
    FUZZ_CHECK(r.need > input.size());
  } else if (r.status == ResponseParseStatus::kResponse) {
    FUZZ_CHECK(r.consumed > 0);
  }
  return r;
}

void CheckUnit(const Response& response, std::string_view unit,
               const ResponseParserOptions& options) {
  FUZZ_CHECK(Inside(response.key, unit));
  FUZZ_CHECK(Inside(response.value, unit));
  FUZZ_CHECK(Inside(response.name, unit));
  FUZZ_CHECK(Inside(response.text, unit));
  FUZZ_CHECK(unit.ends_with("\r\n"));
  // The line, without its "\r\n", is within the limit.
  FUZZ_CHECK(unit.find('\n') - 1 <= options.max_line_length, unit);
  if (response.type == ResponseType::kValue || response.type == ResponseType::kMetaValue) {
    FUZZ_CHECK(response.value.size() <= options.max_value_size);
    if (!response.value.empty()) {
      FUZZ_CHECK(response.value.data() + response.value.size() + 2 == unit.data() + unit.size());
    }
  } else {
    FUZZ_CHECK(response.value.empty());
  }
}

void CheckPrefix(std::string_view unit, size_t length, const ResponseParserOptions& options) {
  std::unique_ptr<char[]> copy;
  const ResponseParseResult r = ParseCopy(unit.substr(0, length), options, &copy);
  FUZZ_CHECK(r.status == ResponseParseStatus::kNeedMore, unit.substr(0, length));
  FUZZ_CHECK(r.need <= unit.size(), unit.substr(0, length));
}

void RoundTrips(const Response& response, const ResponseParserOptions& options) {
  std::string encoded;
  EncodeResponse(response, &encoded);
  ResponseParserOptions relaxed = options;
  if (response.type == ResponseType::kStat && response.text.empty()) {
    relaxed.max_line_length += 1;  // see the top of the file
  }
  std::unique_ptr<char[]> copy;
  const ResponseParseResult again = ParseCopy(encoded, relaxed, &copy);
  FUZZ_CHECK(again.status == ResponseParseStatus::kResponse, encoded);
  FUZZ_CHECK(again.consumed == encoded.size(), encoded);
  FUZZ_CHECK(SameResponse(again.response, response), encoded);
  std::string twice;
  EncodeResponse(again.response, &twice);
  FUZZ_CHECK(twice == encoded, twice);
}

}  // namespace
}  // namespace spillway::protocol

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  using namespace spillway::protocol;
  if (size < kHeaderBytes) return -1;  // not added to the corpus
  std::string_view data(reinterpret_cast<const char*>(bytes) + kHeaderBytes, size - kHeaderBytes);
  const Setup setup = SetupFrom(bytes, data.size());
  size_t offset = 0;  // of `data` in the original payload, to place the split point
  for (;;) {
    std::unique_ptr<char[]> copy;
    const ResponseParseResult r = ParseCopy(data, setup.options, &copy);
    if (r.status != ResponseParseStatus::kResponse) break;
    const std::string_view unit(copy.get(), r.consumed);
    CheckUnit(r.response, unit, setup.options);
    RoundTrips(r.response, setup.options);
    CheckPrefix(unit, unit.size() - 1, setup.options);
    if (setup.split > offset && setup.split - offset < unit.size()) {
      CheckPrefix(unit, setup.split - offset, setup.options);
    }
    if (unit.size() < 256) {
      for (size_t n = 0; n + 1 < unit.size(); ++n) CheckPrefix(unit, n, setup.options);
    }
    data.remove_prefix(r.consumed);
    offset += r.consumed;
  }
  return 0;
}
