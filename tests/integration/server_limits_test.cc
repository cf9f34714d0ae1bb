// The real spillway binary at its limits, over real sockets, on both I/O backends: memcached's
// recorded answers replayed through the server, requests split into single bytes, many clients,
// a client that stops reading, idle connections, oversized input, garbage, and shutdown.
//
// Nothing here sleeps to synchronise: every wait is a socket read (or poll) with a timeout, or a
// pidfd poll for the process, so every test is bounded.

#include <fcntl.h>
#include <gtest/gtest.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "tests/integration/server_process.h"

namespace spillway::testing {
namespace {

using Clock = std::chrono::steady_clock;

int64_t MillisSince(Clock::time_point start) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start).count();
}

struct Setup {
  std::string io;
  int threads;
};

std::string Name(const ::testing::TestParamInfo<Setup>& info) {
  return info.param.io + "_" + std::to_string(info.param.threads) + "shards";
}

std::vector<std::string> ArgsFor(const Setup& setup, std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"--io=" + setup.io, "--threads=" + std::to_string(setup.threads),
                                   "--memory_limit=64"};
  args.insert(args.end(), extra.begin(), extra.end());
  return args;
}

// ---- Process and socket helpers the harness does not have.

// Resident memory of `pid` in KiB, from /proc; -1 when unreadable.
int64_t VmRssKib(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);) {
    if (line.starts_with("VmRSS:")) return std::atoll(line.c_str() + 6);
  }
  return -1;
}

// True while `pid` has not exited. Does not reap it: ServerProcess does that.
bool Running(pid_t pid) {
  siginfo_t info{};
  if (waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0) return false;
  return info.si_pid == 0;
}

// Waits up to `timeout_ms` for `pid` to exit, without reaping it. On exit, *exit_code is the
// exit status, or 128 + the signal that killed it.
bool WaitForExit(pid_t pid, int timeout_ms, int* exit_code) {
  const int pidfd = static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
  if (pidfd < 0) return false;
  pollfd p{pidfd, POLLIN, 0};
  poll(&p, 1, timeout_ms);
  close(pidfd);
  siginfo_t info{};
  if (waitid(P_PID, static_cast<id_t>(pid), &info, WEXITED | WNOHANG | WNOWAIT) != 0) return false;
  if (info.si_pid != pid) return false;
  *exit_code = info.si_code == CLD_EXITED ? info.si_status : 128 + info.si_status;
  return true;
}

// After a read that ended without its terminator: did the peer close (EOF or reset)? Waits up
// to the client's receive timeout.
bool PeerClosed(Client& c) {
  char byte;
  const ssize_t n = recv(c.fd(), &byte, 1, 0);
  return n == 0 || (n < 0 && (errno == ECONNRESET || errno == EPIPE));
}

// Reads until the peer closes (or the receive timeout passes): everything received.
std::string ReadToEnd(Client& c) { return c.ReadUntil(std::string_view("\x01\x02\x03\x04", 4)); }

// One send() per byte: the server sees every possible split of every request.
bool SendBytewise(Client& c, std::string_view bytes) {
  for (size_t i = 0; i < bytes.size(); ++i) {
    if (!c.Send(bytes.substr(i, 1))) return false;
  }
  return true;
}

// A readable rendering of protocol bytes for failure messages, cut to a useful length.
std::string Printable(std::string_view s, size_t max = 400) {
  std::string out;
  for (size_t i = 0; i < s.size() && i < max; ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '\r') {
      out += "\\r";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else if (c == '\\') {
      out += "\\\\";
    } else if (c < 0x20 || c >= 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02x", c);
      out += buf;
    } else {
      out.push_back(static_cast<char>(c));
    }
  }
  if (s.size() > max) out += "...(" + std::to_string(s.size()) + " bytes)";
  return out;
}

// Where two large byte strings first differ, for a failure message that does not print MBs.
std::string FirstDifference(std::string_view got, std::string_view want) {
  size_t at = 0;
  while (at < got.size() && at < want.size() && got[at] == want[at]) ++at;
  if (at == got.size() && at == want.size()) return "";
  const size_t from = at < 40 ? 0 : at - 40;
  return "first difference at byte " + std::to_string(at) + " (got " + std::to_string(got.size()) +
         " bytes, want " + std::to_string(want.size()) + "): got ..." +
         Printable(got.substr(from, 120)) + " want ..." + Printable(want.substr(from, 120));
}

// ---- The oracle's format and CAS masking, as tests/unit/server/execute_test.cc reads them.

std::vector<std::string> Lines(const std::string& s) {
  std::vector<std::string> lines;
  size_t start = 0;
  for (size_t at; (at = s.find("\r\n", start)) != std::string::npos; start = at + 2) {
    lines.push_back(s.substr(start, at + 2 - start));
  }
  if (start < s.size()) lines.push_back(s.substr(start));
  return lines;
}

bool IsDigits(std::string_view s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
}

std::vector<std::string> Split(const std::string& s, char by) {
  std::vector<std::string> tokens;
  std::stringstream in(s);
  for (std::string t; std::getline(in, t, by);) tokens.push_back(t);
  return tokens;
}

// Replaces every CAS field of a response line by "*" and collects the values it replaced:
// VALUE's fifth token, a meta status line's c<n> flag, me's cas=<n>. The version string is
// masked too: spillway's leads with memcached's but goes on (README, "Protocol notes").
std::string MaskLine(const std::string& line, std::vector<uint64_t>* seen) {
  const bool crlf = line.ends_with("\r\n");
  const std::string body = crlf ? line.substr(0, line.size() - 2) : line;
  if (body.starts_with("VERSION ")) return crlf ? "VERSION *\r\n" : "VERSION *";
  std::vector<std::string> tokens = Split(body, ' ');
  if (tokens.empty()) return line;
  const std::string& word = tokens[0];
  const bool meta = word == "VA" || word == "HD" || word == "EX" || word == "NF" || word == "NS";
  for (size_t i = 1; i < tokens.size(); ++i) {
    std::string& t = tokens[i];
    if (word == "VALUE" && i == 4 && IsDigits(t)) {
      seen->push_back(std::stoull(t));
      t = "*";
    } else if (meta && t.size() > 1 && t[0] == 'c' && IsDigits(t.substr(1))) {
      seen->push_back(std::stoull(t.substr(1)));
      t = "c*";
    } else if (word == "ME" && t.starts_with("cas=")) {
      seen->push_back(std::stoull(t.substr(4)));
      t = "cas=*";
    }
  }
  std::string out;
  for (size_t i = 0; i < tokens.size(); ++i) out += (i ? " " : "") + tokens[i];
  return crlf ? out + "\r\n" : out;
}

std::string MaskAll(const std::string& s) {
  std::vector<uint64_t> ignored;
  std::string out;
  for (const std::string& line : Lines(s)) out += MaskLine(line, &ignored);
  return out;
}

struct OracleCase {
  std::string name, input, output;
  bool closed = false;
};

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

std::string Unescape(const std::string& s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '\\' || i + 1 == s.size()) {
      out.push_back(s[i]);
      continue;
    }
    const char c = s[++i];
    if (c == 'r') {
      out.push_back('\r');
    } else if (c == 'n') {
      out.push_back('\n');
    } else if (c == 't') {
      out.push_back('\t');
    } else if (c == 'x' && i + 2 < s.size() && HexDigit(s[i + 1]) >= 0 && HexDigit(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(HexDigit(s[i + 1]) * 16 + HexDigit(s[i + 2])));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::vector<OracleCase> LoadOracle() {
  std::ifstream in(SPILLWAY_ORACLE_TSV);
  std::vector<OracleCase> cases;
  bool header = true;
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    if (std::exchange(header, false)) continue;
    const std::vector<std::string> f = Split(line, '\t');
    // An empty output is an empty field between two tabs, which getline keeps.
    if (f.size() == 4) cases.push_back({f[0], Unescape(f[1]), Unescape(f[2]), f[3] == "1"});
  }
  return cases;
}

// Cases not replayed, each with its reason. The first group is execute_test.cc's list.
const std::map<std::string, std::string>& SkippedCases() {
  static const std::map<std::string, std::string> kSkipped = {
      {"line_3000_with_newline_one_write", "README: a line over 2048 bytes always closes"},
      {"set_line_over_2048_with_newline", "README: a line over 2048 bytes always closes"},
      {"gat_long_line_no_newline_closes__pause_at_3205",
       "README: gat lines may be as long as get lines"},
      {"set_key_ctrl_01", "README: control characters in keys are refused"},
      {"set_key_del_7f", "README: control characters in keys are refused"},
      {"tab_inside_key", "README: control characters in keys are refused"},
      {"double_cr_before_lf", "README: control characters in keys are refused"},
      {"get_multi_key_251_in_middle",
       "memcached drops answers queued from the same read; spillway answers per request"},
      {"get_many_keys_then_key_251",
       "memcached drops answers queued from the same read; spillway answers per request"},
      {"ma_opaque_33", "memcached increments before refusing the opaque; spillway refuses first"},
      {"ms_unknown_flag_E", "README: the E flag is accepted"},
      {"ms_MA_N_autovivify", "README: ms N in append mode creates the item"},
      {"i1k_append_grows_past_limit", "needs a 1 KiB store item limit (execute_test.cc)"},
      // Connection-level cases this replay does not run either.
      {"stats_redacted", "stats values vary (pids, times, counters)"},
      {"stats_nonsense", "stats values vary (pids, times, counters)"},
      {"stats_detail_no_arg", "README: stats groups other than settings/reset answer ERROR"},
      {"stats_detail_on_then_dump", "README: stats groups other than settings/reset answer ERROR"},
      {"stats_cachedump_too_few", "README: stats groups other than settings/reset answer ERROR"},
      // Limits the real server's flags cannot reproduce.
      {"i1k_value_970_too_large",
       "memcached -I 1k counts its 48-byte item header (960 fits, 970 not); --max_item_size "
       "cannot go below 1k and counts the value"},
  };
  return kSkipped;
}

// Cases that quote memcached's CAS of an item without any answer having shown it (memcached's
// counter starts at 1 on a fresh server): they need a fresh server too.
const std::set<std::string>& FreshServerCases() {
  static const std::set<std::string> kFresh = {"ms_C_match", "ms_I_C_higher_exists",
                                               "ms_I_C_lower_marks_stale"};
  return kFresh;
}

// memcached's CAS values that a case quotes back (cas's sixth token, a meta command's C<n>):
// the offsets of the lines that quote them. The replay stops before each such line to learn
// spillway's CAS for the same item, as execute_test.cc translates them.
std::vector<size_t> CasQuotingLines(const std::string& input) {
  std::vector<size_t> at;
  size_t start = 0;
  while (start < input.size()) {
    size_t end = input.find('\n', start);
    if (end == std::string::npos) end = input.size();
    std::string line = input.substr(start, end - start);
    if (line.ends_with('\r')) line.pop_back();
    const std::vector<std::string> t = Split(line, ' ');
    bool quotes = false;
    if (!t.empty() && t[0] == "cas" && t.size() >= 6 && IsDigits(t[5])) quotes = true;
    if (!t.empty() && (t[0] == "ms" || t[0] == "md" || t[0] == "ma" || t[0] == "mg")) {
      for (size_t i = 2; i < t.size(); ++i) {
        if (t[i].size() > 1 && t[i][0] == 'C' && IsDigits(t[i].substr(1))) quotes = true;
      }
    }
    if (quotes && start > 0) at.push_back(start);
    start = end + 1;
  }
  return at;
}

// The first line of `segment` with each quoted CAS that `cas_map` knows replaced.
std::string TranslateCas(const std::string& segment, const std::map<uint64_t, uint64_t>& cas_map) {
  const size_t end = segment.find('\n');
  std::string line = segment.substr(0, end);
  const bool cr = line.ends_with('\r');
  if (cr) line.pop_back();
  std::vector<std::string> t = Split(line, ' ');
  for (size_t i = 1; i < t.size(); ++i) {
    const bool classic = t[0] == "cas" && i == 5 && IsDigits(t[i]);
    const bool meta =
        t[0][0] == 'm' && t[i].size() > 1 && t[i][0] == 'C' && IsDigits(t[i].substr(1));
    const std::string digits = classic ? t[i] : meta ? t[i].substr(1) : "";
    if (digits.empty()) continue;
    const auto it = cas_map.find(std::stoull(digits));
    if (it != cas_map.end()) t[i] = (meta ? "C" : "") + std::to_string(it->second);
  }
  std::string out;
  for (size_t i = 0; i < t.size(); ++i) out += (i ? " " : "") + t[i];
  return out + (cr ? "\r" : "") + (end == std::string::npos ? "" : segment.substr(end));
}

// The byte offsets of a __pause_at_ case's chunks (memcached saw them 250 ms apart; spillway's
// answer must not depend on the split, so they are sent as separate writes without a pause).
std::vector<size_t> PauseOffsets(const std::string& name) {
  std::vector<size_t> offsets;
  const size_t at = name.find("__pause_at_");
  if (at == std::string::npos) return offsets;
  for (const std::string& n : Split(name.substr(at + 11), '_')) {
    if (IsDigits(n)) offsets.push_back(std::stoull(n));
  }
  return offsets;
}

struct Outcome {
  std::string bytes;  // the answers, without the sentinel's MN
  bool closed = false;
  std::string trouble;  // a timeout or a send failure
};

// Runs one case on a fresh connection to `port`: its input, then "mn\r\n", read until "MN\r\n"
// or the server closes.
Outcome RunCase(int port, const OracleCase& c) {
  Outcome o;
  Client client(port);
  if (!client.ok()) {
    o.trouble = "connect failed";
    return o;
  }
  std::vector<size_t> cuts = CasQuotingLines(c.input);
  cuts.push_back(c.input.size());
  const std::vector<size_t> pauses = PauseOffsets(c.name);
  const std::vector<std::string> want = Lines(c.output);
  size_t want_at = 0;
  std::map<uint64_t, uint64_t> cas_map;
  size_t from = 0;
  for (size_t cut : cuts) {
    std::string segment = TranslateCas(c.input.substr(from, cut - from), cas_map);
    // Chunks: split where memcached paused (only in cases without CAS quotes).
    size_t sent = 0;
    bool ok = true;
    for (size_t p : pauses) {
      if (p <= from || p >= cut) continue;
      ok = ok && client.Send(std::string_view(segment).substr(sent, p - from - sent));
      sent = p - from;
    }
    ok = ok && client.Send(std::string_view(segment).substr(sent)) && client.Send("mn\r\n");
    // The sentinel's MN is the last one: the case's own mn commands answer before it.
    const bool last = cut == c.input.size();
    int mns = 1;
    for (size_t at = 0; last && (at = c.output.find("MN\r\n", at)) != std::string::npos; ++at) {
      ++mns;
    }
    std::string got;
    bool sentinel = true;
    for (int i = 0; i < mns && sentinel; ++i) {
      got += client.ReadUntil("MN\r\n");
      sentinel = got.ends_with("MN\r\n");
    }
    if (sentinel) got.resize(got.size() - 4);
    o.bytes += got;
    if (!sentinel) {
      o.closed = PeerClosed(client);
      if (!o.closed) o.trouble = ok ? "no MN and no close within the timeout" : "send failed";
      return o;
    }
    // Learn spillway's CAS for each of memcached's, line by line.
    std::vector<uint64_t> ours, theirs;
    for (const std::string& line : Lines(got)) {
      MaskLine(line, &ours);
      if (want_at < want.size()) MaskLine(want[want_at++], &theirs);
    }
    for (size_t i = 0; i < ours.size() && i < theirs.size(); ++i) cas_map[theirs[i]] = ours[i];
    from = cut;
  }
  return o;
}

class ServerLimitsTest : public ::testing::TestWithParam<Setup> {
 protected:
  void SetUp() override {
    if (GetParam().io == "uring" && !UringUsable()) {
      GTEST_SKIP() << "io_uring is not usable on this kernel (spillway --io=uring says why)";
    }
  }
  std::vector<std::string> Args(std::vector<std::string> extra = {}) const {
    return ArgsFor(GetParam(), std::move(extra));
  }
  std::unique_ptr<ServerProcess> Start(std::vector<std::string> extra = {}) const {
    auto server = std::make_unique<ServerProcess>(Args(std::move(extra)));
    EXPECT_GT(server->port(), 0) << "the server did not start";
    return server;
  }
};

// ---- 1. memcached's recorded answers, through the real server.

TEST_P(ServerLimitsTest, OracleReplayMatchesMemcachedWithCasMasked) {
  const std::vector<OracleCase> cases = LoadOracle();
  ASSERT_GT(cases.size(), 200u) << "oracle file missing or truncated: " << SPILLWAY_ORACLE_TSV;
  auto server = Start();
  ASSERT_GT(server->port(), 0);
  Client control(server->port());
  ASSERT_TRUE(control.ok());
  // Recorded with memcached -I 1k.
  std::unique_ptr<ServerProcess> i1k;
  std::unique_ptr<Client> i1k_control;
  int replayed = 0, fresh_servers = 0, mismatches = 0;
  std::map<std::string, int> skipped_by_reason;
  for (const OracleCase& c : cases) {
    const auto skip = SkippedCases().find(c.name);
    if (skip != SkippedCases().end()) {
      ++skipped_by_reason[skip->second];
      continue;
    }
    if (c.name == "ms_C_match" && GetParam().threads > 1) {
      ++skipped_by_reason
          ["quotes memcached's first CAS (1) unseen; a fresh spillway's first CAS is 1 only with "
           "one shard (each shard has its own CAS sequence)"];
      continue;
    }
    ServerProcess* target = server.get();
    Client* flusher = &control;
    std::unique_ptr<ServerProcess> fresh;
    if (c.input.find("flush_all") != std::string::npos ||
        c.input.find("verbosity") != std::string::npos || FreshServerCases().count(c.name) > 0) {
      // Server-wide state (a delayed flush would reach later cases), or a CAS no answer showed:
      // a server of its own.
      fresh = Start();
      target = fresh.get();
      flusher = nullptr;
      ++fresh_servers;
    } else if (c.name.starts_with("i1k_")) {
      if (!i1k) {
        i1k = Start({"--max_item_size=1k"});
        i1k_control = std::make_unique<Client>(i1k->port());
      }
      target = i1k.get();
      flusher = i1k_control.get();
    }
    ASSERT_GT(target->port(), 0);
    if (flusher != nullptr) {
      ASSERT_EQ(flusher->Call("flush_all\r\n"), "OK\r\n") << c.name;
    }
    const Outcome o = RunCase(target->port(), c);
    ++replayed;
    const bool same =
        o.trouble.empty() && o.closed == c.closed && MaskAll(o.bytes) == MaskAll(c.output);
    if (!same) {
      ++mismatches;
      ADD_FAILURE() << "oracle case " << c.name << "\n  input:    " << Printable(c.input)
                    << "\n  expected: " << Printable(c.output) << (c.closed ? " (then closed)" : "")
                    << "\n  got:      " << Printable(o.bytes) << (o.closed ? " (then closed)" : "")
                    << (o.trouble.empty() ? "" : " [" + o.trouble + "]");
    }
  }
  EXPECT_GT(replayed, 220);
  std::printf(
      "oracle over the wire: %d cases replayed (%d on a server of their own), %d "
      "mismatches\n",
      replayed, fresh_servers, mismatches);
  for (const auto& [reason, n] : skipped_by_reason)
    std::printf("  skipped %d: %s\n", n, reason.c_str());
  EXPECT_TRUE(Running(server->pid()));
}

// ---- 2. Requests split into single bytes.

// Sets, gets, multi-gets, meta commands, a value with "\r\n" inside it, errors and noreply.
std::string MixedRequests() {
  std::string value(2000, 'v');
  value.replace(700, 2, "\r\n");
  value.replace(1500, 4, "END\r");
  std::string s =
      "set a 1 0 3\r\nabc\r\n"
      "set b:1 2 0 5\r\nx\r\nyz\r\n"
      "get a\r\n"
      "get a b:1 missing c:2 a\r\n"
      "gets a b:1\r\n"
      "add a 0 0 1\r\nz\r\n"
      "append a 0 0 2\r\nde\r\n"
      "prepend a 0 0 2\r\n12\r\n"
      "set n 0 0 2\r\n10\r\nincr n 5\r\ndecr n 3\r\nincr n 1 noreply\r\n"
      "touch a 100\r\n"
      "gat 0 a n\r\n"
      "delete b:1\r\nget b:1\r\ndelete b:1\r\n"
      "ms m:1 3 F7 T0\r\nxyz\r\n"
      "mg m:1 v f k s c O42\r\n"
      "ma n MI D2 v\r\nma n MD D1000 v\r\n"
      "md a q\r\nmg a v\r\nmg a v q\r\n"
      "ms Zm9v 2 b\r\nhi\r\nmg Zm9v b v k\r\nget foo\r\n"
      "mn\r\n"
      "bogus command\r\n"
      "set x 0 0 1\r\nab\r\n"
      "set big 0 0 2000\r\n" +
      value +
      "\r\n"
      "get big a n m:1 foo\r\n"
      "ms e:1 2 MA\r\nzz\r\n"
      "mg e:1 v\r\n";
  for (int i = 0; i < 20; ++i) {
    s += "set key:" + std::to_string(i) + " " + std::to_string(i) + " 0 " +
         std::to_string(std::to_string(i * 31).size()) + "\r\n" + std::to_string(i * 31) + "\r\n";
  }
  s += "get";
  for (int i = 0; i < 25; ++i) s += " key:" + std::to_string(i);
  s += "\r\nmn\r\n";
  return s;
}

TEST_P(ServerLimitsTest, RequestsSentByteByByteAreAnsweredAsWhole) {
  auto server = Start();
  ASSERT_GT(server->port(), 0);
  const std::string requests = MixedRequests();
  Client control(server->port());
  std::string answers[2];
  for (int bytewise = 0; bytewise < 2; ++bytewise) {
    ASSERT_EQ(control.Call("flush_all\r\n"), "OK\r\n");
    Client c(server->port());
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE(bytewise ? SendBytewise(c, requests) : c.Send(requests));
    // Two mn in the script, so two MN in the answers.
    answers[bytewise] = c.ReadUntil("MN\r\n");
    answers[bytewise] += c.ReadUntil("MN\r\n");
  }
  // Anchors that make sure the whole script was understood, not just equally misread.
  EXPECT_TRUE(answers[0].starts_with("STORED\r\nSTORED\r\nVALUE a 1 3\r\nabc\r\nEND\r\n"))
      << Printable(answers[0]);
  EXPECT_NE(answers[0].find("VALUE b:1 2 5\r\nx\r\nyz\r\n"), std::string::npos);
  EXPECT_NE(answers[0].find("VALUE big 0 2000\r\n"), std::string::npos);
  EXPECT_NE(answers[0].find("CLIENT_ERROR bad data chunk\r\n"), std::string::npos);
  EXPECT_TRUE(answers[0].ends_with("VALUE key:19 19 3\r\n589\r\nEND\r\nMN\r\n"))
      << Printable(answers[0]);
  EXPECT_EQ(MaskAll(answers[1]), MaskAll(answers[0]))
      << FirstDifference(MaskAll(answers[1]), MaskAll(answers[0]));
}

// ---- 3. Many clients at once, each on its own thread.

TEST_P(ServerLimitsTest, HundredClientsOnHundredThreadsReadBackTheirOwnKeys) {
  auto server = Start();
  ASSERT_GT(server->port(), 0);
  constexpr int kClients = 100, kKeys = 50;
  std::atomic<int> wrong{0};
  std::mutex mu;
  std::string first_wrong;
  auto note = [&](const std::string& what) {
    if (wrong.fetch_add(1) == 0) {
      std::lock_guard<std::mutex> lock(mu);
      first_wrong = what;
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kClients; ++t) {
    threads.emplace_back([&, t] {
      Client c(server->port());
      if (!c.ok()) return note("client " + std::to_string(t) + " could not connect");
      auto key = [t](int k) { return "c" + std::to_string(t) + ":k" + std::to_string(k); };
      auto value = [t](int k) {
        return "value-" + std::to_string(t) + "-" + std::to_string(k) +
               std::string(static_cast<size_t>((t * 7 + k) % 40), 'x');
      };
      for (int k = 0; k < kKeys; ++k) {
        const std::string v = value(k);
        const std::string got = c.Call("set " + key(k) + " " + std::to_string(t) + " 0 " +
                                       std::to_string(v.size()) + "\r\n" + v + "\r\n");
        if (got != "STORED\r\n") return note("set " + key(k) + ": " + Printable(got));
      }
      for (int k = 0; k < kKeys; ++k) {
        const std::string v = value(k);
        const std::string want = "VALUE " + key(k) + " " + std::to_string(t) + " " +
                                 std::to_string(v.size()) + "\r\n" + v + "\r\nEND\r\n";
        const std::string got = c.Call("get " + key(k) + "\r\n", "END\r\n");
        if (got != want) return note("get " + key(k) + ": " + Printable(got));
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0) << "first: " << first_wrong;
}

// ---- 4. A client that pipelines requests and does not read its answers.

// FAILS with 2 shards, both backends (server bug, left failing on purpose): Connection::OverCap
// counts only out_, the answers already in order; answers from another shard wait in slots_
// (copied values) behind a pending slot and are not counted, so one read's worth of gets is
// all parsed and the server keeps reading. 20,000 pipelined "get big:N" (220 KB of requests,
// 100 KB values) take the server to 1.4 GB RSS with --threads=2; with --threads=1 it stops
// reading after ~4 MB and stays at ~10 MB.
TEST_P(ServerLimitsTest, ClientThatDoesNotReadIsThrottledAndOthersAreServed) {
  auto server = Start();
  ASSERT_GT(server->port(), 0);
  constexpr int kValues = 10, kGets = 300;
  constexpr size_t kValueSize = 100'000;
  auto value = [](int i) { return std::string(kValueSize, static_cast<char>('a' + i)); };
  {
    Client setup(server->port());
    for (int i = 0; i < kValues; ++i) {
      ASSERT_EQ(setup.Call("set big:" + std::to_string(i) + " 0 0 " + std::to_string(kValueSize) +
                           "\r\n" + value(i) + "\r\n"),
                "STORED\r\n");
    }
  }
  const int64_t base_kib = VmRssKib(server->pid());
  ASSERT_GT(base_kib, 0);

  // 300 gets (30 MB of answers), then 48 MB of noreply sets: requests that cost the server
  // nothing to answer, so that a server that kept reading would take them all.
  std::string stream, want;
  for (int i = 0; i < kGets; ++i) {
    const std::string key = "big:" + std::to_string(i % kValues);
    stream += "get " + key + "\r\n";
    want += "VALUE " + key + " 0 " + std::to_string(kValueSize) + "\r\n" + value(i % kValues) +
            "\r\nEND\r\n";
  }
  const std::string pad = "set pad 0 0 " + std::to_string(kValueSize) + " noreply\r\n" +
                          std::string(kValueSize, 'p') + "\r\n";
  for (int i = 0; i < 480; ++i) stream += pad;

  Client slow(server->port());
  ASSERT_TRUE(slow.ok());
  // Send without blocking until the server has not taken a byte for 500 ms.
  size_t sent = 0;
  bool stalled = false;
  while (sent < stream.size()) {
    const ssize_t n =
        send(slow.fd(), stream.data() + sent, stream.size() - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
      continue;
    }
    ASSERT_TRUE(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) << "send: " << errno;
    pollfd p{slow.fd(), POLLOUT, 0};
    if (poll(&p, 1, 500) == 0) {
      stalled = true;
      break;
    }
  }
  EXPECT_TRUE(stalled) << "the server read all " << stream.size()
                       << " bytes from a client that reads none of its answers";
  std::printf("the server stopped reading after %zu of %zu bytes\n", sent, stream.size());

  // Another client is answered at once, while the slow one's requests wait.
  {
    Client other(server->port());
    const auto start = Clock::now();
    EXPECT_EQ(other.Call("mn\r\n"), "MN\r\n");
    const std::string want_one =
        "VALUE big:3 0 " + std::to_string(kValueSize) + "\r\n" + value(3) + "\r\nEND\r\n";
    ASSERT_TRUE(other.Send("get big:3\r\n"));
    EXPECT_EQ(other.Read(want_one.size()), want_one);
    EXPECT_LT(MillisSince(start), 1000) << "another client waited behind the slow one";
  }
  // Measured once the server has demonstrably stopped reading (the sends stalled) and still
  // serves others. What it may hold for the slow client: its output cap (4 MiB of answers,
  // copied when they cross shards), one read's worth of input, and the receive buffers of the
  // backend; 32 MiB is eight times the cap. A server that did not stop reading would take the
  // 48 MB of sets above (and, with copies, the 30 MB of answers).
  const int64_t rss_kib = VmRssKib(server->pid());
  std::printf("server VmRSS: %lld KiB before, %lld KiB while throttled\n",
              static_cast<long long>(base_kib), static_cast<long long>(rss_kib));
  EXPECT_LT(rss_kib, base_kib + 32 * 1024);

  // The slow client now reads: every answer, complete and in order, while the rest of its
  // stream goes out.
  std::thread sender([&] {
    while (sent < stream.size()) {
      const ssize_t n = send(slow.fd(), stream.data() + sent, stream.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return;
      sent += static_cast<size_t>(n);
    }
  });
  const std::string got = slow.Read(want.size());
  sender.join();
  EXPECT_EQ(sent, stream.size());
  EXPECT_TRUE(got == want) << FirstDifference(got, want);
  EXPECT_EQ(slow.Call("mn\r\n"), "MN\r\n");
  EXPECT_EQ(slow.Call("mg pad s\r\n"), "HD s" + std::to_string(kValueSize) + "\r\n");
}

// ---- 6. Oversized values and lines.

TEST_P(ServerLimitsTest, OversizedValuesAndLines) {
  auto server = Start({"--max_item_size=64k"});
  ASSERT_GT(server->port(), 0);
  {
    Client c(server->port());
    EXPECT_EQ(c.Call("set k 0 0 3\r\nold\r\n"), "STORED\r\n");
    const std::string huge(64 * 1024 + 1, 'h');
    EXPECT_EQ(c.Call("set k 0 0 " + std::to_string(huge.size()) + "\r\n" + huge + "\r\n"),
              "SERVER_ERROR object too large for cache\r\n");
    // Its bytes were swallowed, the old value dropped (as memcached does), and the connection
    // goes on.
    EXPECT_EQ(c.Call("get k\r\n", "END\r\n"), "END\r\n");
    EXPECT_EQ(
        c.Call("ms k " + std::to_string(huge.size()) + "\r\n" + huge + "\r\nmn\r\n", "MN\r\n"),
        "SERVER_ERROR object too large for cache\r\nMN\r\n");
    const std::string fits(60'000, 'f');
    EXPECT_EQ(c.Call("set k 0 0 " + std::to_string(fits.size()) + "\r\n" + fits + "\r\n"),
              "STORED\r\n");
    const std::string want = "VALUE k 0 60000\r\n" + fits + "\r\nEND\r\n";
    ASSERT_TRUE(c.Send("get k\r\n"));
    EXPECT_EQ(c.Read(want.size()), want);
  }
  {
    // README: a line over 2048 bytes closes the connection, newline or not, without an answer.
    Client c(server->port());
    EXPECT_EQ(c.Call("mn\r\n"), "MN\r\n");
    EXPECT_TRUE(c.Send(std::string(3000, 'x') + "\r\nmn\r\n"));
    EXPECT_EQ(ReadToEnd(c), "");
    EXPECT_TRUE(PeerClosed(c));
  }
  {
    Client c(server->port());
    EXPECT_TRUE(c.Send("set " + std::string(2990, 'k') + " 0 0 1\r\nv\r\n"));
    EXPECT_EQ(ReadToEnd(c), "");
    EXPECT_TRUE(PeerClosed(c));
  }
  {
    // A multi-get line of nearly 1 MiB (its limit), its keys spread over the shards.
    Client c(server->port());
    std::string line = "get", want;
    int keys = 0;
    while (line.size() < (1 << 20) - 64) {
      const std::string key = "mk:" + std::to_string(keys);
      if (keys % 997 == 0) {
        EXPECT_EQ(
            c.Call("set " + key + " 3 0 " + std::to_string(key.size()) + "\r\n" + key + "\r\n"),
            "STORED\r\n");
        want += "VALUE " + key + " 3 " + std::to_string(key.size()) + "\r\n" + key + "\r\n";
      }
      line += " " + key;
      ++keys;
    }
    want += "END\r\n";
    ASSERT_TRUE(c.Send(line + "\r\n"));
    EXPECT_EQ(c.Read(want.size()), want) << keys << " keys, a line of " << line.size() << " bytes";
    EXPECT_EQ(c.Call("mn\r\n"), "MN\r\n");
    // Past 1 MiB, even a get line closes.
    ASSERT_TRUE(c.Send(line + std::string(100, 'z') + " z\r\n"));
    EXPECT_EQ(ReadToEnd(c), "");
    EXPECT_TRUE(PeerClosed(c));
  }
  Client after(server->port());
  EXPECT_EQ(after.Call("mn\r\n"), "MN\r\n");
}

// ---- 7. Garbage.

// Random bytes, and random soup of protocol words, numbers and line ends: the second reaches
// deeper into the parsers than bytes alone.
std::string Garbage(std::mt19937_64& rng, size_t size, bool soup) {
  static const char* const kWords[] = {"get",       "gets",       "gat",
                                       "gats",      "set",        "add",
                                       "replace",   "append",     "prepend",
                                       "cas",       "incr",       "decr",
                                       "touch",     "delete",     "mg",
                                       "ms",        "md",         "ma",
                                       "me",        "mn",         "k",
                                       "v",         "q",          "O123",
                                       "T-1",       "N5",         "MA",
                                       "MI",        "b",          "c",
                                       "s",         "t",          "noreply",
                                       "0",         "1",          "100",
                                       "-1",        "4294967296", "18446744073709551616",
                                       "key:1",     "key:2",      "Zm9v",
                                       "C1",        "D5",         "J9",
                                       "F3",        "stats",      "version",
                                       "verbosity", "mn",         "E9",
                                       "I"};
  std::string out;
  out.reserve(size);
  while (out.size() < size) {
    if (!soup) {
      out.push_back(static_cast<char>(rng()));
      continue;
    }
    switch (rng() % 8) {
      case 0:
        out += "\r\n";
        break;
      case 1:
        out += ' ';
        break;
      case 2:
        out.push_back(static_cast<char>(rng()));
        break;
      case 3:
        out += std::to_string(rng() % 5000);
        break;
      default:
        out += kWords[rng() % (sizeof kWords / sizeof kWords[0])];
        out += ' ';
    }
  }
  return out;
}

TEST_P(ServerLimitsTest, GarbageNeverCrashesTheServer) {
  auto server = Start({"--max_item_size=64k"});
  ASSERT_GT(server->port(), 0);
  uint64_t seed = std::random_device()();
  if (const char* env = std::getenv("SPILLWAY_GARBAGE_SEED"))
    seed = std::strtoull(env, nullptr, 10);
  std::printf("garbage seed: %llu (rerun with SPILLWAY_GARBAGE_SEED=%llu)\n",
              static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seed));
  RecordProperty("garbage_seed", std::to_string(seed));
  constexpr int kConnections = 8;
  std::atomic<size_t> sent_total{0};
  std::atomic<int> hung_up{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kConnections; ++i) {
    threads.emplace_back([&, i] {
      std::mt19937_64 rng(seed + static_cast<uint64_t>(i));
      Client c(server->port());
      if (!c.ok()) return;
      const std::string junk = Garbage(rng, 256 * 1024, /*soup=*/i % 2 == 1);
      char buf[65536];
      for (size_t at = 0; at < junk.size();) {
        const size_t n = std::min<size_t>(junk.size() - at, 1 + rng() % 4096);
        if (!c.Send(std::string_view(junk).substr(at, n))) {
          // The server closed this one (a line too long, an HTTP-looking line); it may also
          // close after the last chunk went out, unnoticed here.
          ++hung_up;
          break;
        }
        at += n;
        sent_total += n;
        while (recv(c.fd(), buf, sizeof buf, MSG_DONTWAIT) > 0) {
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  std::printf("garbage: %zu bytes over %d connections, %d seen hung up while sending\n",
              sent_total.load(), kConnections, hung_up.load());
  ASSERT_TRUE(Running(server->pid())) << "the server died; seed " << seed;
  Client fresh(server->port());
  EXPECT_EQ(fresh.Call("mn\r\n"), "MN\r\n") << "seed " << seed;
  EXPECT_EQ(fresh.Call("set after 0 0 2\r\nok\r\nget after\r\n", "END\r\n"),
            "STORED\r\nVALUE after 0 2\r\nok\r\nEND\r\n");
  EXPECT_TRUE(Running(server->pid()));
}

INSTANTIATE_TEST_SUITE_P(Backends, ServerLimitsTest,
                         ::testing::Values(Setup{"epoll", 1}, Setup{"epoll", 2}, Setup{"uring", 1},
                                           Setup{"uring", 2}),
                         Name);

// ---- Tests where keys do not matter: each backend once, with two shards (so that the
// connections land on both).

class ServerLimitsLifecycleTest : public ServerLimitsTest {};

// ---- 5. Idle connections.

// Milliseconds until the wall clock next shows `fraction` (0..1) of a second: the idle check
// runs on whole seconds, so the busy client's requests are placed just before and well after
// second boundaries.
int MillisUntilFraction(double fraction) {
  const auto now = std::chrono::system_clock::now().time_since_epoch();
  const int64_t ms = std::chrono::duration_cast<std::chrono::milliseconds>(now).count() % 1000;
  const int64_t target = static_cast<int64_t>(fraction * 1000);
  return static_cast<int>(target > ms ? target - ms : target + 1000 - ms);
}

// FAILS on both backends (server bug, left failing on purpose): Shard::OnTick closes a
// connection when now_ - last_active() >= idle, both whole seconds, so with --idle_timeout=1 a
// connection last active at N.98 s is closed by the check at N+1.0x s after 0.1 s of silence
// (memcached closes only when the difference is greater than the timeout).
TEST_P(ServerLimitsLifecycleTest, IdleConnectionIsClosedBusyOneIsNot) {
  auto server = Start({"--idle_timeout=1"});
  ASSERT_GT(server->port(), 0);
  Client idle(server->port()), busy(server->port());
  ASSERT_EQ(idle.Call("mn\r\n"), "MN\r\n");
  const auto idle_since = Clock::now();
  ASSERT_EQ(busy.Call("mn\r\n"), "MN\r\n");
  // The busy client sends at .90 and .98 of every second: it is never idle for more than 0.92 s,
  // and its request before a second boundary is always less than a second old when the check
  // of the next second runs. It goes on for three whole seconds (three idle checks).
  const auto start = Clock::now();
  int64_t idle_closed_after_ms = -1;
  int requests = 0;
  bool at_98 = false;
  while (MillisSince(start) < 3200 || idle_closed_after_ms < 0) {
    ASSERT_LT(MillisSince(start), 8000) << "the idle connection was never closed";
    const int wait = MillisUntilFraction(at_98 ? 0.98 : 0.90);
    at_98 = !at_98;
    // The wait is a read on the idle connection (or, once closed, on the busy one).
    pollfd p{idle_closed_after_ms < 0 ? idle.fd() : busy.fd(), POLLIN, 0};
    if (poll(&p, 1, wait) == 1 && idle_closed_after_ms < 0) {
      ASSERT_TRUE(PeerClosed(idle)) << "the idle connection received data";
      idle_closed_after_ms = MillisSince(idle_since);
      continue;
    }
    ASSERT_EQ(busy.Call("mn\r\n"), "MN\r\n")
        << "the busy connection was closed after " << requests << " requests, "
        << MillisSince(start) << " ms; its requests were never more than 0.92 s apart";
    ++requests;
  }
  std::printf("idle connection closed after %lld ms; busy one made %d requests\n",
              static_cast<long long>(idle_closed_after_ms), requests);
  // --idle_timeout=1: idle for less than a second is not idle enough (memcached closes after
  // more than the timeout).
  EXPECT_GE(idle_closed_after_ms, 1000);
  EXPECT_LE(idle_closed_after_ms, 3500);
  EXPECT_EQ(busy.Call("mn\r\n"), "MN\r\n");
}

// ---- 8. Shutdown.

TEST_P(ServerLimitsLifecycleTest, ShutdownCommandExitsWithStatusZero) {
  auto server = Start({"--enable_shutdown"});
  ASSERT_GT(server->port(), 0);
  Client watcher(server->port());
  ASSERT_EQ(watcher.Call("mn\r\n"), "MN\r\n");
  Client c(server->port());
  ASSERT_TRUE(c.Send("shutdown\r\n"));
  EXPECT_EQ(ReadToEnd(c), "");
  int code = -1;
  ASSERT_TRUE(WaitForExit(server->pid(), 10'000, &code)) << "still running 10 s after shutdown";
  EXPECT_EQ(code, 0);
  EXPECT_TRUE(PeerClosed(watcher));
  EXPECT_EQ(server->Stop(), 0);
}

TEST_P(ServerLimitsLifecycleTest, SigtermWithALargePipelineInFlightExitsZero) {
  auto server = Start();
  ASSERT_GT(server->port(), 0);
  const std::string value(100'000, 'v');
  Client setup(server->port());
  ASSERT_EQ(setup.Call("set big 0 0 100000\r\n" + value + "\r\n"), "STORED\r\n");
  // Two clients each pipeline 300 gets (30 MB of answers) without reading: `reader` reads its
  // answers once SIGTERM is sent, `stuck` never does and also leaves a set cut in the middle
  // of its value.
  std::string pipeline, want;
  for (int i = 0; i < 300; ++i) {
    pipeline += "get big\r\n";
    want += "VALUE big 0 100000\r\n" + value + "\r\nEND\r\n";
  }
  Client reader(server->port()), stuck(server->port());
  ASSERT_TRUE(reader.Send(pipeline));
  ASSERT_TRUE(stuck.Send(pipeline + "set half 0 0 100000\r\n" + value.substr(0, 50'000)));
  // Both pipelines are being answered: the first bytes of each have come back.
  ASSERT_EQ(reader.Read(20), want.substr(0, 20));
  ASSERT_EQ(stuck.Read(20), want.substr(0, 20));
  const auto start = Clock::now();
  ASSERT_EQ(kill(server->pid(), SIGTERM), 0);
  // Graceful: what was asked before the signal is still answered, in full; then the server
  // hangs up.
  const std::string got = reader.Read(want.size() - 20);
  EXPECT_TRUE(got == want.substr(20)) << FirstDifference(got, want.substr(20));
  EXPECT_EQ(ReadToEnd(reader), "");
  int code = -1;
  ASSERT_TRUE(WaitForExit(server->pid(), 10'000, &code)) << "still running 10 s after SIGTERM";
  EXPECT_EQ(code, 0);
  std::printf("exited %lld ms after SIGTERM (a client that never reads holds the drain)\n",
              static_cast<long long>(MillisSince(start)));
  EXPECT_EQ(server->Stop(), 0);
}

INSTANTIATE_TEST_SUITE_P(Backends, ServerLimitsLifecycleTest,
                         ::testing::Values(Setup{"epoll", 2}, Setup{"uring", 2}), Name);

}  // namespace
}  // namespace spillway::testing
