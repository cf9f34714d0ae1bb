// Send throughput of one io_uring loop, copying sendmsg against zero-copy sendmsg_zc: the loop
// sends `bytes` per message, back to back, over loopback TCP to a reader thread that reads and
// discards. One benchmark iteration is one message fully sent (a partial send is followed by a
// Send of the rest); OnSent comes after the kernel's notification when zero copy is on.
// docs/benchmarks.md ("Zero-copy send (io_uring)") has the command and the numbers.

#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "server/event_loop.h"
#include "server/internal/uring.h"

namespace spillway::server {
namespace {

// Sends `budget` messages on the one connection, then stops the loop; the loop runs on the
// benchmark thread, so Run() is the timed part.
class Sender : public LoopHandler {
 public:
  explicit Sender(size_t bytes) : payload_(bytes, 'x') {}

  EventLoop* loop = nullptr;
  ConnId conn = 0;
  bool accepted = false;
  bool closed = false;
  int64_t error = 0;
  uint64_t sends = 0;  // Send calls, partial ones included

  void SendMessages(int64_t count) {
    budget_ = count;
    SendNext();
  }

  void OnAccept(ConnId id) override {
    conn = id;
    accepted = true;
    loop->Stop();
  }
  void OnReceive(ConnId, std::string_view) override {}
  void OnHangup(ConnId id, int) override {
    error = error != 0 ? error : -1;
    loop->Close(id);
  }
  void OnSent(ConnId, int64_t bytes) override {
    if (bytes < 0) {
      error = bytes;
      loop->Stop();
      return;
    }
    offset_ += static_cast<size_t>(bytes);
    if (offset_ == payload_.size()) {
      offset_ = 0;
      if (--budget_ == 0) {
        loop->Stop();
        return;
      }
    }
    SendNext();
  }
  void OnClosed(ConnId) override {
    closed = true;
    loop->Stop();
  }
  void OnWake() override {}
  void OnTick() override {}
  void OnTurnEnd() override {}

 private:
  void SendNext() {
    iov_ = {payload_.data() + offset_, payload_.size() - offset_};
    ++sends;
    loop->Send(conn, &iov_, 1);
  }

  std::string payload_;
  iovec iov_{};
  size_t offset_ = 0;
  int64_t budget_ = 0;
};

// Reads and discards until EOF, as a client copying the reply out would.
void Reader(int port) {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    std::vector<char> buffer(1 << 20);
    while (recv(fd, buffer.data(), buffer.size(), 0) > 0) {
    }
  }
  close(fd);
}

int ListenLoopback() {
  const int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  if (fd < 0 || bind(fd, reinterpret_cast<sockaddr*>(&addr), len) != 0 || listen(fd, 4) != 0 ||
      getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
    if (fd >= 0) close(fd);
    return -1;
  }
  return fd;
}

int PortOf(int fd) {
  sockaddr_in addr{};
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  return ntohs(addr.sin_port);
}

// Args: message bytes; zero copy 0 (off) or 1 (every Send, threshold 1 byte).
void BM_Send(benchmark::State& state) {
  const size_t bytes = static_cast<size_t>(state.range(0));
  const bool zero_copy = state.range(1) != 0;
  Sender sender(bytes);
  std::string why_not;
  std::unique_ptr<EventLoop> loop = MakeUringLoop(&sender, &why_not);
  if (loop == nullptr) {
    state.SkipWithError(("io_uring not usable: " + why_not).c_str());
    return;
  }
  if (zero_copy && !internal::GetZeroCopyCounters(*loop).available) {
    state.SkipWithError("no IORING_OP_SENDMSG_ZC");
    return;
  }
  sender.loop = loop.get();
  loop->SetZeroCopyThreshold(zero_copy ? 1 : 0);
  const int listen_fd = ListenLoopback();
  if (listen_fd < 0) {
    state.SkipWithError("cannot listen on 127.0.0.1");
    return;
  }
  const int port = PortOf(listen_fd);
  loop->Listen(listen_fd);
  std::thread reader(Reader, port);
  while (!sender.accepted) loop->Run();  // until OnAccept stops it

  // About 4 MiB per batch: one Stop and one extra loop turn per batch, whatever the size.
  const int64_t batch = std::max<int64_t>(1, (int64_t{4} << 20) / static_cast<int64_t>(bytes));
  while (state.KeepRunningBatch(batch)) {
    sender.SendMessages(batch);
    loop->Run();
    if (sender.error != 0) break;
  }
  if (sender.error != 0) state.SkipWithError("send failed or the reader hung up");

  const internal::ZeroCopyCounters zc = internal::GetZeroCopyCounters(*loop);
  loop->Close(sender.conn);
  while (!sender.closed) loop->Run();
  reader.join();

  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(bytes));
  state.counters["sends_per_msg"] =
      static_cast<double>(sender.sends) / static_cast<double>(state.iterations());
  state.counters["zc_sends"] = static_cast<double>(zc.sends);
  // The share of zero-copy sends the kernel copied anyway (loopback delivers by copying);
  // -1 when the kernel does not say (before Linux 6.2).
  state.counters["zc_copied_pct"] =
      !zc.usage_reported ? -1
      : zc.notifications == 0
          ? 0
          : 100.0 * static_cast<double>(zc.copied) / static_cast<double>(zc.notifications);
}

BENCHMARK(BM_Send)
    ->ArgsProduct({{4 << 10, 16 << 10, 64 << 10, 256 << 10, 1 << 20}, {0, 1}})
    ->ArgNames({"bytes", "zc"})
    ->UseRealTime();

}  // namespace
}  // namespace spillway::server

BENCHMARK_MAIN();
