// Connection slots shared by the event-loop backends: ids, generations, lookup. Loop-thread only.

#ifndef SPILLWAY_SERVER_INTERNAL_CONN_TABLE_H_
#define SPILLWAY_SERVER_INTERNAL_CONN_TABLE_H_

#include <glog/logging.h>

#include <cstdint>
#include <deque>
#include <utility>
#include <vector>

#include "server/event_loop.h"

namespace spillway::server::internal {

// A ConnId is generation << kSlotBits | slot: 56 bits, so that an io_uring user_data can carry
// an operation kind in its top byte. Generation 0 is never handed out, so a loop may use ids
// with generation 0 to name its own things (wake-up, tick, listeners).
inline constexpr int kSlotBits = 24;
inline constexpr uint64_t kSlotMask = (uint64_t{1} << kSlotBits) - 1;
inline constexpr uint64_t kIdBits = kSlotBits + 32;
inline constexpr uint64_t kIdMask = (uint64_t{1} << kIdBits) - 1;

// Conn is the backend's per-connection state; it must be default-constructible and is reset to
// Conn{} when its id dies. Pointers returned stay valid until Remove (a deque never moves).
template <typename Conn>
class ConnTable {
 public:
  std::pair<ConnId, Conn*> Add() {
    uint32_t index;
    if (!free_.empty()) {
      index = free_.back();
      free_.pop_back();
    } else {
      CHECK_LT(slots_.size(), kSlotMask) << "connection table full";
      index = static_cast<uint32_t>(slots_.size());
      slots_.emplace_back();
    }
    Slot& slot = slots_[index];
    slot.used = true;
    return {static_cast<ConnId>(uint64_t{slot.generation} << kSlotBits | index), &slot.conn};
  }

  // Null when the id is dead (closed, or never handed out).
  Conn* Find(ConnId id) {
    const uint64_t index = id & kSlotMask;
    if (index >= slots_.size()) return nullptr;
    Slot& slot = slots_[index];
    if (!slot.used || slot.generation != (id >> kSlotBits)) return nullptr;
    return &slot.conn;
  }

  // The id dies; its slot comes back later under a new generation.
  void Remove(ConnId id) {
    const uint32_t index = static_cast<uint32_t>(id & kSlotMask);
    Slot& slot = slots_[index];
    DCHECK(slot.used && slot.generation == (id >> kSlotBits));
    slot.used = false;
    slot.conn = Conn{};
    if (++slot.generation == 0) slot.generation = 1;
    free_.push_back(index);
  }

  // Calls f(id, conn) for every live connection (teardown).
  template <typename F>
  void ForEach(F f) {
    for (size_t i = 0; i < slots_.size(); ++i) {
      if (slots_[i].used)
        f(static_cast<ConnId>(uint64_t{slots_[i].generation} << kSlotBits | i), slots_[i].conn);
    }
  }

 private:
  struct Slot {
    uint32_t generation = 1;
    bool used = false;
    Conn conn;
  };
  std::deque<Slot> slots_;
  std::vector<uint32_t> free_;
};

}  // namespace spillway::server::internal

#endif  // SPILLWAY_SERVER_INTERNAL_CONN_TABLE_H_
