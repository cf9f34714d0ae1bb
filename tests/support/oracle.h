// tests/data/memcached_oracle.tsv, recorded from memcached 1.6.18 by
// tools/capture-memcached-oracle: one case per row (name, input, output, whether memcached closed
// the connection), bytes escaped as Python's unicode_escape does (\r \n \t \\ \xNN). Shared by
// every test that holds spillway to it (parser, executor, the real server).

#ifndef SPILLWAY_TESTS_SUPPORT_ORACLE_H_
#define SPILLWAY_TESTS_SUPPORT_ORACLE_H_

#include <fstream>
#include <sstream>
#include <string>
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

}  // namespace spillway::testing

#endif  // SPILLWAY_TESTS_SUPPORT_ORACLE_H_
