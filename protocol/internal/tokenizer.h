// memcached's command-line tokenizer (tokenize_command in proto_text.c), over a view.
// Internal to the protocol module.

#ifndef SPILLWAY_PROTOCOL_INTERNAL_TOKENIZER_H_
#define SPILLWAY_PROTOCOL_INTERNAL_TOKENIZER_H_

#include <array>
#include <cstddef>
#include <string_view>

namespace spillway::protocol {

// memcached's MAX_TOKENS: past 23 tokens the rest of the line stays unsplit.
inline constexpr size_t kMaxTokens = 24;

struct Tokens {
  // token[0 .. ntokens-1) are the words; token[ntokens-1] is always empty, like memcached's
  // terminal token. Unused entries are empty too, so token[i] is safe for any i < kMaxTokens.
  std::array<std::string_view, kMaxTokens> token{};
  // memcached's count: the words plus the terminal token.
  size_t ntokens = 1;
  // The unsplit remainder when the line had more than kMaxTokens - 1 words.
  std::string_view rest;

  std::string_view Last() const { return ntokens >= 2 ? token[ntokens - 2] : std::string_view(); }
  // The line from word i to its end (trailing spaces dropped); "" when there is no word i.
  std::string_view From(size_t i, std::string_view line) const {
    if (i + 1 >= ntokens) return {};
    std::string_view tail = line.substr(static_cast<size_t>(token[i].data() - line.data()));
    while (!tail.empty() && tail.back() == ' ') tail.remove_suffix(1);
    return tail;
  }
};

// Splits `line` on runs of spaces (only ' ': tabs belong to tokens, as in memcached).
inline Tokens Tokenize(std::string_view line) {
  Tokens t;
  size_t words = 0;
  size_t i = 0;
  while (i < line.size()) {
    if (line[i] == ' ') {
      ++i;
      continue;
    }
    if (words == kMaxTokens - 1) {
      t.rest = line.substr(i);
      break;
    }
    const size_t start = i;
    while (i < line.size() && line[i] != ' ') ++i;
    t.token[words++] = line.substr(start, i - start);
  }
  t.ntokens = words + 1;
  return t;
}

}  // namespace spillway::protocol

#endif  // SPILLWAY_PROTOCOL_INTERNAL_TOKENIZER_H_
