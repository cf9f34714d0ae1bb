#include "tools/bench/keys.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdlib>

namespace spillway::bench {
namespace {

uint64_t Rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

}  // namespace

uint64_t Mix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

Rng::Rng(uint64_t seed) {
  for (int i = 0; i < 4; ++i)
    s_[i] = Mix64(seed + static_cast<uint64_t>(i) * 0x632be59bd9b4e019ULL);
}

uint64_t Rng::Next() {
  const uint64_t result = Rotl(s_[1] * 5, 7) * 9;
  const uint64_t t = s_[1] << 17;
  s_[2] ^= s_[0];
  s_[3] ^= s_[1];
  s_[1] ^= s_[2];
  s_[0] ^= s_[3];
  s_[2] ^= t;
  s_[3] = Rotl(s_[3], 45);
  return result;
}

uint64_t Rng::Below(uint64_t n) {
  // Lemire's multiply-shift; the bias (n / 2^64) is far below anything a benchmark can see.
  return static_cast<uint64_t>((static_cast<unsigned __int128>(Next()) * n) >> 64);
}

double Rng::Unit() { return static_cast<double>(Next() >> 11) * 0x1.0p-53; }

bool ParseKeyPattern(std::string_view text, KeyPattern* out) {
  if (text == "uniform") {
    *out = {KeyPattern::kUniform, 1.0};
    return true;
  }
  if (text == "sequential") {
    *out = {KeyPattern::kSequential, 1.0};
    return true;
  }
  if (text.substr(0, 5) == "zipf:") {
    const std::string alpha(text.substr(5));
    char* end = nullptr;
    const double value = std::strtod(alpha.c_str(), &end);
    if (alpha.empty() || *end != '\0' || !(value > 0) || !std::isfinite(value)) return false;
    *out = {KeyPattern::kZipf, value};
    return true;
  }
  return false;
}

ZipfTable::ZipfTable(uint64_t n, double alpha) : cdf_(n) {
  double sum = 0;
  for (uint64_t i = 0; i < n; ++i) {
    sum += 1.0 / std::pow(static_cast<double>(i + 1), alpha);
    cdf_[i] = sum;
  }
  for (double& c : cdf_) c /= sum;
  if (!cdf_.empty()) cdf_.back() = 1.0;
}

uint64_t ZipfTable::Rank(double u) const {
  const auto it = std::upper_bound(cdf_.begin(), cdf_.end(), u);
  return static_cast<uint64_t>(std::min(it - cdf_.begin(), std::ptrdiff_t(cdf_.size()) - 1));
}

KeyGenerator::KeyGenerator(KeyPattern pattern, uint64_t keys, std::shared_ptr<const ZipfTable> zipf,
                           uint64_t seed, uint64_t start)
    : pattern_(pattern), keys_(keys), zipf_(std::move(zipf)), rng_(seed), next_(start % keys) {}

uint64_t KeyGenerator::Next() {
  switch (pattern_.kind) {
    case KeyPattern::kUniform:
      return rng_.Below(keys_);
    case KeyPattern::kZipf:
      return zipf_->Rank(rng_.Unit());
    case KeyPattern::kSequential:
      break;
  }
  const uint64_t key = next_;
  next_ = next_ + 1 == keys_ ? 0 : next_ + 1;
  return key;
}

void AppendKey(std::string_view prefix, uint64_t index, std::string* out) {
  char digits[24];
  const auto [end, ec] = std::to_chars(digits, digits + sizeof digits, index);
  out->append(prefix);
  out->append(digits, static_cast<size_t>(end - digits));
}

bool ParseKeyIndex(std::string_view prefix, std::string_view key, uint64_t* index) {
  if (key.size() <= prefix.size() || key.substr(0, prefix.size()) != prefix) return false;
  const std::string_view digits = key.substr(prefix.size());
  if (digits.size() > 1 && digits[0] == '0') return false;
  const auto [end, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), *index);
  return ec == std::errc() && end == digits.data() + digits.size();
}

}  // namespace spillway::bench
