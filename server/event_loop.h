// The event-loop interface: completion style, one loop per shard thread. Connection logic is
// written once against it; two backends implement it (io_uring: a proactor; epoll: a reactor
// that performs the reads and writes itself and reports them as completions), and the layer
// above cannot tell them apart.
//
// Threading: everything here runs on the loop's thread, except Wake() and Stop(), which any
// thread may call. Callbacks run on the loop's thread, from inside Run(). Before Run(), the
// thread that made the loop may set it up (Listen, SetTick); Run() is always called on one thread.
//
// Identity: a connection is named by a ConnId that the loop hands out (never a raw fd; ids are
// not reused while the handler may still hold them: a closed id is dead after OnClosed).

#ifndef SPILLWAY_SERVER_EVENT_LOOP_H_
#define SPILLWAY_SERVER_EVENT_LOOP_H_

#include <sys/uio.h>

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace spillway::server {

using ConnId = uint64_t;

class LoopHandler {
 public:
  virtual ~LoopHandler() = default;
  // A connection was accepted on a listening socket; receiving has started.
  virtual void OnAccept(ConnId conn) = 0;
  // Bytes arrived. The view is valid only during the call.
  virtual void OnReceive(ConnId conn, std::string_view bytes) = 0;
  // The peer closed its side (error 0) or the connection failed (an errno). Nothing more will
  // be received; the handler decides when to Close().
  virtual void OnHangup(ConnId conn, int error) = 0;
  // A Send() finished: `bytes` were written (possibly fewer than asked), or -errno.
  virtual void OnSent(ConnId conn, int64_t bytes) = 0;
  // After Close(): the connection's operations are all finished and its id is dead.
  virtual void OnClosed(ConnId conn) = 0;
  // Wake() was called (once per loop turn however many calls came in).
  virtual void OnWake() = 0;
  // The periodic tick (SetTick).
  virtual void OnTick() = 0;
  // Called once per loop turn after the turn's completions were delivered: the place to flush
  // work batched during the turn (sends, cross-shard messages).
  virtual void OnTurnEnd() = 0;
};

class EventLoop {
 public:
  virtual ~EventLoop() = default;

  // "io_uring" or "epoll".
  virtual std::string_view name() const = 0;

  // Accepts connections on a listening socket (the loop takes ownership of the fd) until Stop().
  virtual void Listen(int listen_fd) = 0;
  // Accepts no more connections and closes the listening sockets, so that a server shutting down
  // leaves its port to its successor at once (with SO_REUSEPORT a connection could otherwise land
  // on the old listener and be dropped). Loop thread only; connections already accepted go on.
  virtual void StopListening() = 0;
  // Takes an already-connected socket (an outgoing connection: a client, a load generator), owns
  // its fd from now on, starts receiving on it and returns its id. The socket should be
  // non-blocking (the epoll backend makes it so). OnAccept is not called for it; every other
  // callback is as for an accepted connection. Same threads as Listen.
  virtual ConnId Adopt(int connected_fd) = 0;
  // Sends the bytes the iovecs point at. At most one Send per connection is in flight; the
  // iovec array and the memory it points at must stay valid until OnSent. At most kMaxIov.
  static constexpr int kMaxIov = 64;
  virtual void Send(ConnId conn, const iovec* iov, int count) = 0;
  // Sends of at least `bytes` (all the iovecs together) go zero-copy where the backend can
  // (io_uring with IORING_OP_SENDMSG_ZC, Linux 6.1+): the kernel transmits from the caller's
  // pages instead of copying them, and OnSent waits until it has let go of them. For TCP that is
  // when the peer has acknowledged the bytes, so a slow reader holds a Send's memory (and its
  // OnSent) longer than a copying send would. A Close with a zero-copy Send in flight resets the
  // connection rather than shutting it down gracefully, or OnClosed would wait on a peer that
  // may never read. 0 (the default) means never; epoll, and a kernel without the opcode, ignore
  // it. Set up before Run() like Listen, or on the loop's thread; applies to later Sends.
  virtual void SetZeroCopyThreshold(size_t bytes) = 0;
  // Stops delivering OnReceive for the connection (bytes wait in the kernel) until Resume.
  virtual void PauseReceive(ConnId conn) = 0;
  virtual void ResumeReceive(ConnId conn) = 0;
  // Closes the connection; OnClosed follows once nothing of it is in flight. After Close, no
  // callback but that one OnClosed names the connection (an OnSent still due is dropped), so what
  // a Send in flight points at may be freed at OnClosed.
  virtual void Close(ConnId conn) = 0;

  // OnTick every `period` from now on.
  virtual void SetTick(std::chrono::nanoseconds period) = 0;
  // Thread-safe: OnWake soon, on the loop's thread.
  virtual void Wake() = 0;
  // Runs until Stop(). Thread-safe Stop: Run returns after the current turn.
  virtual void Run() = 0;
  virtual void Stop() = 0;
};

// The epoll backend. Never fails to construct (epoll is always there); aborts if the kernel
// refuses an epoll fd or eventfd.
std::unique_ptr<EventLoop> MakeEpollLoop(LoopHandler* handler);
// The io_uring backend, or null with the reason in *why_not (ENOSYS, EPERM, io_uring_disabled,
// a missing opcode...), so that --io=auto can fall back to epoll saying why.
std::unique_ptr<EventLoop> MakeUringLoop(LoopHandler* handler, std::string* why_not);

}  // namespace spillway::server

#endif  // SPILLWAY_SERVER_EVENT_LOOP_H_
