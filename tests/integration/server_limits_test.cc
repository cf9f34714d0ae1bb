// The real spillway binary at its limits, over real sockets, on both I/O backends: requests split
// into single bytes, many clients, a client that stops reading, oversized
// input and garbage. Idle connections, shutdown and the port: server_lifecycle_test.cc.
// (memcached's recorded answers: oracle_replay_test.cc.)
//
// Nothing here sleeps to synchronise: every wait is a socket read (or poll) with a timeout, or a
// pidfd poll for the process, so every test is bounded.

#include <gtest/gtest.h>

#include <cstdlib>

#include "tests/integration/limits_support.h"
#include "tests/support/sanitizers.h"

namespace spillway::testing {
namespace {

// ---- 2. Requests split into single bytes.

// Sets, gets, multi-gets, meta commands, a value with "\r\n" inside it, errors and noreply.
std::string MixedRequests() {
  std::string value(2000, 'v');
  value.replace(700, 2, "\r\n");
  value.replace(1500, 4, "END\r");
  std::string s =
      "set a 1 0 3\r\nabc\r\n"
      "set b:1 2 0 5\r\nx\r\nyz\r\n"
      "get a\r\n"
      "get a b:1 missing c:2 a\r\n"
      "gets a b:1\r\n"
      "add a 0 0 1\r\nz\r\n"
      "append a 0 0 2\r\nde\r\n"
      "prepend a 0 0 2\r\n12\r\n"
      "set n 0 0 2\r\n10\r\nincr n 5\r\ndecr n 3\r\nincr n 1 noreply\r\n"
      "touch a 100\r\n"
      "gat 0 a n\r\n"
      "delete b:1\r\nget b:1\r\ndelete b:1\r\n"
      "ms m:1 3 F7 T0\r\nxyz\r\n"
      "mg m:1 v f k s c O42\r\n"
      "ma n MI D2 v\r\nma n MD D1000 v\r\n"
      "md a q\r\nmg a v\r\nmg a v q\r\n"
      "ms Zm9v 2 b\r\nhi\r\nmg Zm9v b v k\r\nget foo\r\n"
      "mn\r\n"
      "bogus command\r\n"
      "set x 0 0 1\r\nab\r\n"
      "set big 0 0 2000\r\n" +
      value +
      "\r\n"
      "get big a n m:1 foo\r\n"
      "ms e:1 2 MA\r\nzz\r\n"
      "mg e:1 v\r\n";
  for (int i = 0; i < 20; ++i) {
    s += "set key:" + std::to_string(i) + " " + std::to_string(i) + " 0 " +
         std::to_string(std::to_string(i * 31).size()) + "\r\n" + std::to_string(i * 31) + "\r\n";
  }
  s += "get";
  for (int i = 0; i < 25; ++i) s += " key:" + std::to_string(i);
  s += "\r\nmn\r\n";
  return s;
}

TEST_P(ServerLimitsTest, RequestsSentByteByByteAreAnsweredAsWhole) {
  auto server = Start();
  ASSERT_GT(server->port(), 0);
  const std::string requests = MixedRequests();
  Client control(server->port());
  std::string answers[2];
  for (int bytewise = 0; bytewise < 2; ++bytewise) {
    ASSERT_EQ(control.Call("flush_all\r\n"), "OK\r\n");
    Client c(server->port());
    ASSERT_TRUE(c.ok());
    ASSERT_TRUE(bytewise ? SendBytewise(c, requests) : c.Send(requests));
    // Two mn in the script, so two MN in the answers.
    answers[bytewise] = c.ReadUntil("MN\r\n");
    answers[bytewise] += c.ReadUntil("MN\r\n");
  }
  // Anchors that make sure the whole script was understood, not just equally misread.
  EXPECT_TRUE(answers[0].starts_with("STORED\r\nSTORED\r\nVALUE a 1 3\r\nabc\r\nEND\r\n"))
      << Printable(answers[0]);
  EXPECT_NE(answers[0].find("VALUE b:1 2 5\r\nx\r\nyz\r\n"), std::string::npos);
  EXPECT_NE(answers[0].find("VALUE big 0 2000\r\n"), std::string::npos);
  EXPECT_NE(answers[0].find("CLIENT_ERROR bad data chunk\r\n"), std::string::npos);
  EXPECT_TRUE(answers[0].ends_with("VALUE key:19 19 3\r\n589\r\nEND\r\nMN\r\n"))
      << Printable(answers[0]);
  EXPECT_EQ(MaskAll(answers[1]), MaskAll(answers[0]))
      << FirstDifference(MaskAll(answers[1]), MaskAll(answers[0]));
}

// ---- 3. Many clients at once, each on its own thread.

TEST_P(ServerLimitsTest, HundredClientsOnHundredThreadsReadBackTheirOwnKeys) {
  auto server = Start();
  ASSERT_GT(server->port(), 0);
  constexpr int kClients = 100, kKeys = 50;
  std::atomic<int> wrong{0};
  std::mutex mu;
  std::string first_wrong;
  auto note = [&](const std::string& what) {
    if (wrong.fetch_add(1) == 0) {
      std::lock_guard<std::mutex> lock(mu);
      first_wrong = what;
    }
  };
  std::vector<std::thread> threads;
  for (int t = 0; t < kClients; ++t) {
    threads.emplace_back([&, t] {
      Client c(server->port());
      if (!c.ok()) return note("client " + std::to_string(t) + " could not connect");
      auto key = [t](int k) { return "c" + std::to_string(t) + ":k" + std::to_string(k); };
      auto value = [t](int k) {
        return "value-" + std::to_string(t) + "-" + std::to_string(k) +
               std::string(static_cast<size_t>((t * 7 + k) % 40), 'x');
      };
      for (int k = 0; k < kKeys; ++k) {
        const std::string v = value(k);
        const std::string got = c.Call("set " + key(k) + " " + std::to_string(t) + " 0 " +
                                       std::to_string(v.size()) + "\r\n" + v + "\r\n");
        if (got != "STORED\r\n") return note("set " + key(k) + ": " + Printable(got));
      }
      for (int k = 0; k < kKeys; ++k) {
        const std::string v = value(k);
        const std::string want = "VALUE " + key(k) + " " + std::to_string(t) + " " +
                                 std::to_string(v.size()) + "\r\n" + v + "\r\nEND\r\n";
        const std::string got = c.Call("get " + key(k) + "\r\n", "END\r\n");
        if (got != want) return note("get " + key(k) + ": " + Printable(got));
      }
    });
  }
  for (std::thread& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0) << "first: " << first_wrong;
}

// ---- 4. A client that pipelines requests and does not read its answers.

// Regression: Connection::OverCap once counted only out_, the answers already in order; answers
// from another shard waiting in slots_ (copied values) were not counted, so 20,000 pipelined
// "get big:N" (100 KB values) took a two-shard server to 1.4 GB RSS.
TEST_P(ServerLimitsTest, ClientThatDoesNotReadIsThrottledAndOthersAreServed) {
  // Under ASan, freed memory waits in a quarantine (256 MB by default) before it is reused, so
  // the server's RSS would count every answer copy ever freed (each remote 100 KB answer is
  // copied on its way), not what the server holds. A small quarantine keeps the RSS bound below
  // about live memory; the option is read when the server starts.
#ifdef SPILLWAY_ASAN
  const char* options = std::getenv("ASAN_OPTIONS");
  const std::string mine = std::string(options ? options : "") + ":quarantine_size_mb=1";
  setenv("ASAN_OPTIONS", mine.c_str(), 1);
#endif
  auto server = Start();
  ASSERT_GT(server->port(), 0);
  constexpr int kValues = 10, kGets = 300;
  constexpr size_t kValueSize = 100'000;
  auto value = [](int i) { return std::string(kValueSize, static_cast<char>('a' + i)); };
  {
    Client setup(server->port());
    for (int i = 0; i < kValues; ++i) {
      ASSERT_EQ(setup.Call("set big:" + std::to_string(i) + " 0 0 " + std::to_string(kValueSize) +
                           "\r\n" + value(i) + "\r\n"),
                "STORED\r\n");
    }
  }
  const int64_t base_kib = VmRssKib(server->pid());
  ASSERT_GT(base_kib, 0);

  // 300 gets (30 MB of answers), then 48 MB of noreply sets: requests that cost the server
  // nothing to answer, so that a server that kept reading would take them all.
  std::string stream, want;
  for (int i = 0; i < kGets; ++i) {
    const std::string key = "big:" + std::to_string(i % kValues);
    stream += "get " + key + "\r\n";
    want += "VALUE " + key + " 0 " + std::to_string(kValueSize) + "\r\n" + value(i % kValues) +
            "\r\nEND\r\n";
  }
  const std::string pad = "set pad 0 0 " + std::to_string(kValueSize) + " noreply\r\n" +
                          std::string(kValueSize, 'p') + "\r\n";
  for (int i = 0; i < 480; ++i) stream += pad;

  Client slow(server->port());
  ASSERT_TRUE(slow.ok());
  // Send without blocking until the server has not taken a byte for 500 ms.
  size_t sent = 0;
  bool stalled = false;
  while (sent < stream.size()) {
    const ssize_t n =
        send(slow.fd(), stream.data() + sent, stream.size() - sent, MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
      continue;
    }
    ASSERT_TRUE(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) << "send: " << errno;
    pollfd p{slow.fd(), POLLOUT, 0};
    if (poll(&p, 1, 500) == 0) {
      stalled = true;
      break;
    }
  }
  EXPECT_TRUE(stalled) << "the server read all " << stream.size()
                       << " bytes from a client that reads none of its answers";
  std::printf("the server stopped reading after %zu of %zu bytes\n", sent, stream.size());

  // Another client is answered at once, while the slow one's requests wait.
  {
    Client other(server->port());
    const auto start = Clock::now();
    EXPECT_EQ(other.Call("mn\r\n"), "MN\r\n");
    const std::string want_one =
        "VALUE big:3 0 " + std::to_string(kValueSize) + "\r\n" + value(3) + "\r\nEND\r\n";
    ASSERT_TRUE(other.Send("get big:3\r\n"));
    EXPECT_EQ(other.Read(want_one.size()), want_one);
    EXPECT_LT(MillisSince(start), 1000) << "another client waited behind the slow one";
  }
  // Measured once the server has demonstrably stopped reading (the sends stalled) and still
  // serves others. What it may hold for the slow client: its output cap (4 MiB of answers,
  // copied when they cross shards), one read's worth of input, and the receive buffers of the
  // backend; 32 MiB is eight times the cap. A server that did not stop reading would take the
  // 48 MB of sets above (and, with copies, the 30 MB of answers).
  const int64_t rss_kib = VmRssKib(server->pid());
  std::printf("server VmRSS: %lld KiB before, %lld KiB while throttled\n",
              static_cast<long long>(base_kib), static_cast<long long>(rss_kib));
  EXPECT_LT(rss_kib, base_kib + 32 * 1024);

  // The slow client now reads: every answer, complete and in order, while the rest of its
  // stream goes out.
  std::thread sender([&] {
    while (sent < stream.size()) {
      const ssize_t n = send(slow.fd(), stream.data() + sent, stream.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) return;
      sent += static_cast<size_t>(n);
    }
  });
  const std::string got = slow.Read(want.size());
  sender.join();
  EXPECT_EQ(sent, stream.size());
  EXPECT_TRUE(got == want) << FirstDifference(got, want);
  EXPECT_EQ(slow.Call("mn\r\n"), "MN\r\n");
  EXPECT_EQ(slow.Call("mg pad s\r\n"), "HD s" + std::to_string(kValueSize) + "\r\n");
}

// Regression: a multi-get was issued whole, so one line of 3000 keys of 100 KB values from a
// client that did not read queued 300 MB of answers (copies, for the keys of other shards). Its
// keys are now issued a few at a time under the same cap as a pipeline of single gets.
TEST_P(ServerLimitsTest, LongMultiGetFromAClientThatDoesNotReadIsThrottled) {
  auto server = Start();
  ASSERT_GT(server->port(), 0);
  constexpr int kValues = 10, kKeys = 3000;
  constexpr size_t kValueSize = 100'000;
  auto value = [](int i) { return std::string(kValueSize, static_cast<char>('a' + i)); };
  Client slow(server->port());
  for (int i = 0; i < kValues; ++i) {
    ASSERT_EQ(slow.Call("set big:" + std::to_string(i) + " 0 0 " + std::to_string(kValueSize) +
                        "\r\n" + value(i) + "\r\n"),
              "STORED\r\n");
  }
  const int64_t base_kib = VmRssKib(server->pid());
  std::string line = "get";
  for (int k = 0; k < kKeys; ++k) line += " big:" + std::to_string(k % kValues);
  ASSERT_TRUE(slow.Send(line + "\r\n"));
  // Another client's round trip on every shard: the loops have worked through what they had.
  {
    Client other(server->port());
    for (int i = 0; i < kValues; ++i) {
      EXPECT_EQ(other.Call("mg big:" + std::to_string(i) + " s\r\n"),
                "HD s" + std::to_string(kValueSize) + "\r\n");
    }
  }
  const int64_t grown_kib = VmRssKib(server->pid()) - base_kib;
  EXPECT_LT(grown_kib, 64 * 1024) << "RSS grew by " << grown_kib << " KiB";
  // Then every answer arrives, in order.
  for (int k = 0; k < kKeys; ++k) {
    const std::string key = "big:" + std::to_string(k % kValues);
    const std::string head = "VALUE " + key + " 0 " + std::to_string(kValueSize) + "\r\n";
    ASSERT_EQ(slow.Read(head.size()), head) << k;
    ASSERT_EQ(slow.Read(kValueSize + 2), value(k % kValues) + "\r\n") << k;
  }
  EXPECT_EQ(slow.Read(5), "END\r\n");
}

// ---- 6. Oversized values and lines.

TEST_P(ServerLimitsTest, OversizedValuesAndLines) {
  auto server = Start({"--max_item_size=64k"});
  ASSERT_GT(server->port(), 0);
  {
    Client c(server->port());
    EXPECT_EQ(c.Call("set k 0 0 3\r\nold\r\n"), "STORED\r\n");
    const std::string huge(64 * 1024 + 1, 'h');
    EXPECT_EQ(c.Call("set k 0 0 " + std::to_string(huge.size()) + "\r\n" + huge + "\r\n"),
              "SERVER_ERROR object too large for cache\r\n");
    // Its bytes were swallowed, the old value dropped (as memcached does), and the connection
    // goes on.
    EXPECT_EQ(c.Call("get k\r\n", "END\r\n"), "END\r\n");
    EXPECT_EQ(
        c.Call("ms k " + std::to_string(huge.size()) + "\r\n" + huge + "\r\nmn\r\n", "MN\r\n"),
        "SERVER_ERROR object too large for cache\r\nMN\r\n");
    const std::string fits(60'000, 'f');
    EXPECT_EQ(c.Call("set k 0 0 " + std::to_string(fits.size()) + "\r\n" + fits + "\r\n"),
              "STORED\r\n");
    const std::string want = "VALUE k 0 60000\r\n" + fits + "\r\nEND\r\n";
    ASSERT_TRUE(c.Send("get k\r\n"));
    EXPECT_EQ(c.Read(want.size()), want);
  }
  {
    // README: a line over 2048 bytes closes the connection, newline or not, without an answer.
    Client c(server->port());
    EXPECT_EQ(c.Call("mn\r\n"), "MN\r\n");
    EXPECT_TRUE(c.Send(std::string(3000, 'x') + "\r\nmn\r\n"));
    EXPECT_EQ(ReadToEnd(c), "");
    EXPECT_TRUE(PeerClosed(c));
  }
  {
    Client c(server->port());
    EXPECT_TRUE(c.Send("set " + std::string(2990, 'k') + " 0 0 1\r\nv\r\n"));
    EXPECT_EQ(ReadToEnd(c), "");
    EXPECT_TRUE(PeerClosed(c));
  }
  {
    // A multi-get line of nearly 1 MiB (its limit), its keys spread over the shards.
    Client c(server->port());
    std::string line = "get", want;
    int keys = 0;
    while (line.size() < (1 << 20) - 64) {
      const std::string key = "mk:" + std::to_string(keys);
      if (keys % 997 == 0) {
        EXPECT_EQ(
            c.Call("set " + key + " 3 0 " + std::to_string(key.size()) + "\r\n" + key + "\r\n"),
            "STORED\r\n");
        want += "VALUE " + key + " 3 " + std::to_string(key.size()) + "\r\n" + key + "\r\n";
      }
      line += " " + key;
      ++keys;
    }
    want += "END\r\n";
    ASSERT_TRUE(c.Send(line + "\r\n"));
    EXPECT_EQ(c.Read(want.size()), want) << keys << " keys, a line of " << line.size() << " bytes";
    EXPECT_EQ(c.Call("mn\r\n"), "MN\r\n");
    // Past 1 MiB, even a get line closes.
    ASSERT_TRUE(c.Send(line + std::string(100, 'z') + " z\r\n"));
    EXPECT_EQ(ReadToEnd(c), "");
    EXPECT_TRUE(PeerClosed(c));
  }
  Client after(server->port());
  EXPECT_EQ(after.Call("mn\r\n"), "MN\r\n");
}

// ---- 7. Garbage.

// Random bytes, and random soup of protocol words, numbers and line ends: the second reaches
// deeper into the parsers than bytes alone.
std::string Garbage(std::mt19937_64& rng, size_t size, bool soup) {
  static const char* const kWords[] = {"get",       "gets",       "gat",
                                       "gats",      "set",        "add",
                                       "replace",   "append",     "prepend",
                                       "cas",       "incr",       "decr",
                                       "touch",     "delete",     "mg",
                                       "ms",        "md",         "ma",
                                       "me",        "mn",         "k",
                                       "v",         "q",          "O123",
                                       "T-1",       "N5",         "MA",
                                       "MI",        "b",          "c",
                                       "s",         "t",          "noreply",
                                       "0",         "1",          "100",
                                       "-1",        "4294967296", "18446744073709551616",
                                       "key:1",     "key:2",      "Zm9v",
                                       "C1",        "D5",         "J9",
                                       "F3",        "stats",      "version",
                                       "verbosity", "mn",         "E9",
                                       "I"};
  std::string out;
  out.reserve(size);
  while (out.size() < size) {
    if (!soup) {
      out.push_back(static_cast<char>(rng()));
      continue;
    }
    switch (rng() % 8) {
      case 0:
        out += "\r\n";
        break;
      case 1:
        out += ' ';
        break;
      case 2:
        out.push_back(static_cast<char>(rng()));
        break;
      case 3:
        out += std::to_string(rng() % 5000);
        break;
      default:
        out += kWords[rng() % (sizeof kWords / sizeof kWords[0])];
        out += ' ';
    }
  }
  return out;
}

TEST_P(ServerLimitsTest, GarbageNeverCrashesTheServer) {
  auto server = Start({"--max_item_size=64k"});
  ASSERT_GT(server->port(), 0);
  uint64_t seed = std::random_device()();
  if (const char* env = std::getenv("SPILLWAY_GARBAGE_SEED"))
    seed = std::strtoull(env, nullptr, 10);
  std::printf("garbage seed: %llu (rerun with SPILLWAY_GARBAGE_SEED=%llu)\n",
              static_cast<unsigned long long>(seed), static_cast<unsigned long long>(seed));
  RecordProperty("garbage_seed", std::to_string(seed));
  constexpr int kConnections = 8;
  std::atomic<size_t> sent_total{0};
  std::atomic<int> hung_up{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kConnections; ++i) {
    threads.emplace_back([&, i] {
      std::mt19937_64 rng(seed + static_cast<uint64_t>(i));
      Client c(server->port());
      if (!c.ok()) return;
      const std::string junk = Garbage(rng, 256 * 1024, /*soup=*/i % 2 == 1);
      char buf[65536];
      for (size_t at = 0; at < junk.size();) {
        const size_t n = std::min<size_t>(junk.size() - at, 1 + rng() % 4096);
        if (!c.Send(std::string_view(junk).substr(at, n))) {
          // The server closed this one (a line too long, an HTTP-looking line); it may also
          // close after the last chunk went out, unnoticed here.
          ++hung_up;
          break;
        }
        at += n;
        sent_total += n;
        while (recv(c.fd(), buf, sizeof buf, MSG_DONTWAIT) > 0) {
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  std::printf("garbage: %zu bytes over %d connections, %d seen hung up while sending\n",
              sent_total.load(), kConnections, hung_up.load());
  ASSERT_TRUE(Running(server->pid())) << "the server died; seed " << seed;
  Client fresh(server->port());
  EXPECT_EQ(fresh.Call("mn\r\n"), "MN\r\n") << "seed " << seed;
  EXPECT_EQ(fresh.Call("set after 0 0 2\r\nok\r\nget after\r\n", "END\r\n"),
            "STORED\r\nVALUE after 0 2\r\nok\r\nEND\r\n");
  EXPECT_TRUE(Running(server->pid()));
}

INSTANTIATE_TEST_SUITE_P(Backends, ServerLimitsTest,
                         ::testing::Values(Setup{"epoll", 1}, Setup{"epoll", 2}, Setup{"uring", 1},
                                           Setup{"uring", 2}),
                         Name);

}  // namespace
}  // namespace spillway::testing
