#include "tools/bench/versions.h"

namespace spillway::bench {

VersionTable::VersionTable(uint64_t keys) : entries_(std::make_unique<Entry[]>(keys)) {}

VersionTable::Ticket VersionTable::BeginSet(uint64_t key) {
  Entry& e = entries_[key];
  // `answered` is read before the version is taken: every answer counted here is of a set that
  // took its version earlier (the acquire orders that set's fetch_add before ours), so these are
  // answers to versions below ours, and when they are as many as our version, all of them.
  const uint32_t answered = e.answered.load(std::memory_order_acquire);
  Ticket t;
  t.version = e.issued.fetch_add(1, std::memory_order_relaxed);
  t.alone = answered == t.version;
  return t;
}

void VersionTable::EndSet(uint64_t key, Ticket ticket, bool stored) {
  Entry& e = entries_[key];
  if (stored && ticket.alone) {
    uint32_t floor = e.floor.load(std::memory_order_relaxed);
    while (floor < ticket.version &&
           !e.floor.compare_exchange_weak(floor, ticket.version, std::memory_order_release,
                                          std::memory_order_relaxed)) {
    }
  }
  e.answered.fetch_add(1, std::memory_order_release);
}

}  // namespace spillway::bench
