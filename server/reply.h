// The bytes a connection owes its client, in order: text, and item values sent straight from
// item memory (pinned by an ItemRef until they are written). Small values are copied into the
// text instead: an iovec entry costs more than copying a few hundred bytes.
//
// Thread: a Reply that holds pins must be sent and destroyed on the thread of the store the pins
// belong to. Replies built for another shard's connection copy values (pin = false).

#ifndef SPILLWAY_SERVER_REPLY_H_
#define SPILLWAY_SERVER_REPLY_H_

#include <sys/uio.h>

#include <cstddef>
#include <list>
#include <string>
#include <string_view>

#include "storage/store.h"

namespace spillway::server {

class Reply {
 public:
  // Values at least this large are sent from item memory when pinning is allowed.
  static constexpr size_t kPinThreshold = 512;
  static constexpr size_t kTextReserve = 1024;

  // `reserve`: bytes each new text piece reserves (a connection's running answer reserves room
  // for a pipeline's worth; a reply per request reserves nothing).
  explicit Reply(bool pin = true, size_t reserve = 0) : pin_(pin), reserve_(reserve) {}

  void Append(std::string_view text);
  void Append(char c) { Text().push_back(c); }
  // The text tail to append to directly (protocol::Append* functions take a std::string*).
  std::string* text() { return &Text(); }
  // The item's value followed by "\r\n".
  void AppendValue(storage::ItemRef item);
  // Moves `other`'s pieces to the end of this reply.
  void Splice(Reply&& other);

  bool empty() const { return size() == 0; }
  size_t size() const;  // bytes still to send; O(1)
  // iovecs for the bytes at the front, at most `max`; returns how many were filled.
  int Gather(iovec* iov, int max) const;
  // The first `bytes` were sent.
  void Consume(size_t bytes);
  // Everything as one string (tests, and replies that cross to another thread).
  std::string Flatten() const;
  // The same, appended to *out.
  void AppendTo(std::string* out) const;

 private:
  struct Piece {
    std::string text;       // used when !item
    storage::ItemRef item;  // its value, then "\r\n"
    size_t sent = 0;        // bytes of this piece already sent
    size_t size() const { return item ? item.value().size() + 2 : text.size(); }
  };
  std::string& Text();
  Piece& NewPiece();

  bool pin_;
  size_t reserve_;
  // A list: it allocates nothing until used (a Reply per request must be cheap), splices in
  // O(1), and never moves a piece, so iovecs into pieces stay valid while a send is in flight.
  std::list<Piece> pieces_;
  size_t sealed_ = 0;  // unsent bytes of every piece but the last
};

}  // namespace spillway::server

#endif  // SPILLWAY_SERVER_REPLY_H_
