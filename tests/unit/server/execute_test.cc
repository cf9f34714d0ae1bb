// ExecuteKey against a real store and an explicit clock: requests parsed by RequestParser, each
// key executed as the connection would (one call per retrieval key, then "END\r\n"), answers
// compared byte for byte with memcached 1.6.18 (tests/data/memcached_oracle.tsv and literals
// recorded from it).

#include "server/execute.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "protocol/errors.h"
#include "protocol/request_parser.h"
#include "tests/support/oracle.h"

namespace spillway::server {
namespace {

using protocol::Command;
using protocol::ParseStatus;

constexpr int64_t kNow = 1'700'000'000;

using testing::Lines;
using testing::MaskAll;
using testing::MaskCas;

storage::Options SmallStore() {
  storage::Options o;
  o.memory_limit_bytes = 4 << 20;
  o.segment_size = 64 << 10;
  return o;
}

// A connection's worth of ExecuteKey calls over one store.
class Session {
 public:
  explicit Session(const protocol::ParserOptions& parser = {},
                   const storage::Options& store = SmallStore())
      : store_(store), parser_(parser) {}

  // Runs every request in `input` and returns the answers. When `expected` is given (the
  // oracle's output), each request's answer is checked against the same number of lines of it
  // with CAS fields masked, and memcached's CAS values seen so far are translated to spillway's
  // in later requests (cas, C).
  std::string Run(std::string_view input, const std::string* expected = nullptr) {
    std::string all;
    std::vector<std::string> want = expected ? Lines(*expected) : std::vector<std::string>();
    size_t want_at = 0;
    while (!input.empty() && !closed_) {
      const protocol::ParseResult r = parser_.Parse(input);
      if (r.status == ParseStatus::kNeedMore) break;
      input.remove_prefix(r.consumed);
      Reply reply(/*pin=*/false);
      if (r.status == ParseStatus::kError) {
        Connectionish(r, &reply);
      } else if (r.status == ParseStatus::kRequest) {
        Execute(r.request, &reply);
      }
      const std::string got = reply.Flatten();
      all += got;
      if (expected == nullptr) continue;
      std::vector<uint64_t> ours, theirs;
      std::string got_masked, want_masked;
      for (const std::string& line : Lines(got)) {
        got_masked += MaskCas(line, &ours);
        if (want_at < want.size()) want_masked += MaskCas(want[want_at++], &theirs);
      }
      EXPECT_EQ(got_masked, want_masked)
          << "request: " << protocol::CommandName(r.request.command) << " " << r.request.key;
      for (size_t i = 0; i < ours.size() && i < theirs.size(); ++i) cas_map_[theirs[i]] = ours[i];
    }
    if (expected != nullptr) {
      std::string rest;
      for (; want_at < want.size(); ++want_at) rest += want[want_at];
      EXPECT_EQ(rest, "") << "memcached answered more";
    }
    return all;
  }

  storage::Store& store() { return store_; }
  Counters& counters() { return counters_; }
  bool closed() const { return closed_; }
  int executed() const { return executed_; }
  void set_now(int64_t now) { now_ = now; }

 private:
  // What the connection does with a parse error: answer it, drop a too-large set's old item as
  // memcached does, close when told to.
  void Connectionish(const protocol::ParseResult& r, Reply* reply) {
    if (!r.request.noreply && !r.error.empty()) {
      reply->Append(r.error);
      reply->Append("\r\n");
    }
    if (r.error == protocol::errors::kTooLarge &&
        (r.request.command == Command::kSet || r.request.command == Command::kMetaSet)) {
      store_.Delete(storage::Key(r.request.key), now_);
    }
    if (r.close) closed_ = true;
  }

  uint64_t Translate(uint64_t cas) const {
    const auto it = cas_map_.find(cas);
    return it == cas_map_.end() ? cas : it->second;
  }

  void Execute(protocol::Request request, Reply* reply) {
    if (request.command != Command::kMetaNoop && request.command != Command::kQuit) ++executed_;
    const KeyContext context{&store_, now_, &counters_};
    request.cas_unique = Translate(request.cas_unique);
    request.meta.compare_cas = Translate(request.meta.compare_cas);
    switch (request.command) {
      case Command::kMetaNoop:
        reply->Append("MN\r\n");
        return;
      case Command::kQuit:
        closed_ = true;
        return;
      case Command::kGet:
      case Command::kGets:
      case Command::kGat:
      case Command::kGats: {
        protocol::TokenIterator keys(request.keys);
        for (std::string_view key; keys.Next(&key);) {
          ExecuteKey(request, key, storage::Key(key).hash, context, reply);
        }
        reply->Append("END\r\n");
        return;
      }
      default:
        ExecuteKey(request, request.key, storage::Key(request.key).hash, context, reply);
    }
  }

  storage::Store store_;
  protocol::RequestParser parser_;
  Counters counters_;
  int64_t now_ = kNow;
  bool closed_ = false;
  int executed_ = 0;
  std::map<uint64_t, uint64_t> cas_map_;
};

// ---- The oracle, replayed.

using testing::OracleCase;

std::vector<OracleCase> LoadOracle() { return testing::LoadOracle(SPILLWAY_ORACLE_TSV); }

// Cases spillway answers differently on purpose, or that this replay cannot set up.
const std::set<std::string>& Skipped() {
  static const std::set<std::string> kSkipped = {
      // Protocol-level deviations (README, "Protocol notes"; see memcached_oracle_test.cc).
      "line_3000_with_newline_one_write",
      "set_line_over_2048_with_newline",
      "gat_long_line_no_newline_closes__pause_at_3205",
      "set_key_ctrl_01",
      "set_key_del_7f",
      // The same rule for a tab or a CR inside a key: spillway refuses it, memcached takes it.
      "tab_inside_key",
      "double_cr_before_lf",
      // memcached throws away the answers it had queued from the same read (the STOREDs
      // before the bad get); that is its connection buffering, not a per-key answer.
      "get_multi_key_251_in_middle",
      "get_many_keys_then_key_251",
      // memcached increments first and only then finds the opaque too long; spillway's parser
      // refuses the request before anything runs.
      "ma_opaque_33",
      // The parser accepts E on meta commands (as later memcached does); 1.6.18 answers
      // "CLIENT_ERROR invalid flag".
      "ms_unknown_flag_E",
      // ms N in append mode creates the item, as the protocol document says; 1.6.18 answers NS.
      "ms_MA_N_autovivify",
      // Needs a 1 KiB item limit in the store; a store's segment is at least 4 KiB (the same
      // rule is tested below against Store::MaxValueSize).
      "i1k_append_grows_past_limit",
  };
  return kSkipped;
}

// Commands whose answers are the connection's (stats, version, ...), not ExecuteKey's.
bool NeedsConnection(const std::string& input, const protocol::ParserOptions& options) {
  protocol::RequestParser parser(options);
  std::string_view rest = input;
  while (!rest.empty()) {
    const protocol::ParseResult r = parser.Parse(rest);
    if (r.status == ParseStatus::kNeedMore) break;
    rest.remove_prefix(r.consumed);
    if (r.status != ParseStatus::kRequest) continue;
    switch (r.request.command) {
      case Command::kFlushAll:
      case Command::kStats:
      case Command::kVersion:
      case Command::kVerbosity:
      case Command::kShutdown:
        return true;
      default:
        break;
    }
  }
  return false;
}

TEST(ExecuteOracle, ReplayMatchesMemcachedWithCasMasked) {
  const std::vector<OracleCase> cases = LoadOracle();
  ASSERT_GT(cases.size(), 200u) << "oracle file missing or truncated";
  int replayed = 0, with_store = 0;
  for (const OracleCase& c : cases) {
    if (Skipped().count(c.name) > 0) continue;
    protocol::ParserOptions options;
    // Recorded with memcached -I 1k: a 960-byte value still fit, 970 did not.
    if (c.name.starts_with("i1k_")) options.max_item_size = 960;
    const std::string input = c.input + "mn\r\n";
    if (NeedsConnection(input, options)) continue;
    SCOPED_TRACE(c.name);
    Session session(options);
    const std::string expected = c.closed ? c.output : c.output + "MN\r\n";
    session.Run(input, &expected);
    EXPECT_EQ(session.closed(), c.closed);
    ++replayed;
    if (session.executed() > 0) ++with_store;
  }
  // Guards against the filters silently discarding everything.
  EXPECT_GT(replayed, 200);
  EXPECT_GT(with_store, 140);
  RecordProperty("cases_replayed", replayed);
  RecordProperty("cases_needing_the_store", with_store);
  std::printf("oracle: %d cases replayed, %d of them answered by the store\n", replayed,
              with_store);
}

// ---- Focused tests. Literals marked "recorded" come from memcached 1.6.18 run locally.

TEST(ExecuteClassic, NoreplySendsNothingButStillActs) {
  Session s;
  EXPECT_EQ(s.Run("set k 0 0 1 noreply\r\n5\r\nincr k 2 noreply\r\nadd k 0 0 1 noreply\r\nx\r\n"
                  "delete nope noreply\r\ntouch nope 0 noreply\r\nincr nope 1 noreply\r\n"),
            "");
  EXPECT_EQ(s.Run("get k\r\n"), "VALUE k 0 1\r\n7\r\nEND\r\n");
  EXPECT_EQ(s.counters().incr_hits, 1u);
  EXPECT_EQ(s.counters().incr_misses, 1u);
  EXPECT_EQ(s.counters().delete_misses, 1u);
  EXPECT_EQ(s.counters().touch_misses, 1u);
}

TEST(ExecuteClassic, RetrievalPerKeyAndCounters) {
  Session s;
  s.Run("set a 5 0 2\r\nab\r\n");
  EXPECT_EQ(s.Run("get a b a\r\n"), "VALUE a 5 2\r\nab\r\nVALUE a 5 2\r\nab\r\nEND\r\n");
  EXPECT_EQ(s.counters().cmd_get, 3u);
  EXPECT_EQ(s.counters().get_hits, 2u);
  EXPECT_EQ(s.counters().get_misses, 1u);
  EXPECT_EQ(MaskAll(s.Run("gets a\r\n")), "VALUE a 5 2 *\r\nab\r\nEND\r\n");
  // gat counts as a touch only (recorded: cmd_touch and touch_hits/misses move, cmd_get not).
  s.Run("gat 0 a zz\r\n");
  EXPECT_EQ(s.counters().cmd_get, 4u);
  EXPECT_EQ(s.counters().cmd_touch, 2u);
  EXPECT_EQ(s.counters().touch_hits, 1u);
  EXPECT_EQ(s.counters().touch_misses, 1u);
}

TEST(ExecuteClassic, CasMatchMismatchMiss) {
  Session s;
  s.Run("set k 0 0 1\r\na\r\n");
  const uint64_t cas = s.store().Read(storage::Key("k"), kNow).item.cas();
  EXPECT_EQ(s.Run("cas k 0 0 1 " + std::to_string(cas + 1) + "\r\nb\r\n"), "EXISTS\r\n");
  EXPECT_EQ(s.Run("cas k 0 0 1 " + std::to_string(cas) + "\r\nc\r\n"), "STORED\r\n");
  EXPECT_EQ(s.Run("cas nope 0 0 1 1\r\nd\r\n"), "NOT_FOUND\r\n");
  EXPECT_EQ(s.Run("get k\r\n"), "VALUE k 0 1\r\nc\r\nEND\r\n");
  EXPECT_EQ(s.counters().cas_badval, 1u);
  EXPECT_EQ(s.counters().cas_hits, 1u);
  EXPECT_EQ(s.counters().cas_misses, 1u);
  EXPECT_EQ(s.counters().cmd_set, 4u);
}

TEST(ExecuteClassic, IncrWrapsDecrFloorsNonNumeric) {
  Session s;
  EXPECT_EQ(s.Run("set k 0 0 20\r\n18446744073709551615\r\nincr k 2\r\n"), "STORED\r\n1\r\n");
  EXPECT_EQ(s.Run("set d 0 0 3\r\n100\r\ndecr d 1\r\ndecr d 500\r\nget d\r\n"),
            "STORED\r\n99\r\n0\r\nVALUE d 0 3\r\n0  \r\nEND\r\n");
  EXPECT_EQ(s.Run("set x 0 0 1\r\nx\r\nincr x 1\r\ndecr nope 1\r\n"),
            "STORED\r\nCLIENT_ERROR cannot increment or decrement non-numeric value\r\n"
            "NOT_FOUND\r\n");
  EXPECT_EQ(s.counters().incr_hits, 1u);
  EXPECT_EQ(s.counters().decr_hits, 2u);
  EXPECT_EQ(s.counters().decr_misses, 1u);
}

TEST(ExecuteClassic, TouchAndGatSetTheTtl) {
  Session s;
  // Recorded: set; gat 100 g; mg g t -> "HD t100".
  EXPECT_EQ(s.Run("set g 0 0 1\r\nv\r\ngat 100 g\r\nmg g t\r\n"),
            "STORED\r\nVALUE g 0 1\r\nv\r\nEND\r\nHD t100\r\n");
  EXPECT_EQ(s.Run("touch g 30\r\nmg g t\r\ntouch nope 5\r\n"),
            "TOUCHED\r\nHD t30\r\nNOT_FOUND\r\n");
  s.set_now(kNow + 31);
  EXPECT_EQ(s.Run("get g\r\n"), "END\r\n");
}

TEST(ExecuteClassic, TooLargeForTheStore) {
  Session s;  // the parser allows 1 MiB; this store's items are smaller
  const size_t max = s.store().MaxValueSize(1, 0);
  s.Run("set k 0 0 3\r\nold\r\nset a 0 0 3\r\nold\r\n");
  const std::string big(max + 1, 'x');
  const std::string n = std::to_string(big.size());
  EXPECT_EQ(s.Run("add a 0 0 " + n + "\r\n" + big + "\r\nget a\r\n"),
            "SERVER_ERROR object too large for cache\r\nVALUE a 0 3\r\nold\r\nEND\r\n");
  // A set that cannot be stored drops the old value (i1k_set_too_large_swallows_and_deletes).
  EXPECT_EQ(s.Run("set k 0 0 " + n + "\r\n" + big + "\r\nget k\r\n"),
            "SERVER_ERROR object too large for cache\r\nEND\r\n");
  EXPECT_EQ(s.counters().store_too_large, 2u);
  // Appending past the limit is NOT_STORED (i1k_append_grows_past_limit, recorded with -I 1k).
  const std::string most(max - 2, 'y');
  EXPECT_EQ(s.Run("append a 0 0 " + std::to_string(most.size()) + "\r\n" + most + "\r\nmg a s\r\n"),
            "NOT_STORED\r\nHD s3\r\n");
  // ms in any mode drops the old item too (i1k_ms_append_mode_too_large_deletes).
  EXPECT_EQ(s.Run("ms a " + n + " MA\r\n" + big + "\r\nmg a v\r\n"),
            "SERVER_ERROR object too large for cache\r\nEN\r\n");
}

TEST(ExecuteMeta, QuietFlagHidesOnlyWhatMemcachedHides) {
  Session s;
  EXPECT_EQ(s.Run("mg k q v\r\nms k 1 q\r\n5\r\nmg k q v\r\nma k q\r\nma k q v\r\n"
                  "ms k 1 q ME\r\nx\r\nmd k q C1\r\nmd k q\r\nmd k q\r\nma k q\r\n"),
            "VA 1\r\n5\r\nNS\r\nEX\r\nNF\r\nNF\r\n");
  // Recorded: an ma that creates the item answers even with q; the next one is hidden.
  EXPECT_EQ(s.Run("ma q q N0 J5 v\r\nma q q N0 J5 v\r\nmg q v\r\n"), "VA 1\r\n5\r\nVA 1\r\n6\r\n");
}

TEST(ExecuteMeta, OpaqueAndKeyEchoInOrder) {
  Session s;
  // Recorded from memcached 1.6.18.
  EXPECT_EQ(s.Run("mg Zm9v b k O1\r\nmg Zm9v O1 k b\r\nmd zz q O9 k\r\n"),
            "EN kZm9v b O1\r\nEN O1 kZm9v b\r\nNF O9 kzz\r\n");
  EXPECT_EQ(MaskAll(s.Run("set f 7 0 3\r\nabc\r\nms f 2 MA k O5 c\r\nde\r\nget f\r\n")),
            "STORED\r\nHD kf O5 c*\r\nVALUE f 7 5\r\nabcde\r\nEND\r\n");
  EXPECT_EQ(s.Run("ma nope O7 k\r\nms f 1 MR C1 O3 k\r\nv\r\n"), "NF O7 knope\r\nEX O3 kf\r\n");
  // Recorded: a failed ms reports c0.
  EXPECT_EQ(s.Run("ms f 1 c ME\r\nv\r\n"), "NS c0\r\n");
}

TEST(ExecuteMeta, Base64KeysStoreDecodedAndEchoEncoded) {
  Session s;
  EXPECT_EQ(s.Run("ms Zm9v 1 b k\r\nv\r\nget foo\r\nmg Zm9v b k v\r\nmg foo k s\r\n"),
            "HD kZm9v b\r\nVALUE foo 0 1\r\nv\r\nEND\r\nVA 1 kZm9v b\r\nv\r\n"
            "HD kZm9v b s1\r\n");
  EXPECT_EQ(MaskAll(s.Run("me Zm9v b\r\nma Zm9v b k\r\nmd Zm9v b k\r\nget foo\r\n")),
            "ME Zm9v exp=-1 la=0 cas=* fetch=yes cls=1 size=63\r\n"
            "CLIENT_ERROR cannot increment or decrement non-numeric value\r\nHD kZm9v b\r\n"
            "END\r\n");
}

TEST(ExecuteMeta, SetModes) {
  Session s;
  EXPECT_EQ(s.Run("ms k 1 MA\r\nb\r\nms k 1 MR\r\nb\r\nms k 1 ME F3 T0\r\na\r\n"
                  "ms k 1 ME\r\nz\r\nms k 1 MA F9\r\nb\r\nms k 1 MP\r\nc\r\n"
                  "ms k 3 MR\r\nxyz\r\nget k\r\nms k 1 MS\r\nq\r\nmg k v f\r\n"),
            "NS\r\nNS\r\nHD\r\nNS\r\nHD\r\nHD\r\nHD\r\nVALUE k 0 3\r\nxyz\r\nEND\r\n"
            "HD\r\nVA 1 f0\r\nq\r\n");
  // N in append mode creates the item (the protocol document; 1.6.18 answers NS, a README
  // deviation); without N a missing item is not stored.
  EXPECT_EQ(s.Run("ms new 1 MA N30\r\nv\r\nmg new v t\r\n"), "HD\r\nVA 1 t30\r\nv\r\n");
  EXPECT_EQ(s.Run("ms new2 1 MA\r\nv\r\nmg new2\r\n"), "NS\r\nEN\r\n");
  // E gives the stored version its CAS; C then matches it.
  EXPECT_EQ(s.Run("ms e 1 E777 c\r\nv\r\nms e 1 C777 c E778\r\nw\r\nmg e c v\r\n"),
            "HD c777\r\nHD c778\r\nVA 1 c778\r\nw\r\n");
  EXPECT_EQ(s.counters().cas_hits, 1u);
}

TEST(ExecuteMeta, InvalidateThenStaleWinFlags) {
  Session s;
  // Recorded: set; md d I T30; mg d t v -> "VA 1 t30 X W"; mg d t c -> "HD t30 c.. Z X".
  EXPECT_EQ(MaskAll(s.Run("set d 0 0 1\r\nv\r\nmd d I T30\r\nmg d t v\r\nmg d t c\r\n")),
            "STORED\r\nHD\r\nVA 1 t30 X W\r\nv\r\nHD t30 c* Z X\r\n");
  EXPECT_EQ(s.counters().delete_hits, 0u);
  EXPECT_EQ(s.Run("md d q\r\nmg d\r\n"), "EN\r\n");
  EXPECT_EQ(s.counters().delete_hits, 1u);
  // A recache win (R) goes to one client; the next sees Z.
  EXPECT_EQ(s.Run("ms r 1 T10\r\nv\r\nmg r R30 s\r\nmg r R30 s\r\n"),
            "HD\r\nHD s1 W\r\nHD s1 Z\r\n");
}

TEST(ExecuteMeta, GetAppliesFlagsInMemcachedOrder) {
  Session s;
  // Recorded from memcached 1.6.18: t before T shows the old TTL; N then T on a vivify.
  EXPECT_EQ(s.Run("set a 0 100 1\r\nv\r\nmg a t T200\r\nmg a t\r\nmg a T300 t\r\n"),
            "STORED\r\nHD t100\r\nHD t200\r\nHD t300\r\n");
  EXPECT_EQ(s.Run("mg x2 N30 t T90 v\r\nmg x3 T90 N30 t\r\nmg x2 t\r\nmg x3 t\r\n"),
            "VA 0 t30 W\r\n\r\nHD t30 W\r\nHD t90 Z\r\nHD t30 Z\r\n");
  EXPECT_EQ(s.counters().cmd_touch, 4u);  // T on a hit or a vivify counts as a touch
}

TEST(ExecuteMeta, HitBeforeAndIdleTime) {
  Session s;
  s.Run("set k 0 0 1\r\nv\r\n");
  s.set_now(kNow + 7);
  EXPECT_EQ(s.Run("mg k h l u\r\nmg k h l\r\nmg k h l\r\n"),
            "HD h0 l7\r\nHD h0 l7\r\nHD h1 l0\r\n");
}

TEST(ExecuteMeta, ArithmeticCreatesAndReports) {
  Session s;
  // Recorded: ma n N0 J1 t T100 v -> "VA 1 t-1 / 1"; then mg n t v -> "VA 1 t100".
  EXPECT_EQ(s.Run("ma n N0 J1 t T100 v\r\nmg n t v\r\nma w N60 J7 t\r\n"),
            "VA 1 t-1\r\n1\r\nVA 1 t100\r\n1\r\nHD t60\r\n");
  EXPECT_EQ(s.Run("ma n MD D5 v\r\nma n M- v\r\nma n MI D9 v\r\nma n M+ v\r\nmg n v s\r\n"),
            "VA 1\r\n0\r\nVA 1\r\n0\r\nVA 1\r\n9\r\nVA 2\r\n10\r\nVA 2 s2\r\n10\r\n");
  EXPECT_EQ(s.counters().incr_hits, 2u);
  EXPECT_EQ(s.counters().decr_hits, 2u);
  EXPECT_EQ(s.counters().incr_misses, 0u);
  const uint64_t cas = s.store().Read(storage::Key("n"), kNow).item.cas();
  EXPECT_EQ(s.Run("ma n C" + std::to_string(cas + 1) + " v\r\n"), "EX\r\n");
  EXPECT_EQ(s.Run("ma n C" + std::to_string(cas) + " v D5\r\n"), "VA 2\r\n15\r\n");
}

TEST(ExecuteMeta, DebugLineFormat) {
  Session s;
  // Recorded from memcached 1.6.18 (CAS aside): exp counts negative up to the deadline, size
  // and cls are memcached's item size and slab class.
  EXPECT_EQ(MaskAll(s.Run("set k 0 100 1\r\nv\r\nme k\r\nget k\r\nme k\r\nme nope\r\n")),
            "STORED\r\nME k exp=-100 la=0 cas=* fetch=no cls=1 size=61\r\n"
            "VALUE k 0 1\r\nv\r\nEND\r\nME k exp=-100 la=0 cas=* fetch=yes cls=1 size=61\r\n"
            "EN\r\n");
  EXPECT_EQ(MaskAll(s.Run("set f 5 0 1\r\nv\r\nme f\r\n")),
            "STORED\r\nME f exp=-1 la=0 cas=* fetch=no cls=1 size=65\r\n");
  // Recorded: values of 40, 100, 500, 1000, 5000 bytes under key "big".
  const std::pair<size_t, std::string> sizes[] = {{40, "cls=2 size=102"},
                                                  {100, "cls=4 size=162"},
                                                  {500, "cls=9 size=562"},
                                                  {1000, "cls=12 size=1062"},
                                                  {5000, "cls=19 size=5062"}};
  for (const auto& [n, tail] : sizes) {
    const std::string out =
        s.Run("set big 0 0 " + std::to_string(n) + "\r\n" + std::string(n, 'x') + "\r\nme big\r\n");
    EXPECT_TRUE(out.ends_with(" fetch=no " + tail + "\r\n")) << out;
  }
  EXPECT_EQ(s.counters().cmd_meta, 9u);
}

}  // namespace
}  // namespace spillway::server
