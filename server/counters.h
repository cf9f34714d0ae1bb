// Per-shard operation counters, named as memcached's stats fields. Each shard's thread owns its
// copy; `stats` sums them across shards. One list (SPILLWAY_COUNTERS) declares, sums and prints
// them all.

#ifndef SPILLWAY_SERVER_COUNTERS_H_
#define SPILLWAY_SERVER_COUNTERS_H_

#include <cstdint>

namespace spillway::server {

#define SPILLWAY_COUNTERS(X)                              \
  X(cmd_get) /* keys looked up by get/gets/gat/gats/mg */ \
  X(cmd_set) /* storage commands and ms */                \
  X(cmd_flush)                                            \
  X(cmd_touch)                                            \
  X(cmd_meta)                                             \
  X(get_hits)                                             \
  X(get_misses)                                           \
  X(get_expired)                                          \
  X(get_flushed)                                          \
  X(delete_misses)                                        \
  X(delete_hits)                                          \
  X(incr_misses)                                          \
  X(incr_hits)                                            \
  X(decr_misses)                                          \
  X(decr_hits)                                            \
  X(cas_misses)                                           \
  X(cas_hits)                                             \
  X(cas_badval)                                           \
  X(touch_hits)                                           \
  X(touch_misses)                                         \
  X(store_too_large)                                      \
  X(store_no_memory)                                      \
  X(total_items)   /* items stored */                     \
  X(bytes_read)    /* from clients */                     \
  X(bytes_written) /* to clients */

struct Counters {
#define SPILLWAY_COUNTER_FIELD(name) uint64_t name = 0;
  SPILLWAY_COUNTERS(SPILLWAY_COUNTER_FIELD)
#undef SPILLWAY_COUNTER_FIELD

  Counters& operator+=(const Counters& o) {
#define SPILLWAY_COUNTER_ADD(name) name += o.name;
    SPILLWAY_COUNTERS(SPILLWAY_COUNTER_ADD)
#undef SPILLWAY_COUNTER_ADD
    return *this;
  }
};

}  // namespace spillway::server

#endif  // SPILLWAY_SERVER_COUNTERS_H_
