// What the running kernel's io_uring offers, checked by really asking it (opcode probe, and one
// submission on a throwaway ring where only the kernel's answer can tell).

#include <liburing.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <string>
#include <utility>

#include "server/internal/uring.h"

namespace spillway::server::internal {
namespace {

// IORING_SEND_ZC_REPORT_USAGE has no probe bit: an unknown zero-copy flag fails the SQE's prep
// with EINVAL, before the fd is looked at, so a send on a non-socket answers ENOTSOCK exactly
// when the flag is known.
bool ProbeZcReportUsage() {
  io_uring ring;
  if (io_uring_queue_init(2, &ring, 0) < 0) return false;
  bool known = false;
  const int fd = eventfd(0, EFD_CLOEXEC);
  if (fd >= 0) {
    msghdr msg{};
    io_uring_sqe* sqe = io_uring_get_sqe(&ring);
    io_uring_prep_sendmsg_zc(sqe, fd, &msg, MSG_NOSIGNAL);
    sqe->ioprio |= kSendZcReportUsage;
    io_uring_cqe* cqe = nullptr;
    if (io_uring_submit_and_wait(&ring, 1) == 1 && io_uring_peek_cqe(&ring, &cqe) == 0) {
      known = cqe->res == -ENOTSOCK;
    }
  }
  io_uring_queue_exit(&ring);  // reaps a notification that may still follow
  if (fd >= 0) close(fd);
  return known;
}

}  // namespace

std::string ProbeUring(io_uring* ring, UringFeatures* features) {
  io_uring_probe* probe = io_uring_get_probe_ring(ring);
  if (probe == nullptr) return "io_uring probe failed";
  std::string missing;  // why the loop cannot run here
  for (auto [op, name] : {std::pair{IORING_OP_ACCEPT, "ACCEPT"},
                          {IORING_OP_RECV, "RECV"},
                          {IORING_OP_SENDMSG, "SENDMSG"},
                          {IORING_OP_READ, "READ"},
                          {IORING_OP_TIMEOUT, "TIMEOUT"},
                          {IORING_OP_TIMEOUT_REMOVE, "TIMEOUT_REMOVE"},
                          {IORING_OP_ASYNC_CANCEL, "ASYNC_CANCEL"},
                          // Multishot recv has no opcode of its own; SEND_ZC came with it
                          // (Linux 6.0) and stands for it.
                          {IORING_OP_SEND_ZC, "SEND_ZC (multishot recv, Linux 6.0)"}}) {
    if (missing.empty() && !io_uring_opcode_supported(probe, op))
      missing = "missing opcode " + std::string(name);
  }
  *features = UringFeatures{};
  features->sendmsg_zc = io_uring_opcode_supported(probe, IORING_OP_SENDMSG_ZC) != 0;
  io_uring_free_probe(probe);
  if (missing.empty() && features->sendmsg_zc) features->zc_report_usage = ProbeZcReportUsage();
  return missing;
}

}  // namespace spillway::server::internal
