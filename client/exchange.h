// The connections of one server, and one request-and-answer with it (internal to client/).
//
// A Pool keeps up to Options::max_idle_connections idle connections. An Exchange takes one (or
// connects), sends, reads the answer, and at Finish gives the connection back when the exchange
// left it in a known state, and tells Health whether the server failed.

#ifndef SPILLWAY_CLIENT_EXCHANGE_H_
#define SPILLWAY_CLIENT_EXCHANGE_H_

#include <memory>
#include <mutex>
#include <span>
#include <string_view>
#include <vector>

#include "client/client.h"
#include "client/connection.h"
#include "client/health.h"

namespace spillway::client {

class Pool;

class Exchange {
 public:
  explicit Exchange(Pool& pool) : pool_(pool) {}
  ~Exchange();  // an exchange never finished closes its connection
  Exchange(const Exchange&) = delete;
  Exchange& operator=(const Exchange&) = delete;

  // Takes an idle connection or opens one; the request timeout starts after it. A failure here is
  // already counted against the server.
  Status Open();
  Status Send(std::string_view bytes);
  // The next answer unit; error lines (ERROR, CLIENT_ERROR, SERVER_ERROR) become their Status.
  // The views point into the connection until the next call.
  Status ReadOne(protocol::Response* response);
  // VALUE units up to END, appended. `requested` (sorted, each once) are the keys asked for and
  // `seen` (as many entries, 0 at first) marks those answered: a VALUE of another key, or a
  // second of one, is a kProtocolError, since the conversation is then out of step.
  Status ReadValues(std::span<const std::string_view> requested, std::span<char> seen,
                    std::vector<Item>* items);
  // STORED, NOT_STORED, EXISTS or NOT_FOUND.
  Status ReadStore(StoreResult* result);
  // The Status for an answer that does not fit the request; the connection is not reused.
  Status Unexpected(const protocol::Response& response);
  Status OutOfStep(const std::string& what);
  // The connection is not to be reused, whatever the outcome (the server was asked to hang up).
  void Retire() { reusable_ = false; }
  // Gives the rest of the exchange until `deadline` (a multi-get, once every server has its
  // request: time spent connecting to the others does not count against this one).
  void SetDeadline(Connection::Clock::time_point deadline) { deadline_ = deadline; }
  // Ends the exchange with its outcome: gives the connection back or closes it, and counts a
  // server failure or a success.
  void Finish(const Status& status);

 private:
  Pool& pool_;
  std::unique_ptr<Connection> connection_;
  Connection::Clock::time_point deadline_;
  bool reusable_ = true;  // false once the conversation may be out of step
};

class Pool {
 public:
  Pool(Health& health, size_t index, const Options& options)
      : health_(health), index_(index), options_(options) {}

  std::unique_ptr<Exchange> Begin() { return std::make_unique<Exchange>(*this); }
  // One request: `read` reads its answer from the Exchange and returns the outcome.
  template <typename ReadAnswer>
  Status Call(std::string_view bytes, ReadAnswer&& read) {
    Exchange exchange(*this);
    Status s = exchange.Open();
    if (!s.ok()) return s;
    s = exchange.Send(bytes);
    if (s.ok()) s = read(exchange);
    exchange.Finish(s);
    return s;
  }
  // Sends quit on the idle connections and closes them.
  void Quit();

 private:
  friend class Exchange;
  std::unique_ptr<Connection> Take();  // an idle connection that is still good, or null
  void Give(std::unique_ptr<Connection> connection);

  Health& health_;
  const size_t index_;
  const Options& options_;
  std::mutex mu_;
  std::vector<std::unique_ptr<Connection>> idle_;
};

}  // namespace spillway::client

#endif  // SPILLWAY_CLIENT_EXCHANGE_H_
