#include "tools/bench/report.h"

#include <cstdio>
#include <utility>
#include <vector>

namespace spillway::bench {
namespace {

const std::vector<std::pair<const char*, double>> kQuantiles = {
    {"p50", 0.5}, {"p90", 0.9}, {"p99", 0.99}, {"p99.9", 0.999}, {"p99.99", 0.9999}};

std::string Format(const char* format, auto... args) {
  char buffer[256];
  std::snprintf(buffer, sizeof buffer, format, args...);
  return buffer;
}

double Us(uint64_t ns) { return static_cast<double>(ns) / 1000.0; }

double PerSec(const RunResult& r, uint64_t count) {
  return r.elapsed_s > 0 ? static_cast<double>(count) / r.elapsed_s : 0;
}

// Of the keys asked for: with --mget, a get asks for several.
double HitRatio(const Stats& s) {
  return s.keys() == 0 ? 0 : static_cast<double>(s.hits) / static_cast<double>(s.keys());
}

const char* ProtocolName(Protocol p) { return p == Protocol::kText ? "text" : "meta"; }
const char* ValidateName(Validate v) { return v == Validate::kFull ? "full" : "none"; }

std::string JsonErrors(const Stats& s) {
  std::string out = "{";
  for (const auto& [kind, count] : s.errors) {
    if (out.size() > 1) out += ", ";
    out += "\"" + kind + "\": " + std::to_string(count);
  }
  return out + "}";
}

// With several servers, one line each: what went to it, so that the spread shows.
std::string TextServers(const BenchOptions& o, const Stats& s) {
  uint64_t total = 0;
  for (const Stats::ServerLoad& load : s.servers) total += load.requests;
  std::string out;
  for (size_t i = 0; i < s.servers.size() && i < o.servers.size(); ++i) {
    const Stats::ServerLoad& load = s.servers[i];
    out += "  server " + o.servers[i].ToString();
    out += Format(" weight %u: %llu requests sent (%.1f%%), %llu keys\n", o.servers[i].weight,
                  static_cast<unsigned long long>(load.requests),
                  total == 0 ? 0.0 : 100.0 * static_cast<double>(load.requests) / total,
                  static_cast<unsigned long long>(load.keys));
  }
  return out;
}

std::string JsonServers(const BenchOptions& o, const Stats& s) {
  std::string out = "[";
  for (size_t i = 0; i < s.servers.size() && i < o.servers.size(); ++i) {
    if (i > 0) out += ", ";
    // The name is appended, not formatted: a host name may be longer than Format's buffer.
    out += "{\"server\": \"" + o.servers[i].ToString() + "\"";
    out += Format(", \"weight\": %u, \"requests_sent\": %llu, \"keys_sent\": %llu}",
                  o.servers[i].weight, static_cast<unsigned long long>(s.servers[i].requests),
                  static_cast<unsigned long long>(s.servers[i].keys));
  }
  return out + "]";
}

}  // namespace

std::string FormatText(const BenchOptions& o, const RunResult& r) {
  const Stats& s = r.measured;
  std::string out;
  out += Format("spillway-bench: %d threads x %d connections", o.threads, o.connections);
  if (o.servers.size() > 1) out += Format(" x %zu servers (ketama)", o.servers.size());
  out += Format(", pipeline %d, io %s, protocol %s, mget %u, validate %s\n", o.pipeline,
                r.backend.c_str(), ProtocolName(o.protocol), o.mget, ValidateName(o.validate));
  out += Format("  %.2f s, %llu requests, %.0f ops/s, %.0f keys/s\n", r.elapsed_s,
                static_cast<unsigned long long>(s.completed()), PerSec(r, s.completed()),
                PerSec(r, s.keys()));
  out += Format("  gets %llu (keys %llu: hits %llu, misses %llu, hit ratio %.4f), sets %llu\n",
                static_cast<unsigned long long>(s.gets), static_cast<unsigned long long>(s.keys()),
                static_cast<unsigned long long>(s.hits), static_cast<unsigned long long>(s.misses),
                HitRatio(s), static_cast<unsigned long long>(s.sets));
  out += "  latency us:";
  for (const auto& [name, q] : kQuantiles) {
    out += Format(" %s %.1f", name, Us(s.latency_ns.Percentile(q)));
  }
  out += Format(" max %.1f\n", Us(s.latency_ns.max()));
  out += TextServers(o, s);
  const uint64_t errors = s.error_count() + r.prefill.error_count();
  out += Format("  errors %llu", static_cast<unsigned long long>(errors));
  for (const auto& [kind, count] : s.errors) {
    out += Format(" %s=%llu", kind.c_str(), static_cast<unsigned long long>(count));
  }
  for (const auto& [kind, count] : r.prefill.errors) {
    out += Format(" prefill.%s=%llu", kind.c_str(), static_cast<unsigned long long>(count));
  }
  return out + "\n";
}

std::string FormatJson(const BenchOptions& o, const RunResult& r) {
  const Stats& s = r.measured;
  std::string out = "{\n";
  out += Format("  \"threads\": %d, \"connections\": %d, \"pipeline\": %d, \"io\": \"%s\",\n",
                o.threads, o.connections, o.pipeline, r.backend.c_str());
  out += Format("  \"protocol\": \"%s\", \"mget\": %u, \"validate\": \"%s\", \"warmup_s\": %g,\n",
                ProtocolName(o.protocol), o.mget, ValidateName(o.validate), o.warmup_s);
  out += Format("  \"elapsed_s\": %.6f, \"requests\": %llu, \"ops_per_sec\": %.1f,", r.elapsed_s,
                static_cast<unsigned long long>(s.completed()), PerSec(r, s.completed()));
  out += Format(" \"keys_per_sec\": %.1f,\n", PerSec(r, s.keys()));
  out += Format("  \"gets\": %llu, \"sets\": %llu, \"get_keys\": %llu, \"hits\": %llu,",
                static_cast<unsigned long long>(s.gets), static_cast<unsigned long long>(s.sets),
                static_cast<unsigned long long>(s.keys()), static_cast<unsigned long long>(s.hits));
  out += Format(" \"misses\": %llu,", static_cast<unsigned long long>(s.misses));
  out += Format(" \"hit_ratio\": %.6f,\n  \"latency_us\": {", HitRatio(s));
  for (const auto& [name, q] : kQuantiles) {
    out += Format("\"%s\": %.3f, ", name, Us(s.latency_ns.Percentile(q)));
  }
  out += Format("\"max\": %.3f, \"mean\": %.3f},\n", Us(s.latency_ns.max()),
                s.latency_ns.Mean() / 1000.0);
  if (!s.servers.empty()) out += "  \"servers\": " + JsonServers(o, s) + ",\n";
  out += Format("  \"errors_total\": %llu,\n",
                static_cast<unsigned long long>(s.error_count() + r.prefill.error_count()));
  out += "  \"errors\": " + JsonErrors(s) + ",\n";
  out += "  \"prefill_errors\": " + JsonErrors(r.prefill) + "\n}\n";
  return out;
}

}  // namespace spillway::bench
