// Which servers are up, and the ring over them (internal to client/). Counts each server's
// failures in a row; at Options::failure_limit the server is down for retry_interval: out of the
// ring with auto_eject, failing fast otherwise. When the interval is over it comes back on
// probation (one more failure takes it down again). Thread-safe.

#ifndef SPILLWAY_CLIENT_HEALTH_H_
#define SPILLWAY_CLIENT_HEALTH_H_

#include <atomic>
#include <chrono>
#include <memory>
#include <mutex>
#include <vector>

#include "client/client.h"
#include "client/ketama.h"

namespace spillway::client {

class Health {
 public:
  Health(std::vector<ServerAddress> servers, const Options& options);

  const std::vector<ServerAddress>& servers() const { return servers_; }
  // The server for a key of this ketama hash: ok and *index, kNoServers when none is in the ring,
  // or kServerDown when the key's server is failing fast.
  Status Route(uint32_t hash, size_t* index);
  // The ring's answer (KetamaRing::kNoServer when empty), whether or not that server fails fast.
  uint32_t ServerFor(uint32_t hash);
  bool IsDown(size_t index);

  void Failed(size_t index);
  void Succeeded(size_t index);

 private:
  using Clock = std::chrono::steady_clock;
  struct State {
    uint32_t failures = 0;  // in a row
    bool down = false;
    Clock::time_point until;  // when a down server comes back
  };
  Clock::time_point Now() const { return options_.clock ? options_.clock() : Clock::now(); }
  // Brings back the servers whose interval is over. Holds mu_.
  void Refresh();
  void Rebuild();  // holds mu_

  const std::vector<ServerAddress> servers_;
  const Options options_;
  std::mutex mu_;
  std::vector<State> states_;
  std::unique_ptr<const KetamaRing> ring_;
  size_t down_count_ = 0;
  // Lets Succeeded skip the lock when nothing has failed (the common case).
  std::atomic<bool> any_failures_{false};
};

}  // namespace spillway::client

#endif  // SPILLWAY_CLIENT_HEALTH_H_
