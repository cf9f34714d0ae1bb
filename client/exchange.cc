#include "client/exchange.h"

#include <algorithm>

namespace spillway::client {

using protocol::Response;
using protocol::ResponseType;

Exchange::~Exchange() = default;

Status Exchange::Open() {
  connection_ = pool_.Take();
  if (connection_ == nullptr) {
    const ServerAddress& server = pool_.health_.servers()[pool_.index_];
    Status s = Connection::Open(server, Connection::Clock::now() + pool_.options_.connect_timeout,
                                &connection_);
    if (!s.ok()) {
      pool_.health_.Failed(pool_.index_);
      return s;
    }
  }
  deadline_ = Connection::Clock::now() + pool_.options_.request_timeout;
  return Status::Ok();
}

Status Exchange::Send(std::string_view bytes) { return connection_->Send(bytes, deadline_); }

Status Exchange::ReadOne(Response* response) {
  if (Status s = connection_->Read(response, deadline_); !s.ok()) return s;
  std::string text(response->text);
  // After an error line the rest of the answer is unknown: whether more follows (a proxy's END,
  // the MN after a quiet meta command) depends on the server. The connection is not reused.
  switch (response->type) {
    case ResponseType::kError:
      reusable_ = false;
      return Status(StatusCode::kError, connection_->peer() + ": ERROR" + text);
    case ResponseType::kClientError:
      reusable_ = false;
      return Status(StatusCode::kClientError, text);
    case ResponseType::kServerError:
      reusable_ = false;
      return Status(StatusCode::kServerError, text);
    default:
      return Status::Ok();
  }
}

Status Exchange::OutOfStep(const std::string& what) {
  reusable_ = false;
  return Status(StatusCode::kProtocolError, connection_->peer() + ": " + what);
}

Status Exchange::Unexpected(const Response& response) {
  reusable_ = false;
  std::string word(protocol::ResponseWord(response.type));
  return Status(StatusCode::kProtocolError,
                connection_->peer() + ": unexpected answer " + (word.empty() ? "<number>" : word));
}

Status Exchange::ReadValues(std::span<const std::string_view> requested, std::span<char> seen,
                            std::vector<Item>* items) {
  for (;;) {
    Response response;
    if (Status s = ReadOne(&response); !s.ok()) return s;
    if (response.type == ResponseType::kEnd) return Status::Ok();
    if (response.type != ResponseType::kValue) return Unexpected(response);
    auto it = std::lower_bound(requested.begin(), requested.end(), response.key);
    if (it == requested.end() || *it != response.key) {
      return OutOfStep("a value for \"" + std::string(response.key) +
                       "\", which was not asked for");
    }
    // A key answered twice is out of step too, and would let a server grow *items without end.
    char& answered = seen[static_cast<size_t>(it - requested.begin())];
    if (answered) return OutOfStep("a second value for \"" + std::string(response.key) + "\"");
    answered = 1;
    items->push_back(Item{std::string(response.key), std::string(response.value),
                          response.client_flags, response.cas});
  }
}

Status Exchange::ReadStore(StoreResult* result) {
  Response response;
  if (Status s = ReadOne(&response); !s.ok()) return s;
  StoreResult outcome;
  switch (response.type) {
    case ResponseType::kStored:
      outcome = StoreResult::kStored;
      break;
    case ResponseType::kNotStored:
      outcome = StoreResult::kNotStored;
      break;
    case ResponseType::kExists:
      outcome = StoreResult::kExists;
      break;
    case ResponseType::kNotFound:
      outcome = StoreResult::kNotFound;
      break;
    default:
      return Unexpected(response);
  }
  if (result != nullptr) *result = outcome;
  return Status::Ok();
}

void Exchange::Finish(const Status& status) {
  if (connection_ == nullptr) return;
  if (status.IsServerFailure()) {
    pool_.health_.Failed(pool_.index_);
    connection_.reset();
    return;
  }
  pool_.health_.Succeeded(pool_.index_);
  if (reusable_) pool_.Give(std::move(connection_));
  connection_.reset();
}

std::unique_ptr<Connection> Pool::Take() {
  std::lock_guard lock(mu_);
  while (!idle_.empty()) {
    std::unique_ptr<Connection> connection = std::move(idle_.back());
    idle_.pop_back();
    if (!connection->Stale()) return connection;
  }
  return nullptr;
}

void Pool::Give(std::unique_ptr<Connection> connection) {
  std::lock_guard lock(mu_);
  if (idle_.size() < options_.max_idle_connections) idle_.push_back(std::move(connection));
}

void Pool::Quit() {
  std::vector<std::unique_ptr<Connection>> closing;
  {
    std::lock_guard lock(mu_);
    closing.swap(idle_);
  }
  for (auto& connection : closing) {
    connection->Send("quit\r\n", Connection::Clock::now() + options_.request_timeout).IgnoreError();
  }
}

}  // namespace spillway::client
