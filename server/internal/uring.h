// What the io_uring backend shares with its helper file, its tests and benchmarks: the kernel
// probe, and zero-copy counters. Not part of the loop contract (event_loop.h).

#ifndef SPILLWAY_SERVER_INTERNAL_URING_H_
#define SPILLWAY_SERVER_INTERNAL_URING_H_

#include <liburing.h>

#include <cstdint>
#include <string>

#include "server/event_loop.h"

namespace spillway::server::internal {

// liburing 2.3's headers predate these (Linux 6.2); the values are the kernel's ABI.
inline constexpr unsigned kSendZcReportUsage = 1u << 3;    // IORING_SEND_ZC_REPORT_USAGE
inline constexpr uint32_t kNotifUsageZcCopied = 1u << 31;  // IORING_NOTIF_USAGE_ZC_COPIED

// The optional features the loop uses when the kernel has them.
struct UringFeatures {
  bool sendmsg_zc = false;       // IORING_OP_SENDMSG_ZC (Linux 6.1)
  bool zc_report_usage = false;  // the notification says whether the kernel copied (6.2)
};

// Empty when `ring` has every opcode the loop requires, else why not ("missing opcode X").
// Fills *features with the optional ones. The ring may still be disabled (R_DISABLED): the
// checks that must submit something use a throwaway ring of their own.
std::string ProbeUring(io_uring* ring, UringFeatures* features);

// Zero-copy sends of one io_uring loop since it was made.
struct ZeroCopyCounters {
  bool available = false;       // SetZeroCopyThreshold has an effect
  bool usage_reported = false;  // `copied` is meaningful (Linux 6.2+); else it stays 0
  uint64_t sends = 0;           // Sends submitted as SENDMSG_ZC
  uint64_t notifications = 0;   // notification CQEs received (the kernel let go of the pages)
  uint64_t copied = 0;          // ... of which said the kernel copied the bytes after all
};

// All zeros for a loop that is not io_uring. Loop thread only (or after Run returned).
ZeroCopyCounters GetZeroCopyCounters(const EventLoop& loop);

}  // namespace spillway::server::internal

#endif  // SPILLWAY_SERVER_INTERNAL_URING_H_
