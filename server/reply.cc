#include "server/reply.h"

#include <utility>

namespace spillway::server {
namespace {
constexpr std::string_view kCrlf = "\r\n";
}  // namespace

std::string& Reply::Text() {
  if (pieces_.empty() || pieces_.back().item) pieces_.emplace_back();
  return pieces_.back().text;
}

void Reply::Append(std::string_view text) { Text().append(text); }

size_t Reply::size() const {
  size_t n = 0;
  for (const Piece& p : pieces_) n += p.size() - p.sent;
  return n;
}

void Reply::AppendValue(storage::ItemRef item) {
  const std::string_view value = item.value();
  if (!pin_ || value.size() < kPinThreshold) {
    std::string& t = Text();
    t.append(value);
    t.append(kCrlf);
    return;
  }
  pieces_.emplace_back();
  pieces_.back().item = std::move(item);
}

void Reply::Splice(Reply&& other) {
  for (Piece& p : other.pieces_) pieces_.push_back(std::move(p));
  other.pieces_.clear();
}

int Reply::Gather(iovec* iov, int max) const {
  int n = 0;
  for (const Piece& p : pieces_) {
    if (n == max) break;
    if (!p.item) {
      if (p.text.size() == p.sent) continue;
      iov[n++] = {const_cast<char*>(p.text.data() + p.sent), p.text.size() - p.sent};
      continue;
    }
    const std::string_view v = p.item.value();
    if (p.sent < v.size()) {
      iov[n++] = {const_cast<char*>(v.data() + p.sent), v.size() - p.sent};
      if (n == max) break;
      iov[n++] = {const_cast<char*>(kCrlf.data()), 2};
    } else {
      iov[n++] = {const_cast<char*>(kCrlf.data() + (p.sent - v.size())), p.size() - p.sent};
    }
  }
  return n;
}

void Reply::Consume(size_t bytes) {
  while (bytes > 0) {
    Piece& p = pieces_.front();
    const size_t left = p.size() - p.sent;
    if (bytes < left) {
      p.sent += bytes;
      return;
    }
    bytes -= left;
    pieces_.pop_front();
  }
  while (!pieces_.empty() && pieces_.front().size() == pieces_.front().sent) pieces_.pop_front();
}

std::string Reply::Flatten() const {
  std::string out;
  for (const Piece& p : pieces_) {
    if (p.item) {
      out.append(p.item.value().substr(std::min(p.sent, p.item.value().size())));
      out.append(kCrlf.substr(p.sent > p.item.value().size() ? p.sent - p.item.value().size() : 0));
    } else {
      out.append(p.text, p.sent);
    }
  }
  return out;
}

}  // namespace spillway::server
