// The requests spillway-bench sends, in the text or the meta protocol, and the reply parsing
// around protocol/response_parser: a fast path for the commonest replies, and a VA line's return
// flags (which ParseResponse leaves to the caller).
//
//   text  get:  get <k1> ... <kN>                 -> VALUE <ki> <version> <n> ... END
//         set:  set <k> <version> 0 <n> + data    -> STORED | NOT_STORED
//   meta  get:  mg <k> v f                        -> VA <n> f<version> | EN
//         mget: mg <ki> v f k q (each) then mn    -> VA <n> f<version> k<ki> (hits only) ... MN
//         set:  ms <k> <n> F<version> + data      -> HD | NS
//
// Every function appends to `out`; keys are prefix + decimal index (keys.h).

#ifndef SPILLWAY_TOOLS_BENCH_WIRE_H_
#define SPILLWAY_TOOLS_BENCH_WIRE_H_

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "protocol/response_parser.h"
#include "tools/bench/options.h"
#include "tools/bench/values.h"

namespace spillway::bench {

// A get of `count` keys (at least 1). Meta with count > 1 is the quiet batch ending in mn.
void AppendGet(Protocol protocol, std::string_view prefix, const uint64_t* keys, size_t count,
               std::string* out);

// A set of `key` at `version`, with the value ValueModel gives it.
void AppendSet(Protocol protocol, std::string_view prefix, uint64_t key, uint32_t version,
               const ValueModel& values, std::string* out);

// protocol::ParseResponse with default options, answering the replies that a run sees millions
// of times a second (END, STORED, EN, HD, MN, and "VALUE <key> <flags> <bytes>" without a CAS)
// without its general search: the fast path takes only input that ParseResponse parses to the
// same result, and hands everything else (partial input included) to ParseResponse, so the
// bench is exactly as strict as the shared codec.
protocol::ResponseParseResult ParseReply(std::string_view input);

// The return flags of a VA line (Response::text) answering AppendGet: exactly f<decimal, 32 bits>
// and, when `with_key`, k<key>, in either order and nothing else. False on anything else.
bool ParseMetaValueFlags(std::string_view text, bool with_key, uint32_t* version,
                         std::string_view* key);

}  // namespace spillway::bench

#endif  // SPILLWAY_TOOLS_BENCH_WIRE_H_
