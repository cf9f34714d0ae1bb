// tests/data/memcached_oracle.tsv, recorded from memcached 1.6.18 by
// tools/capture-memcached-oracle: one case per row (name, input, output, whether memcached closed
// the connection), bytes escaped as Python's unicode_escape does (\r \n \t \\ \xNN). Shared by
// every test that holds spillway to it (parser, executor, the real server), with the CAS
// masking they compare answers under.

#ifndef SPILLWAY_TESTS_SUPPORT_ORACLE_H_
#define SPILLWAY_TESTS_SUPPORT_ORACLE_H_

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

namespace spillway::testing {

struct OracleCase {
  std::string name;
  std::string input;
  std::string output;
  bool closed = false;
};

inline int OracleHexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

inline std::string OracleUnescape(const std::string& s) {
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
    } else if (c == 'x' && i + 2 < s.size() && OracleHexDigit(s[i + 1]) >= 0 &&
               OracleHexDigit(s[i + 2]) >= 0) {
      out.push_back(static_cast<char>(OracleHexDigit(s[i + 1]) * 16 + OracleHexDigit(s[i + 2])));
      i += 2;
    } else {
      out.push_back(c);
    }
  }
  return out;
}

// Every case of the file at `path` (empty when it cannot be read).
inline std::vector<OracleCase> LoadOracle(const std::string& path) {
  std::ifstream in(path);
  std::vector<OracleCase> cases;
  bool header = true;  // the first non-comment row names the columns
  for (std::string line; std::getline(in, line);) {
    if (line.empty() || line[0] == '#') continue;
    if (header) {
      header = false;
      continue;
    }
    // An empty output is an empty field between two tabs, which getline keeps.
    std::vector<std::string> f;
    std::stringstream row(line);
    for (std::string field; std::getline(row, field, '\t');) f.push_back(field);
    if (f.size() == 4) {
      cases.push_back({f[0], OracleUnescape(f[1]), OracleUnescape(f[2]), f[3] == "1"});
    }
  }
  return cases;
}

// ---- Comparing answers with memcached's: CAS values differ by design (memcached's is a
// counter, spillway's derives from log positions), so only their places are compared.

// Lines of a byte string, each with its "\r\n" (a value with a "\r\n" inside splits alike on
// both sides, which is all the comparison needs).
inline std::vector<std::string> Lines(const std::string& s) {
  std::vector<std::string> lines;
  size_t start = 0;
  for (size_t at; (at = s.find("\r\n", start)) != std::string::npos; start = at + 2) {
    lines.push_back(s.substr(start, at + 2 - start));
  }
  if (start < s.size()) lines.push_back(s.substr(start));
  return lines;
}

inline bool IsDigits(std::string_view s) {
  return !s.empty() && s.find_first_not_of("0123456789") == std::string_view::npos;
}

inline std::vector<std::string> Split(const std::string& s, char by) {
  std::vector<std::string> tokens;
  std::stringstream in(s);
  for (std::string t; std::getline(in, t, by);) tokens.push_back(t);
  return tokens;
}

// Replaces every CAS field of a response line by "*" and collects the values it replaced:
// VALUE's fifth token, a meta status line's c<n> flag, me's cas=<n>. The version string is
// masked too: spillway's leads with memcached's but goes on (README, "Protocol notes").
inline std::string MaskCas(const std::string& line, std::vector<uint64_t>* seen) {
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

inline std::string MaskAll(const std::string& s) {
  std::vector<uint64_t> ignored;
  std::string out;
  for (const std::string& line : Lines(s)) out += MaskCas(line, &ignored);
  return out;
}

}  // namespace spillway::testing

#endif  // SPILLWAY_TESTS_SUPPORT_ORACLE_H_
