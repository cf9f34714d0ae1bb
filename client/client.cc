#include "client/client.h"

#include <algorithm>
#include <mutex>

#include "client/connection.h"
#include "client/exchange.h"
#include "client/health.h"
#include "protocol/encoder.h"
#include "protocol/request.h"

namespace spillway::client {

using protocol::Command;
using protocol::Request;
using protocol::Response;
using protocol::ResponseType;

namespace {

// memcached's rule: 1 to 250 bytes, none of them a space or a control character.
Status CheckKey(std::string_view key) {
  if (key.empty() || key.size() > protocol::kMaxKeyLength) {
    return Status(StatusCode::kInvalidArgument,
                  "a key is 1 to 250 bytes; this one has " + std::to_string(key.size()));
  }
  for (char c : key) {
    auto byte = static_cast<unsigned char>(c);
    if (byte <= ' ' || byte == 0x7f) {
      return Status(StatusCode::kInvalidArgument,
                    "a key has no spaces or control characters: \"" + std::string(key) + "\"");
    }
  }
  return Status::Ok();
}

// Meta flags are sent as given: a control character (a line break above all) would end the
// request early and send the rest as another command.
Status CheckFlags(std::string_view flags) {
  for (char c : flags) {
    auto byte = static_cast<unsigned char>(c);
    if (byte < ' ' || byte == 0x7f) {
      return Status(StatusCode::kInvalidArgument, "meta flags hold no control characters");
    }
  }
  return Status::Ok();
}

// A bound on the lines of one stats answer (memcached's longest has a few hundred), so that a
// confused server cannot grow the list without end.
constexpr size_t kMaxStats = 100'000;

// A get line stays below memcached's and spillway's 2048-byte line limit.
constexpr size_t kMaxGetLine = 2000;

Command RetrievalCommand(Client::Retrieval how) {
  switch (how) {
    case Client::Retrieval::kGets:
      return Command::kGets;
    case Client::Retrieval::kGat:
      return Command::kGat;
    case Client::Retrieval::kGats:
      return Command::kGats;
    case Client::Retrieval::kGet:
      break;
  }
  return Command::kGet;
}

}  // namespace

struct Client::Impl {
  Impl(std::vector<ServerAddress> servers, const Options& options)
      : options(options), health(std::move(servers), options) {
    pools.reserve(health.servers().size());
    for (size_t i = 0; i < health.servers().size(); ++i) {
      pools.push_back(std::make_unique<Pool>(health, i, this->options));
    }
  }

  // Where `key` goes now, or why it goes nowhere.
  Status Route(std::string_view key, size_t* index) {
    if (Status s = CheckKey(key); !s.ok()) return s;
    return health.Route(KetamaRing::Hash(key), index);
  }

  // Sends one request for `key` and reads its answer with `read`.
  template <typename ReadAnswer>
  Status OnKey(std::string_view key, const Request& request, ReadAnswer&& read) {
    size_t index = 0;
    if (Status s = Route(key, &index); !s.ok()) return s;
    std::string bytes;
    protocol::EncodeRequest(request, &bytes);
    return pools[index]->Call(bytes, read);
  }

  Status Retrieve(Command command, std::string_view key, int64_t exptime,
                  std::optional<Item>* item) {
    Request r;
    r.command = command;
    r.key = key;
    r.exptime = exptime;
    item->reset();
    return OnKey(key, r, [&](Exchange& x) {
      std::vector<Item> items;
      const std::string_view requested[] = {key};
      char seen[1] = {0};
      Status s = x.ReadValues(requested, seen, &items);
      if (s.ok() && !items.empty()) *item = std::move(items.front());
      return s;
    });
  }

  Status Store(Command command, std::string_view key, std::string_view value, uint32_t flags,
               int64_t exptime, uint64_t cas, StoreResult* result) {
    Request r;
    r.command = command;
    r.key = key;
    r.value = value;
    r.client_flags = flags;
    r.exptime = exptime;
    r.cas_unique = cas;
    return OnKey(key, r, [&](Exchange& x) { return x.ReadStore(result); });
  }

  Status Arithmetic(Command command, std::string_view key, uint64_t delta,
                    std::optional<uint64_t>* value) {
    Request r;
    r.command = command;
    r.key = key;
    r.delta = delta;
    value->reset();
    return OnKey(key, r, [&](Exchange& x) {
      Response response;
      if (Status s = x.ReadOne(&response); !s.ok()) return s;
      if (response.type == ResponseType::kNumber) {
        *value = response.number;
        return Status::Ok();
      }
      if (response.type == ResponseType::kNotFound) return Status::Ok();
      return x.Unexpected(response);
    });
  }

  // delete and touch: `yes` or NOT_FOUND.
  Status Found(const Request& r, ResponseType yes, bool* found) {
    if (found != nullptr) *found = false;
    return OnKey(r.key, r, [&](Exchange& x) {
      Response response;
      if (Status s = x.ReadOne(&response); !s.ok()) return s;
      if (response.type == yes || response.type == ResponseType::kNotFound) {
        if (found != nullptr) *found = response.type == yes;
        return Status::Ok();
      }
      return x.Unexpected(response);
    });
  }

  Status Meta(Command command, std::string_view key, std::string_view value, std::string_view flags,
              MetaResult* result) {
    Request r;
    r.command = command;
    r.key = key;
    r.key_token = key;
    r.value = value;
    r.meta.tokens = flags;
    if (Status s = CheckFlags(flags); !s.ok()) return s;
    std::string bytes;
    protocol::EncodeRequest(r, &bytes);
    // With q, a miss (mg) or a success (the others) sends nothing: mn marks the end instead.
    bool quiet = false;
    protocol::TokenIterator tokens(flags);
    for (std::string_view t; tokens.Next(&t);) quiet = quiet || t == "q";
    if (quiet) bytes.append("mn\r\n");
    size_t index = 0;
    if (Status s = Route(key, &index); !s.ok()) return s;
    *result = MetaResult();
    return pools[index]->Call(bytes, [&](Exchange& x) {
      Response response;
      if (Status s = x.ReadOne(&response); !s.ok()) return s;
      if (quiet && response.type == ResponseType::kMetaNoop) {
        result->code =
            command == Command::kMetaGet ? ResponseType::kMetaMiss : ResponseType::kMetaHeader;
        return Status::Ok();
      }
      switch (response.type) {
        case ResponseType::kMetaValue:
        case ResponseType::kMetaHeader:
        case ResponseType::kMetaMiss:
        case ResponseType::kMetaNotFound:
        case ResponseType::kMetaNotStored:
        case ResponseType::kMetaExists:
          result->code = response.type;
          result->value = std::string(response.value);
          result->flags = std::string(response.text);
          break;
        default:
          return x.Unexpected(response);
      }
      if (!quiet) return Status::Ok();
      if (Status s = x.ReadOne(&response); !s.ok()) return s;
      return response.type == ResponseType::kMetaNoop ? Status::Ok() : x.Unexpected(response);
    });
  }

  // A command for a whole server that answers one line of type `want`.
  Status Simple(size_t index, const Request& r, ResponseType want, std::string* text = nullptr) {
    std::string bytes;
    protocol::EncodeRequest(r, &bytes);
    return pools[index]->Call(bytes, [&](Exchange& x) {
      Response response;
      if (Status s = x.ReadOne(&response); !s.ok()) return s;
      if (response.type != want) return x.Unexpected(response);
      if (text != nullptr) *text = std::string(response.text);
      return Status::Ok();
    });
  }

  Status OnEveryServer(const Request& r, ResponseType want) {
    Status first;
    for (size_t i = 0; i < pools.size(); ++i) {
      Status s = Simple(i, r, want);
      if (first.ok() && !s.ok()) first = s;
    }
    return first;
  }

  Status GetMulti(std::span<const std::string> keys, std::vector<Item>* items, Retrieval how,
                  int64_t exptime);

  Options options;
  Health health;
  std::vector<std::unique_ptr<Pool>> pools;
};

Status Client::Impl::GetMulti(std::span<const std::string> keys, std::vector<Item>* items,
                              Retrieval how, int64_t exptime) {
  // Group the keys by server, each once: duplicates would only come back twice.
  std::vector<std::vector<std::string_view>> by_server(pools.size());
  Status first;
  auto note = [&](const Status& s) {
    if (first.ok() && !s.ok()) first = s;
  };
  for (const std::string& key : keys) {
    size_t index = 0;
    Status s = Route(key, &index);
    if (s.code() == StatusCode::kInvalidArgument || s.code() == StatusCode::kNoServers) return s;
    if (s.ok()) {
      by_server[index].push_back(key);
    } else {
      note(s);  // a server failing fast: its keys get no answer, the others' still do
    }
  }
  Request r;
  r.command = RetrievalCommand(how);
  r.exptime = exptime;
  // Send every server its get lines first, so that they all work at once; then gather.
  std::vector<std::unique_ptr<Exchange>> sent(pools.size());
  std::vector<size_t> lines(pools.size(), 0);
  for (size_t i = 0; i < pools.size(); ++i) {
    std::vector<std::string_view>& group = by_server[i];
    if (group.empty()) continue;
    std::sort(group.begin(), group.end());
    group.erase(std::unique(group.begin(), group.end()), group.end());
    std::string bytes;
    std::string line_keys;
    auto flush_line = [&] {
      r.keys = line_keys;
      protocol::EncodeRequest(r, &bytes);
      ++lines[i];
      line_keys.clear();
    };
    for (std::string_view key : group) {
      if (!line_keys.empty() && line_keys.size() + key.size() + 1 > kMaxGetLine) flush_line();
      if (!line_keys.empty()) line_keys.push_back(' ');
      line_keys.append(key);
    }
    flush_line();
    sent[i] = pools[i]->Begin();
    if (Status s = sent[i]->Open(); !s.ok()) {
      note(s);
      sent[i].reset();
      continue;
    }
    if (Status s = sent[i]->Send(bytes); !s.ok()) {
      note(s);
      sent[i]->Finish(s);
      sent[i].reset();
    }
  }
  // Reading starts once every server has its request: connecting to one must not use up the
  // time another has to answer.
  const auto read_deadline = Connection::Clock::now() + options.request_timeout;
  for (size_t i = 0; i < pools.size(); ++i) {
    if (!sent[i]) continue;
    sent[i]->SetDeadline(read_deadline);
    std::vector<char> seen(by_server[i].size(), 0);
    Status s;
    for (size_t line = 0; line < lines[i] && s.ok(); ++line) {
      s = sent[i]->ReadValues(by_server[i], seen, items);
    }
    note(s);
    sent[i]->Finish(s);  // after an error the connection is closed, whatever is left unread
  }
  return first;
}

Status Client::Create(std::vector<ServerAddress> servers, const Options& options,
                      std::unique_ptr<Client>* client) {
  if (servers.empty()) return Status(StatusCode::kInvalidArgument, "no servers were given");
  for (const ServerAddress& s : servers) {
    if (s.host.empty() || s.port == 0) {
      return Status(StatusCode::kInvalidArgument,
                    "server \"" + s.ToString() + "\" has no host or port");
    }
  }
  if (options.failure_limit == 0) {
    return Status(StatusCode::kInvalidArgument, "failure_limit must be at least 1");
  }
  constexpr auto kDay = std::chrono::hours(24);
  if (options.connect_timeout <= options.connect_timeout.zero() ||
      options.request_timeout <= options.request_timeout.zero() ||
      options.retry_interval < options.retry_interval.zero() || options.connect_timeout > kDay ||
      options.request_timeout > kDay || options.retry_interval > kDay) {
    return Status(StatusCode::kInvalidArgument,
                  "timeouts are above 0 and the retry interval at least 0, all at most a day");
  }
  client->reset(new Client(std::make_unique<Impl>(std::move(servers), options)));
  return Status::Ok();
}

Client::Client(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Client::~Client() = default;

Status Client::Get(std::string_view key, std::optional<Item>* item) {
  return impl_->Retrieve(Command::kGet, key, 0, item);
}
Status Client::Gets(std::string_view key, std::optional<Item>* item) {
  return impl_->Retrieve(Command::kGets, key, 0, item);
}
Status Client::Gat(std::string_view key, int64_t exptime, std::optional<Item>* item) {
  return impl_->Retrieve(Command::kGat, key, exptime, item);
}
Status Client::Gats(std::string_view key, int64_t exptime, std::optional<Item>* item) {
  return impl_->Retrieve(Command::kGats, key, exptime, item);
}
Status Client::GetMulti(std::span<const std::string> keys, std::vector<Item>* items, Retrieval how,
                        int64_t exptime) {
  return impl_->GetMulti(keys, items, how, exptime);
}

Status Client::Set(std::string_view key, std::string_view value, uint32_t flags, int64_t exptime,
                   StoreResult* result) {
  return impl_->Store(Command::kSet, key, value, flags, exptime, 0, result);
}
Status Client::Add(std::string_view key, std::string_view value, uint32_t flags, int64_t exptime,
                   StoreResult* result) {
  return impl_->Store(Command::kAdd, key, value, flags, exptime, 0, result);
}
Status Client::Replace(std::string_view key, std::string_view value, uint32_t flags,
                       int64_t exptime, StoreResult* result) {
  return impl_->Store(Command::kReplace, key, value, flags, exptime, 0, result);
}
Status Client::Append(std::string_view key, std::string_view value, StoreResult* result) {
  return impl_->Store(Command::kAppend, key, value, 0, 0, 0, result);
}
Status Client::Prepend(std::string_view key, std::string_view value, StoreResult* result) {
  return impl_->Store(Command::kPrepend, key, value, 0, 0, 0, result);
}
Status Client::Cas(std::string_view key, std::string_view value, uint64_t cas, uint32_t flags,
                   int64_t exptime, StoreResult* result) {
  return impl_->Store(Command::kCas, key, value, flags, exptime, cas, result);
}

Status Client::Incr(std::string_view key, uint64_t delta, std::optional<uint64_t>* value) {
  return impl_->Arithmetic(Command::kIncr, key, delta, value);
}
Status Client::Decr(std::string_view key, uint64_t delta, std::optional<uint64_t>* value) {
  return impl_->Arithmetic(Command::kDecr, key, delta, value);
}
Status Client::Delete(std::string_view key, bool* found) {
  Request r;
  r.command = Command::kDelete;
  r.key = key;
  return impl_->Found(r, ResponseType::kDeleted, found);
}
Status Client::Touch(std::string_view key, int64_t exptime, bool* found) {
  Request r;
  r.command = Command::kTouch;
  r.key = key;
  r.exptime = exptime;
  return impl_->Found(r, ResponseType::kTouched, found);
}

Status Client::MetaGet(std::string_view key, std::string_view flags, MetaResult* result) {
  return impl_->Meta(Command::kMetaGet, key, {}, flags, result);
}
Status Client::MetaSet(std::string_view key, std::string_view value, std::string_view flags,
                       MetaResult* result) {
  return impl_->Meta(Command::kMetaSet, key, value, flags, result);
}
Status Client::MetaDelete(std::string_view key, std::string_view flags, MetaResult* result) {
  return impl_->Meta(Command::kMetaDelete, key, {}, flags, result);
}
Status Client::MetaArithmetic(std::string_view key, std::string_view flags, MetaResult* result) {
  return impl_->Meta(Command::kMetaArithmetic, key, {}, flags, result);
}

Status Client::MetaDebug(std::string_view key, std::string* text) {
  Request r;
  r.command = Command::kMetaDebug;
  r.key = key;
  r.key_token = key;
  text->clear();
  return impl_->OnKey(key, r, [&](Exchange& x) {
    Response response;
    if (Status s = x.ReadOne(&response); !s.ok()) return s;
    if (response.type == ResponseType::kMetaMiss) return Status::Ok();
    if (response.type != ResponseType::kMetaDebug) return x.Unexpected(response);
    *text = std::string(response.text);
    return Status::Ok();
  });
}

Status Client::MetaNoop(size_t index) {
  if (index >= impl_->pools.size()) return Status(StatusCode::kInvalidArgument, "no such server");
  Request r;
  r.command = Command::kMetaNoop;
  return impl_->Simple(index, r, ResponseType::kMetaNoop);
}

Status Client::FlushAll(int64_t delay) {
  if (delay < 0) return Status(StatusCode::kInvalidArgument, "flush_all takes a delay >= 0");
  Request r;
  r.command = Command::kFlushAll;
  r.exptime = delay;
  return impl_->OnEveryServer(r, ResponseType::kOk);
}

Status Client::Verbosity(uint32_t level) {
  Request r;
  r.command = Command::kVerbosity;
  r.level = level;
  return impl_->OnEveryServer(r, ResponseType::kOk);
}

Status Client::Stats(size_t index, std::string_view group,
                     std::vector<std::pair<std::string, std::string>>* stats) {
  if (index >= impl_->pools.size()) return Status(StatusCode::kInvalidArgument, "no such server");
  if (group.find_first_of(" \r\n") != std::string_view::npos) {
    return Status(StatusCode::kInvalidArgument, "a stats group is one word");
  }
  Request r;
  r.command = Command::kStats;
  r.argument = group;
  std::string bytes;
  protocol::EncodeRequest(r, &bytes);
  stats->clear();
  return impl_->pools[index]->Call(bytes, [&](Exchange& x) {
    for (;;) {
      Response response;
      if (Status s = x.ReadOne(&response); !s.ok()) return s;
      // `stats reset` answers RESET and nothing else.
      if (response.type == ResponseType::kEnd || response.type == ResponseType::kReset) {
        return Status::Ok();
      }
      if (response.type != ResponseType::kStat) return x.Unexpected(response);
      if (stats->size() >= kMaxStats) return x.OutOfStep("more stats than any server has");
      stats->emplace_back(response.name, response.text);
    }
  });
}

Status Client::Version(size_t index, std::string* version) {
  if (index >= impl_->pools.size()) return Status(StatusCode::kInvalidArgument, "no such server");
  Request r;
  r.command = Command::kVersion;
  return impl_->Simple(index, r, ResponseType::kVersion, version);
}

Status Client::Shutdown(size_t index, ShutdownMode mode) {
  if (index >= impl_->pools.size()) return Status(StatusCode::kInvalidArgument, "no such server");
  Request r;
  r.command = Command::kShutdown;
  r.argument = mode == ShutdownMode::kGraceful ? "graceful" : "";
  std::string bytes;
  protocol::EncodeRequest(r, &bytes);
  return impl_->pools[index]->Call(bytes, [&](Exchange& x) {
    x.Retire();
    Response response;
    Status s = x.ReadOne(&response);
    if (s.code() == StatusCode::kIoError) return Status::Ok();  // it hung up: it is going
    return s.ok() ? x.Unexpected(response) : s;
  });
}

void Client::Quit() {
  for (auto& pool : impl_->pools) pool->Quit();
}

size_t Client::server_count() const { return impl_->health.servers().size(); }
const ServerAddress& Client::server(size_t index) const {
  return impl_->health.servers().at(index);
}

uint32_t Client::ServerFor(std::string_view key) {
  return impl_->health.ServerFor(KetamaRing::Hash(key));
}

bool Client::IsDown(size_t index) { return impl_->health.IsDown(index); }

bool MetaResult::Has(char flag) const {
  protocol::TokenIterator tokens(flags);
  for (std::string_view t; tokens.Next(&t);) {
    if (t.front() == flag) return true;
  }
  return false;
}

std::string_view MetaResult::Flag(char flag) const {
  protocol::TokenIterator tokens(flags);
  for (std::string_view t; tokens.Next(&t);) {
    if (t.front() == flag) return t.substr(1);
  }
  return {};
}

}  // namespace spillway::client
