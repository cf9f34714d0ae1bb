#include "server/data_dir.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace spillway::server {
namespace {

constexpr char kMarker[] = "CLEAN_SHUTDOWN";
constexpr char kLock[] = "LOCK";

bool SyncPath(const std::string& path) {
  const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return false;
  const bool ok = fsync(fd) == 0;
  close(fd);
  return ok;
}

// The marker's text: "spillway 1\nshards N\nflushed_below S0 S1 ...\n".
bool ParseMarker(const std::string& text, uint32_t shards, std::vector<uint64_t>* flushed) {
  std::istringstream in(text);
  std::string word;
  int version = 0;
  uint32_t n = 0;
  if (!(in >> word >> version) || word != "spillway" || version != 1) return false;
  if (!(in >> word >> n) || word != "shards" || n != shards) return false;
  if (!(in >> word) || word != "flushed_below") return false;
  flushed->assign(n, 0);
  for (uint32_t i = 0; i < n; ++i) {
    if (!(in >> (*flushed)[i])) return false;
  }
  return true;
}

}  // namespace

DataDir::~DataDir() {
  if (lock_fd_ >= 0) close(lock_fd_);  // releases the flock
}

std::string DataDir::ShardPath(uint32_t shard) const {
  return path_ + "/shard-" + std::to_string(shard);
}

bool DataDir::Open(const std::string& path, uint32_t shards, std::string* error) {
  path_ = path;
  std::error_code ec;
  std::filesystem::create_directories(path, ec);
  if (ec) {
    *error = "cannot create " + path + ": " + ec.message();
    return false;
  }
  const std::string lock = path + "/" + kLock;
  lock_fd_ = open(lock.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (lock_fd_ < 0 || flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    *error = path + " is in use by another spillway (" + lock + ": " + std::strerror(errno) + ")";
    return false;
  }
  const std::string marker = path + "/" + kMarker;
  std::ifstream in(marker);
  if (in) {
    std::stringstream text;
    text << in.rdbuf();
    in.close();
    warm_ = ParseMarker(text.str(), shards, &flushed_below_);
    how_ = warm_ ? "warm restart: " + path + " was left by a clean shutdown"
                 : "cold start: " + path + "'s shutdown marker is for another shard count";
    // Gone before anything is served: a crash from now on must not look like a clean stop.
    if (std::remove(marker.c_str()) != 0 || !SyncPath(path)) {
      *error = "cannot remove " + marker + ": " + std::strerror(errno);
      return false;
    }
  } else {
    how_ = "cold start: no clean-shutdown marker in " + path +
           " (first start, or the last run did not stop cleanly)";
  }
  if (warm_) return true;
  flushed_below_.clear();
  // Only what spillway made there: the shards' databases.
  for (const auto& entry : std::filesystem::directory_iterator(path, ec)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("shard-", 0) != 0 || !entry.is_directory()) continue;
    std::filesystem::remove_all(entry.path(), ec);
    if (ec) {
      *error = "cannot wipe " + entry.path().string() + ": " + ec.message();
      return false;
    }
  }
  return true;
}

bool DataDir::MarkClean(const std::vector<uint64_t>& flushed_below, std::string* error) {
  const std::string marker = path_ + "/" + kMarker;
  const std::string temp = marker + ".tmp";
  std::string text =
      "spillway 1\nshards " + std::to_string(flushed_below.size()) + "\nflushed_below";
  for (uint64_t s : flushed_below) text += " " + std::to_string(s);
  text += "\n";
  const int fd = open(temp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  bool ok = fd >= 0 && write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            fsync(fd) == 0;
  if (fd >= 0) close(fd);
  ok = ok && std::rename(temp.c_str(), marker.c_str()) == 0 && SyncPath(path_);
  if (!ok) *error = "cannot write " + marker + ": " + std::strerror(errno);
  return ok;
}

}  // namespace spillway::server
