#include "server/reply.h"

#include <algorithm>
#include <utility>

namespace spillway::server {
namespace {
constexpr std::string_view kCrlf = "\r\n";
}  // namespace

Reply::Piece& Reply::NewPiece() {
  // Only the last piece ever grows, so the others' sizes can be kept as a running sum.
  if (!pieces_.empty()) sealed_ += pieces_.back().size() - pieces_.back().sent;
  return pieces_.emplace_back();
}

std::string& Reply::Text() {
  if (pieces_.empty() || pieces_.back().item) {
    // A connection's running answer reserves room for a pipeline's worth of small answers, so
    // that appending them does not reallocate the text over and over (it is freed once sent).
    NewPiece().text.reserve(reserve_);
  }
  return pieces_.back().text;
}

void Reply::Append(std::string_view text) { Text().append(text); }

size_t Reply::size() const {
  if (pieces_.empty()) return 0;
  return sealed_ + pieces_.back().size() - pieces_.back().sent;
}

void Reply::AppendValue(storage::ItemRef item) {
  const std::string_view value = item.value();
  if (!pin_ || value.size() < kPinThreshold) {
    std::string& t = Text();
    t.append(value);
    t.append(kCrlf);
    return;
  }
  NewPiece().item = std::move(item);
}

void Reply::Splice(Reply&& other) {
  if (other.pieces_.empty()) return;
  // The nodes move as they are (no copy, no move of a Piece): a piece whose bytes an in-flight
  // send points at stays where it is.
  if (!pieces_.empty()) sealed_ += pieces_.back().size() - pieces_.back().sent;
  sealed_ += other.sealed_;
  pieces_.splice(pieces_.end(), other.pieces_);
  other.sealed_ = 0;
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
    const bool last = pieces_.size() == 1;
    const size_t left = p.size() - p.sent;
    const size_t take = std::min(bytes, left);
    p.sent += take;
    bytes -= take;
    if (!last) sealed_ -= take;
    if (take < left) return;
    pieces_.pop_front();
  }
  while (!pieces_.empty() && pieces_.front().size() == pieces_.front().sent) {
    // An empty front piece (nothing unsent in it): drop it, keeping the running sum right.
    pieces_.pop_front();
  }
  if (pieces_.size() <= 1) sealed_ = 0;
}

std::string Reply::Flatten() const {
  std::string out;
  AppendTo(&out);
  return out;
}

void Reply::AppendTo(std::string* out) const {
  for (const Piece& p : pieces_) {
    if (p.item) {
      out->append(p.item.value().substr(std::min(p.sent, p.item.value().size())));
      out->append(
          kCrlf.substr(p.sent > p.item.value().size() ? p.sent - p.item.value().size() : 0));
    } else {
      out->append(p.text, p.sent);
    }
  }
}

}  // namespace spillway::server
