// spillway's entry point. Flags live here and nowhere else in the server (STYLE.md, 12).

#include <gflags/gflags.h>
#include <glog/logging.h>

#include <cstdio>

DEFINE_string(listen, "127.0.0.1", "Address to listen on; an operator opts in to exposure.");
DEFINE_int32(port, 11211, "TCP port to listen on.");
DEFINE_string(data_dir, "./data", "Directory of the spill tier and the warm-restart marker.");

int main(int argc, char** argv) {
  gflags::SetVersionString(SPILLWAY_VERSION);
  gflags::SetUsageMessage("spillway: a memcached-compatible cache server");
  gflags::ParseCommandLineFlags(&argc, &argv, /*remove_flags=*/true);
  FLAGS_logtostderr = true;
  google::InitGoogleLogging(argv[0]);

  // The request path (shards, event loops, connections) is the server issue's work; until it
  // lands, say so plainly instead of pretending to serve.
  LOG(ERROR) << "spillway " << SPILLWAY_VERSION << ": would listen on " << FLAGS_listen << ":"
             << FLAGS_port << " with data under " << FLAGS_data_dir
             << ", but the server is not built yet (only the protocol and storage libraries are)";
  return 1;
}
