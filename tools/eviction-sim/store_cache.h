// The real storage::Store behind the simulators' Cache interface, so that the shipped segment
// store is measured on the same traces as the object-level policies (docs/eviction.md).

#ifndef SPILLWAY_TOOLS_EVICTION_SIM_STORE_CACHE_H_
#define SPILLWAY_TOOLS_EVICTION_SIM_STORE_CACHE_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "storage/store.h"
#include "tools/eviction-sim/policies.h"

namespace spillway::eviction_sim {

class StoreCache final : public Cache {
 public:
  // A store whose byte budget holds about `objects` items of `value_size` bytes, found by
  // filling trial stores with distinct keys (the footprint per item includes the index). The
  // segment size is chosen so that the budget holds at least 64 segments: S3-FIFO's small queue
  // then has room for several.
  StoreCache(size_t objects, size_t value_size);
  ~StoreCache() override;
  bool Access(uint64_t key) override;
  size_t size() const override;
  size_t capacity() const override { return objects_; }
  std::string_view name() const override { return "segment store"; }
  size_t segment_size() const;

 private:
  static storage::Options OptionsFor(size_t limit);
  std::string KeyText(uint64_t key) const;

  size_t objects_;
  std::string value_;
  std::unique_ptr<storage::Store> store_;
};

}  // namespace spillway::eviction_sim

#endif  // SPILLWAY_TOOLS_EVICTION_SIM_STORE_CACHE_H_
