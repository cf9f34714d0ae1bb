// The io_uring backend: a proactor. Multishot accept per listener, one multishot recv per
// connection drawing from a provided buffer ring, sendmsg for Send (sendmsg_zc from the
// zero-copy threshold up), an eventfd read for Wake, a re-armed timeout for the tick; everything
// is submitted with one io_uring_enter per turn.
//
// user_data is kind << 56 | payload, the payload a ConnId (56 bits, conn_table.h), a listener
// index or a tick generation: never an fd, so a reused fd cannot catch a stale completion.
// A connection's slot lives until no CQE can still name it (inflight == 0 after Close).

#include <glog/logging.h>
#include <liburing.h>
#include <sys/eventfd.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "server/event_loop.h"
#include "server/internal/conn_table.h"
#include "server/internal/uring.h"

namespace spillway::server {
namespace {

using internal::ConnTable;

enum Op : uint64_t { kAccept = 1, kRecv, kSend, kSendZc, kCancel, kWake, kTick, kIgnore };
uint64_t Tag(Op op, uint64_t payload) { return uint64_t{op} << 56 | (payload & internal::kIdMask); }

constexpr unsigned kSqEntries = 256;
constexpr unsigned kCqEntries = 4096;  // generous: multishot ops post many CQEs per SQE
constexpr unsigned kBufCount = 256;    // a power of two
constexpr unsigned kBufSize = 16 * 1024;
constexpr int kBufGroup = 0;
constexpr unsigned kReapBatch = 256;

std::string ErrnoName(int error) {
  const char* name = strerrorname_np(error);
  return std::string(name ? name : std::to_string(error)) + " (" + strerror(error) + ")";
}

struct Conn {
  int fd = -1;
  int inflight = 0;      // SQEs naming this connection whose last CQE has not come
  bool closing = false;  // Close() was called; only OnClosed may follow
  bool paused = false;
  bool recv_armed = false;
  bool recv_cancelling = false;
  bool rx_ended = false;  // the recv stream saw EOF or an error (rx_error)
  bool hung_up = false;   // OnHangup delivered
  int rx_error = 0;
  // Bytes that completed while paused (the cancel races with the multishot recv); delivered,
  // ahead of anything newer, by the deferred resume.
  std::string held;
  msghdr msg{};
  // A zero-copy send posts its result, then (IORING_CQE_F_MORE) a notification once the kernel
  // no longer reads the caller's memory; OnSent, which frees that memory, waits for both.
  bool zc_in_flight = false;
  bool zc_result_in = false;
  bool zc_notified = false;
  int zc_result = 0;
};

class UringLoop final : public EventLoop {
 public:
  explicit UringLoop(LoopHandler* handler) : handler_(handler) {}

  ~UringLoop() override {
    conns_.ForEach([](ConnId, Conn& c) {
      if (c.fd >= 0) close(c.fd);
    });
    for (int fd : listen_fds_) {
      if (fd >= 0) close(fd);
    }
    // Closing the ring cancels what is still in flight. Run() has returned on the issuer thread,
    // so no completion can still copy into the buffers unmapped below.
    if (ring_ok_) io_uring_queue_exit(&ring_);
    if (buf_ring_ != nullptr) munmap(buf_ring_, kBufCount * sizeof(io_uring_buf));
    if (buffers_ != nullptr) munmap(buffers_, size_t{kBufCount} * kBufSize);
    if (wake_fd_ >= 0) close(wake_fd_);
  }

  // Empty on success, else why io_uring cannot be used here.
  std::string Init() {
    // SINGLE_ISSUER binds the ring to the thread that enables it: start disabled and enable in
    // Run(), since the loop is built on one thread and runs on another.
    io_uring_params p{};
    int r = -EINVAL;
    for (unsigned mode :
         {IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN | IORING_SETUP_R_DISABLED,
          IORING_SETUP_COOP_TASKRUN, 0u}) {
      p = io_uring_params{};
      p.flags = mode | IORING_SETUP_CQSIZE;
      p.cq_entries = kCqEntries;
      r = io_uring_queue_init_params(kSqEntries, &ring_, &p);
      if (r != -EINVAL) break;
    }
    if (r < 0) {
      std::string why = "io_uring_setup: " + ErrnoName(-r);
      std::ifstream disabled("/proc/sys/kernel/io_uring_disabled");
      int value = 0;
      if (disabled >> value && value != 0) why += ", io_uring_disabled=" + std::to_string(value);
      return why;
    }
    ring_ok_ = true;
    needs_enable_ = (p.flags & IORING_SETUP_R_DISABLED) != 0;

    internal::UringFeatures features;
    if (std::string why = internal::ProbeUring(&ring_, &features); !why.empty()) return why;
    zc_counters_.available = features.sendmsg_zc;
    zc_counters_.usage_reported = features.zc_report_usage;
    zc_flags_ = features.zc_report_usage ? internal::kSendZcReportUsage : 0;

    const size_t ring_bytes = kBufCount * sizeof(io_uring_buf);
    void* ring_mem =
        mmap(nullptr, ring_bytes, PROT_READ | PROT_WRITE, MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    void* buf_mem = mmap(nullptr, size_t{kBufCount} * kBufSize, PROT_READ | PROT_WRITE,
                         MAP_ANONYMOUS | MAP_PRIVATE, -1, 0);
    if (ring_mem != MAP_FAILED) buf_ring_ = static_cast<io_uring_buf_ring*>(ring_mem);
    if (buf_mem != MAP_FAILED) buffers_ = static_cast<char*>(buf_mem);
    if (buf_ring_ == nullptr || buffers_ == nullptr) return "provided buffers: mmap failed";
    io_uring_buf_ring_init(buf_ring_);
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<uintptr_t>(buf_ring_);
    reg.ring_entries = kBufCount;
    reg.bgid = kBufGroup;
    r = io_uring_register_buf_ring(&ring_, &reg, 0);
    if (r < 0) return "provided buffer ring registration: " + ErrnoName(-r);
    for (unsigned i = 0; i < kBufCount; ++i) {
      io_uring_buf_ring_add(buf_ring_, buffers_ + size_t{i} * kBufSize, kBufSize,
                            static_cast<unsigned short>(i), io_uring_buf_ring_mask(kBufCount),
                            static_cast<int>(i));
    }
    io_uring_buf_ring_advance(buf_ring_, kBufCount);

    wake_fd_ = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wake_fd_ < 0) return "eventfd: " + ErrnoName(errno);
    ArmWake();
    return "";
  }

  std::string_view name() const override { return "io_uring"; }

  void Listen(int listen_fd) override {
    listen_fds_.push_back(listen_fd);
    ArmAccept(listen_fds_.size() - 1);
  }

  void StopListening() override {
    for (size_t i = 0; i < listen_fds_.size(); ++i) {
      if (listen_fds_[i] < 0) continue;
      // The accept in flight holds the socket until it completes: cancel it, and close our fd.
      // The socket goes when the cancelled accept's completion drops the ring's reference.
      io_uring_sqe* sqe = GetSqe();
      io_uring_prep_cancel64(sqe, Tag(kAccept, i), 0);
      io_uring_sqe_set_data64(sqe, Tag(kIgnore, 0));
      close(listen_fds_[i]);
      listen_fds_[i] = -1;
    }
  }

  ConnId Adopt(int connected_fd) override {
    auto [id, c] = conns_.Add();
    c->fd = connected_fd;
    ArmRecv(id, *c);
    return id;
  }

  void Send(ConnId id, const iovec* iov, int count) override {
    Conn* c = conns_.Find(id);
    if (c == nullptr || c->closing) return;  // a dying connection swallows what it is given
    DCHECK(count > 0 && count <= kMaxIov);
    c->msg = msghdr{};
    c->msg.msg_iov = const_cast<iovec*>(iov);
    c->msg.msg_iovlen = static_cast<size_t>(count);
    io_uring_sqe* sqe = GetSqe();
    size_t bytes = 0;
    if (zc_threshold_ != 0) {
      for (int i = 0; i < count; ++i) bytes += iov[i].iov_len;
    }
    if (zc_threshold_ != 0 && bytes >= zc_threshold_) {
      io_uring_prep_sendmsg_zc(sqe, c->fd, &c->msg, MSG_NOSIGNAL);
      sqe->ioprio |= zc_flags_;
      io_uring_sqe_set_data64(sqe, Tag(kSendZc, id));
      c->zc_in_flight = true;
      ++zc_counters_.sends;
    } else {
      io_uring_prep_sendmsg(sqe, c->fd, &c->msg, MSG_NOSIGNAL);
      io_uring_sqe_set_data64(sqe, Tag(kSend, id));
    }
    ++c->inflight;
  }

  void SetZeroCopyThreshold(size_t bytes) override {
    zc_threshold_ = zc_counters_.available ? bytes : 0;
  }

  const internal::ZeroCopyCounters& zero_copy_counters() const { return zc_counters_; }

  void PauseReceive(ConnId id) override {
    Conn* c = conns_.Find(id);
    if (c == nullptr || c->closing || c->paused) return;
    c->paused = true;
    // Cancel rather than stop re-arming: a multishot recv would keep draining the socket.
    if (c->recv_armed && !c->recv_cancelling) {
      io_uring_sqe* sqe = GetSqe();
      io_uring_prep_cancel64(sqe, Tag(kRecv, id), 0);
      io_uring_sqe_set_data64(sqe, Tag(kCancel, id));
      c->recv_cancelling = true;
      ++c->inflight;
    }
  }

  void ResumeReceive(ConnId id) override {
    Conn* c = conns_.Find(id);
    if (c == nullptr || c->closing || !c->paused) return;
    c->paused = false;
    deferred_.push_back({Deferred::kResume, id});
  }

  void Close(ConnId id) override {
    Conn* c = conns_.Find(id);
    if (c == nullptr || c->closing) return;
    c->closing = true;
    if (c->zc_in_flight) {
      // The notification comes once the kernel drops the pages, which for bytes the peer has
      // not acknowledged is when it reads them: never, for a client that stopped reading. Reset
      // instead of shutting down (connect AF_UNSPEC is TCP's abort; it purges the queues), since
      // the Send is being abandoned anyway.
      sockaddr unspec{};
      unspec.sa_family = AF_UNSPEC;
      connect(c->fd, &unspec, sizeof unspec);
    } else {
      shutdown(c->fd, SHUT_RDWR);
    }
    // The fd stays open until every op on it has completed, so cancel-by-fd cannot hit a newer
    // connection that reuses the number.
    if (c->inflight > 0) {
      io_uring_sqe* sqe = GetSqe();
      io_uring_prep_cancel_fd(sqe, c->fd, IORING_ASYNC_CANCEL_ALL);
      io_uring_sqe_set_data64(sqe, Tag(kCancel, id));
      ++c->inflight;
    }
    MaybeFinishClose(id, *c);
  }

  void SetTick(std::chrono::nanoseconds period) override {
    if (tick_period_.count() > 0) {
      io_uring_sqe* sqe = GetSqe();
      io_uring_prep_timeout_remove(sqe, Tag(kTick, tick_generation_), 0);
      io_uring_sqe_set_data64(sqe, Tag(kIgnore, 0));
    }
    ++tick_generation_;
    tick_period_ = period;
    if (period.count() > 0) ArmTick();
  }

  void Wake() override {
    wake_.store(true, std::memory_order_release);
    Poke();
  }

  void Stop() override {
    stop_.store(true, std::memory_order_release);
    Poke();
  }

  void Run() override {
    if (needs_enable_) {
      // liburing 2.3 declares io_uring_enable_rings but does not export it.
      const long r =
          syscall(__NR_io_uring_register, ring_.ring_fd, IORING_REGISTER_ENABLE_RINGS, nullptr, 0);
      PCHECK(r == 0) << "IORING_REGISTER_ENABLE_RINGS";
      needs_enable_ = false;
    }
    while (true) {
      // Deferred work pending: submit and collect without sleeping.
      const int r = deferred_.empty() ? io_uring_submit_and_wait(&ring_, 1)
                                      : io_uring_submit_and_get_events(&ring_);
      CHECK(r >= 0 || r == -EINTR || r == -EAGAIN || r == -EBUSY || r == -ETIME)
          << "io_uring_enter: " << ErrnoName(-r);
      Reap();
      RunDeferred();
      handler_->OnTurnEnd();
      if (stop_.exchange(false, std::memory_order_acq_rel)) return;
    }
  }

 private:
  struct Deferred {
    enum Kind { kResume, kClosed } kind;
    ConnId id;
  };
  struct Completion {
    uint64_t user_data;
    int res;
    unsigned flags;
  };

  io_uring_sqe* GetSqe() {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (sqe == nullptr) {  // SQ full mid-turn: push what is queued (loop thread, after Run)
      io_uring_submit(&ring_);
      sqe = io_uring_get_sqe(&ring_);
    }
    CHECK(sqe != nullptr) << "io_uring submission queue full";
    return sqe;
  }

  void Poke() {
    const uint64_t one = 1;
    [[maybe_unused]] ssize_t r = write(wake_fd_, &one, sizeof one);
  }

  void ArmAccept(size_t index) {
    io_uring_sqe* sqe = GetSqe();
    io_uring_prep_multishot_accept(sqe, listen_fds_[index], nullptr, nullptr, SOCK_CLOEXEC);
    io_uring_sqe_set_data64(sqe, Tag(kAccept, index));
  }

  void ArmWake() {
    io_uring_sqe* sqe = GetSqe();
    io_uring_prep_read(sqe, wake_fd_, &wake_value_, sizeof wake_value_, 0);
    io_uring_sqe_set_data64(sqe, Tag(kWake, 0));
  }

  void ArmTick() {
    const auto ns = tick_period_.count();
    tick_ts_.tv_sec = ns / 1'000'000'000;
    tick_ts_.tv_nsec = ns % 1'000'000'000;
    io_uring_sqe* sqe = GetSqe();
    io_uring_prep_timeout(sqe, &tick_ts_, 0, 0);
    io_uring_sqe_set_data64(sqe, Tag(kTick, tick_generation_));
  }

  void ArmRecv(ConnId id, Conn& c) {
    io_uring_sqe* sqe = GetSqe();
    io_uring_prep_recv_multishot(sqe, c.fd, nullptr, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = kBufGroup;
    io_uring_sqe_set_data64(sqe, Tag(kRecv, id));
    c.recv_armed = true;
    ++c.inflight;
  }

  void MaybeRearmRecv(ConnId id, Conn& c) {
    if (!c.closing && !c.paused && !c.rx_ended && !c.recv_armed && c.held.empty()) {
      ArmRecv(id, c);
    }
  }

  void MaybeFinishClose(ConnId id, Conn& c) {
    if (!c.closing || c.inflight > 0 || c.fd < 0) return;
    close(c.fd);
    c.fd = -1;
    deferred_.push_back({Deferred::kClosed, id});
  }

  void Reap() {
    io_uring_cqe* cqes[kReapBatch];
    Completion batch[kReapBatch];
    unsigned n;
    do {
      n = io_uring_peek_batch_cqe(&ring_, cqes, kReapBatch);
      for (unsigned i = 0; i < n; ++i)
        batch[i] = {cqes[i]->user_data, cqes[i]->res, cqes[i]->flags};
      io_uring_cq_advance(&ring_, n);  // free the CQ before callbacks can queue more work
      for (unsigned i = 0; i < n; ++i) Dispatch(batch[i]);
    } while (n == kReapBatch);
  }

  void Dispatch(const Completion& e) {
    const uint64_t payload = e.user_data & internal::kIdMask;
    const bool more = (e.flags & IORING_CQE_F_MORE) != 0;
    switch (static_cast<Op>(e.user_data >> 56)) {
      case kAccept:
        if (listen_fds_[payload] < 0) {  // StopListening: the accept was being cancelled
          if (e.res >= 0) close(e.res);
          break;
        }
        if (e.res >= 0) {
          auto [id, c] = conns_.Add();
          c->fd = e.res;
          ArmRecv(id, *c);
          handler_->OnAccept(id);
        } else if (e.res != -ECANCELED) {
          LOG_EVERY_N(WARNING, 1000) << "accept: " << ErrnoName(-e.res);
        }
        if (!more) ArmAccept(payload);
        break;
      case kRecv:
        OnRecv(payload, e.res, e.flags);
        break;
      case kSend:
        if (Conn* c = conns_.Find(payload)) FinishSend(payload, *c, e.res);
        break;
      case kSendZc:
        OnSendZc(payload, e);
        break;
      case kCancel:
        if (Conn* c = conns_.Find(payload)) {
          --c->inflight;
          MaybeFinishClose(payload, *c);
        }
        break;
      case kWake:
        ArmWake();
        if (wake_.exchange(false, std::memory_order_acq_rel)) handler_->OnWake();
        break;
      case kTick:
        if (payload == (tick_generation_ & internal::kIdMask) && e.res == -ETIME) {
          ArmTick();  // before OnTick, so that a SetTick inside it replaces this one
          handler_->OnTick();
        }
        break;
      case kIgnore:
        break;
    }
  }

  void OnRecv(ConnId id, int res, unsigned flags) {
    const char* data = nullptr;
    const unsigned bid = flags >> IORING_CQE_BUFFER_SHIFT;
    if (flags & IORING_CQE_F_BUFFER) data = buffers_ + size_t{bid} * kBufSize;
    Conn* c = conns_.Find(id);
    if (c != nullptr && !(flags & IORING_CQE_F_MORE)) {
      c->recv_armed = false;
      c->recv_cancelling = false;
      --c->inflight;
    }
    if (c != nullptr && res > 0 && !c->closing) {
      if (c->paused || !c->held.empty()) {
        c->held.append(data, static_cast<size_t>(res));
      } else {
        handler_->OnReceive(id, std::string_view(data, static_cast<size_t>(res)));
        c = conns_.Find(id);
      }
    }
    if (data != nullptr) {  // the handler is done with the view: back to the ring
      io_uring_buf_ring_add(buf_ring_, const_cast<char*>(data), kBufSize,
                            static_cast<unsigned short>(bid), io_uring_buf_ring_mask(kBufCount), 0);
      io_uring_buf_ring_advance(buf_ring_, 1);
    }
    if (c == nullptr) return;
    if (res == 0 || (res < 0 && res != -ENOBUFS && res != -ECANCELED)) {
      c->rx_ended = true;
      c->rx_error = res < 0 ? -res : 0;
      // After bytes still held, the hangup waits for the resume that delivers them.
      if (!c->closing && !c->paused && c->held.empty()) {
        c->hung_up = true;
        handler_->OnHangup(id, c->rx_error);
        c = conns_.Find(id);
      }
    }
    // -ENOBUFS or a finished multishot: re-arm (buffers went back above).
    if (c != nullptr) {
      MaybeRearmRecv(id, *c);
      MaybeFinishClose(id, *c);
    }
  }

  void FinishSend(ConnId id, Conn& c, int res) {
    --c.inflight;
    if (!c.closing) handler_->OnSent(id, res);
    if (Conn* again = conns_.Find(id)) MaybeFinishClose(id, *again);
  }

  void OnSendZc(ConnId id, const Completion& e) {
    Conn* c = conns_.Find(id);
    if (c == nullptr) return;
    if (e.flags & IORING_CQE_F_NOTIF) {
      ++zc_counters_.notifications;
      if (static_cast<uint32_t>(e.res) & internal::kNotifUsageZcCopied) ++zc_counters_.copied;
      c->zc_notified = true;
    } else {
      c->zc_result = e.res;
      c->zc_result_in = true;
      // No F_MORE: no notification follows (the send failed before it pinned anything).
      if (!(e.flags & IORING_CQE_F_MORE)) c->zc_notified = true;
    }
    // The kernel posts the result first, but nothing here depends on that order.
    if (!c->zc_result_in || !c->zc_notified) return;
    c->zc_in_flight = c->zc_result_in = c->zc_notified = false;
    FinishSend(id, *c, c->zc_result);
  }

  void RunDeferred() {
    std::vector<Deferred> work;
    work.swap(deferred_);
    for (const Deferred& d : work) {
      Conn* c = conns_.Find(d.id);
      if (c == nullptr) continue;
      if (d.kind == Deferred::kClosed) {
        conns_.Remove(d.id);
        handler_->OnClosed(d.id);
        continue;
      }
      if (c->closing || c->paused) continue;
      if (!c->held.empty()) {
        const std::string held = std::move(c->held);
        c->held.clear();
        handler_->OnReceive(d.id, held);
        c = conns_.Find(d.id);
        if (c->closing || c->paused) continue;
      }
      if (c->rx_ended && !c->hung_up) {
        c->hung_up = true;
        handler_->OnHangup(d.id, c->rx_error);
        continue;
      }
      MaybeRearmRecv(d.id, *c);
    }
  }

  LoopHandler* const handler_;
  io_uring ring_{};
  bool ring_ok_ = false;
  bool needs_enable_ = false;
  io_uring_buf_ring* buf_ring_ = nullptr;
  char* buffers_ = nullptr;
  int wake_fd_ = -1;
  uint64_t wake_value_ = 0;
  size_t zc_threshold_ = 0;  // 0: never zero-copy
  unsigned zc_flags_ = 0;    // the SQE's zero-copy flags (ioprio)
  internal::ZeroCopyCounters zc_counters_;
  std::vector<int> listen_fds_;
  ConnTable<Conn> conns_;
  std::vector<Deferred> deferred_;
  std::chrono::nanoseconds tick_period_{0};
  uint64_t tick_generation_ = 0;
  __kernel_timespec tick_ts_{};
  std::atomic<bool> wake_{false};
  std::atomic<bool> stop_{false};
};

}  // namespace

namespace internal {

ZeroCopyCounters GetZeroCopyCounters(const EventLoop& loop) {
  // Only UringLoop calls itself "io_uring".
  if (loop.name() != "io_uring") return {};
  return static_cast<const UringLoop&>(loop).zero_copy_counters();
}

}  // namespace internal

std::unique_ptr<EventLoop> MakeUringLoop(LoopHandler* handler, std::string* why_not) {
  auto loop = std::make_unique<UringLoop>(handler);
  std::string why = loop->Init();
  if (why.empty()) return loop;
  if (why_not != nullptr) *why_not = std::move(why);
  return nullptr;
}

}  // namespace spillway::server
