#include "client/ketama.h"

#include <algorithm>
#include <cmath>
#include <string>

#include "client/md5.h"

namespace spillway::client {
namespace {

constexpr uint32_t kPointsPerServer = 160;  // at equal weights
constexpr uint32_t kPointsPerDigest = 4;

uint32_t Word(const Md5Digest& digest, uint32_t i) {
  return uint32_t{digest[4 * i]} | uint32_t{digest[4 * i + 1]} << 8 |
         uint32_t{digest[4 * i + 2]} << 16 | uint32_t{digest[4 * i + 3]} << 24;
}

// libmemcached's expression, in its types: a float share times float factors, plus a float
// epsilon that is too small to change anything, floored. The float rounding decides whether a
// server of three equal ones gets 160 points or 156, so it must be this one.
uint32_t PointsFor(uint32_t weight, uint64_t total_weight, uint32_t live) {
  float share = static_cast<float>(weight) / static_cast<float>(total_weight);
  float digests = share * static_cast<float>(kPointsPerServer) / 4.0f * static_cast<float>(live) +
                  0.0000000001f;
  return static_cast<uint32_t>(std::floor(digests)) * kPointsPerDigest;
}

}  // namespace

KetamaRing::KetamaRing(std::span<const ServerAddress> servers, std::span<const bool> live) {
  auto is_live = [&](size_t i) { return live.empty() || (i < live.size() && live[i]); };
  uint32_t live_count = 0;
  uint64_t total_weight = 0;
  for (size_t i = 0; i < servers.size(); ++i) {
    if (!is_live(i)) continue;
    ++live_count;
    total_weight += std::max<uint32_t>(servers[i].weight, 1);
  }
  if (live_count == 0) return;
  points_.reserve(size_t{live_count} * kPointsPerServer);
  for (size_t i = 0; i < servers.size(); ++i) {
    if (!is_live(i)) continue;
    uint32_t points = PointsFor(std::max<uint32_t>(servers[i].weight, 1), total_weight, live_count);
    std::string prefix = servers[i].PointName() + "-";
    for (uint32_t d = 0; d < points / kPointsPerDigest; ++d) {
      Md5Digest digest = Md5(prefix + std::to_string(d));
      for (uint32_t j = 0; j < kPointsPerDigest; ++j) {
        points_.push_back(Point{Word(digest, j), static_cast<uint32_t>(i)});
      }
    }
  }
  // Equal values are ordered by server, as libmemcached's comparator orders them: the first of
  // them takes the keys before it.
  std::sort(points_.begin(), points_.end(), [](const Point& a, const Point& b) {
    return a.value != b.value ? a.value < b.value : a.server < b.server;
  });
}

uint32_t KetamaRing::Hash(std::string_view key) { return Word(Md5(key), 0); }

uint32_t KetamaRing::ServerForHash(uint32_t hash) const {
  if (points_.empty()) return kNoServer;
  auto it = std::lower_bound(points_.begin(), points_.end(), hash,
                             [](const Point& p, uint32_t h) { return p.value < h; });
  if (it == points_.end()) it = points_.begin();
  return it->server;
}

size_t KetamaRing::PointsOf(uint32_t index) const {
  return std::count_if(points_.begin(), points_.end(),
                       [&](const Point& p) { return p.server == index; });
}

}  // namespace spillway::client
