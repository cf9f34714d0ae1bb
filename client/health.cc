#include "client/health.h"

namespace spillway::client {

Health::Health(std::vector<ServerAddress> servers, const Options& options)
    : servers_(std::move(servers)), options_(options), states_(servers_.size()) {
  ring_ = std::make_unique<KetamaRing>(servers_);
}

void Health::Rebuild() {
  auto live = std::make_unique<bool[]>(servers_.size());
  for (size_t i = 0; i < servers_.size(); ++i) live[i] = !states_[i].down;
  ring_ =
      std::make_unique<KetamaRing>(servers_, std::span<const bool>(live.get(), servers_.size()));
}

void Health::Refresh() {
  if (down_count_ == 0) return;
  Clock::time_point now = Now();
  bool changed = false;
  for (State& state : states_) {
    if (!state.down || now < state.until) continue;
    state.down = false;
    state.failures = options_.failure_limit - 1;  // probation
    --down_count_;
    changed = true;
  }
  if (changed && options_.auto_eject) Rebuild();
}

Status Health::Route(uint32_t hash, size_t* index) {
  std::lock_guard lock(mu_);
  Refresh();
  uint32_t server = ring_->ServerForHash(hash);
  if (server == KetamaRing::kNoServer) {
    return Status(StatusCode::kNoServers, "every server is down (ejected until its retry)");
  }
  if (states_[server].down) {
    return Status(StatusCode::kServerDown, servers_[server].ToString() + ": down after " +
                                               std::to_string(options_.failure_limit) +
                                               " failures in a row; retried after its interval");
  }
  *index = server;
  return Status::Ok();
}

uint32_t Health::ServerFor(uint32_t hash) {
  std::lock_guard lock(mu_);
  Refresh();
  return ring_->ServerForHash(hash);
}

bool Health::IsDown(size_t index) {
  std::lock_guard lock(mu_);
  Refresh();
  return index < states_.size() && states_[index].down;
}

void Health::Failed(size_t index) {
  std::lock_guard lock(mu_);
  any_failures_.store(true, std::memory_order_relaxed);
  State& state = states_[index];
  if (state.down) return;  // a request that was already in flight when it went down
  if (++state.failures < options_.failure_limit) return;
  state.down = true;
  state.until = Now() + options_.retry_interval;
  ++down_count_;
  if (options_.auto_eject) Rebuild();
}

void Health::Succeeded(size_t index) {
  if (!any_failures_.load(std::memory_order_relaxed)) return;
  std::lock_guard lock(mu_);
  states_[index].failures = 0;
}

}  // namespace spillway::client
