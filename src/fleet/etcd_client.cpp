// etcd v3 through its JSON gateway (grpc-gateway in front of the gRPC API):
// POST /v3/kv/range, /v3/kv/txn, /v3/kv/compaction, /v3/auth/authenticate
// with one JSON object each way, and POST /v3/watch, whose answer is a
// chunked body of newline-ended JSON objects ({"result": WatchResponse} or
// {"error": ...}) for as long as the watch lives. Proto3's JSON mapping
// writes int64 as strings, bytes as base64, and leaves defaults out.
#include "fleet/etcd_client.h"

#include <algorithm>
#include <utility>

#include "fleet/etcd_http.h"
#include "fleet/etcd_wire.h"
#include "tls/client_context.h"

namespace sluice::fleet {
namespace {

// An answer larger than this is refused: a range of 5,000 routes is about
// 1 MB, and etcd's own limit on a request (so on one transaction's watch
// message) is 1.5 MB unless raised. Read, an answer takes up to ~11 times
// its size (values are bounded by its size: etcd_wire.h).
constexpr std::size_t kMaxReplyBytes = 32 * 1024 * 1024;
// One watch message; a transaction's events arrive in one message.
constexpr std::size_t kMaxWatchMessageBytes = 32 * 1024 * 1024;
// The body of an error answer.
constexpr std::size_t kMaxErrorBytes = 64 * 1024;

using http1::Clock;
using http1::Deadline;
using http1::Io;

// gRPC status codes (the gateway's "code") after which the same request may
// succeed later or elsewhere: CANCELLED, UNKNOWN, DEADLINE_EXCEEDED,
// RESOURCE_EXHAUSTED, ABORTED, INTERNAL, UNAVAILABLE. The rest (invalid
// argument, permission denied, unauthenticated, ...) are refusals.
bool is_transient_code(std::int64_t code) {
  switch (code) {
    case 1:
    case 2:
    case 4:
    case 8:
    case 10:
    case 13:
    case 14:
      return true;
    default:
      return false;
  }
}

// A token that stopped being valid (etcd's simple tokens expire after five
// minutes unused, and a user's go when its password or roles change):
// authenticate again.
bool is_stale_token(std::int64_t code, std::string_view message) {
  return code == 16 || message.find("invalid auth token") != std::string_view::npos ||
         message.find("revision of auth store is old") != std::string_view::npos;
}

// A token goes into a header field: visible ASCII only.
bool is_safe_token(std::string_view token) {
  return !token.empty() && token.size() <= 4096 &&
         std::all_of(token.begin(), token.end(), [](char c) { return c > 0x20 && c < 0x7f; });
}

// The key a range or watch of every key under `prefix` starts at: etcd
// refuses an empty key, and "\0" with range_end "\0" is the whole keyspace.
std::string_view range_key(std::string_view prefix) {
  return prefix.empty() ? std::string_view("\0", 1) : prefix;
}

// Text from etcd for a message that ends up in a log: at most 512 bytes,
// control characters (a line break could forge a log line) as '?'.
std::string printable(std::string_view text) {
  std::string out(text.substr(0, 512));
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  }
  return out;
}

std::string trimmed(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\r' || text.front() == '\t')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\r' || text.back() == '\t')) {
    text.remove_suffix(1);
  }
  return std::string(text);
}

// What a failing answer's body says: {"error": "...", "message": "...",
// "code": N}; anything else is described by its status.
struct Refusal {
  std::string message;
  std::int64_t code = 0;
};
Refusal read_refusal(int status, std::string_view body) {
  Refusal r;
  std::string error;
  if (auto json = wire::parse_json_object(body, error)) {
    r.code = wire::int64_member(&*json, "code").value_or(0);
    r.message = wire::string_member(&*json, "message").value_or("");
    if (r.message.empty()) r.message = wire::string_member(&*json, "error").value_or("");
  }
  r.message = r.message.empty() ? "HTTP status " + std::to_string(status) : printable(r.message);
  if (r.code == 0) r.code = status >= 500 ? 14 : 3;
  return r;
}

bool read_kv(const wire::Json* node, EtcdKeyValue& kv) {
  if (node == nullptr || node->type != wire::Json::Type::object) return false;
  auto key = wire::bytes_member(node, "key");
  auto value = wire::bytes_member(node, "value");
  auto mod = wire::int64_member(node, "mod_revision");
  if (!key || !value || !mod) return false;
  kv.key = std::move(*key);
  kv.value = std::move(*value);
  kv.mod_revision = *mod;
  return true;
}

// One HTTP exchange's outcome, before any retry.
struct Exchange {
  std::optional<wire::Json> json;  // a 200 answer's object
  EtcdError error;
  bool stale_token = false;  // refused for its token: authenticate again
};

std::string request_text(const http1::Endpoint& endpoint, std::string_view path,
                         std::string_view token, std::string_view body) {
  std::string text;
  text.reserve(body.size() + 256);
  text.append("POST ").append(path).append(" HTTP/1.1\r\nHost: ").append(endpoint.authority);
  text.append("\r\nContent-Type: application/json\r\nContent-Length: ");
  text.append(std::to_string(body.size())).append("\r\n");
  if (!token.empty()) text.append("Authorization: ").append(token).append("\r\n");
  text.append("\r\n").append(body);
  return text;
}

EtcdError failure(const http1::Endpoint& endpoint, const std::string& what, bool unavailable) {
  return EtcdError{"etcd " + endpoint.url + ": " + what, unavailable};
}

// A refusal or failure answer as an error; `stale_token` when the token
// was the reason.
Exchange refused(const http1::Endpoint& endpoint, int status, std::string_view body) {
  const Refusal r = read_refusal(status, body);
  Exchange out;
  out.error = failure(endpoint, r.message, is_transient_code(r.code));
  out.stale_token = is_stale_token(r.code, r.message);
  return out;
}

// The endpoints, the TLS context and the connection kept between calls.
class Transport {
 public:
  explicit Transport(const EtcdSettings& settings);

  const std::string& setup_error() const { return setup_error_; }
  std::size_t endpoint_count() const { return endpoints_.size(); }
  std::uint64_t timeout_ms() const { return timeout_ms_; }

  // POSTs `body` to `path`: on the endpoint that answered last, then on
  // each other one in turn while they are unavailable.
  Exchange post(std::string_view path, std::string_view token, std::string_view body);
  // A new connection (for a watch), to the endpoints in turn; `index`
  // says which one answered.
  std::unique_ptr<http1::Connection> open_any(EtcdError& error, std::size_t& index,
                                              const std::atomic<bool>& stop);
  const http1::Endpoint& endpoint(std::size_t index) const { return endpoints_[index]; }
  const std::string& current_url() const { return endpoints_[current_].url; }

 private:
  Exchange post_to(std::size_t index, std::string_view path, std::string_view token,
                   std::string_view body);
  // One request on `connection`; `dropped` says the server had closed it
  // (the write failed, or it ended without a byte of answer): on a kept
  // connection, the request is sent again on a new one.
  Exchange exchange(http1::Connection& connection, const std::string& request, Deadline deadline,
                    bool& reusable, bool& dropped);

  std::vector<http1::Endpoint> endpoints_;
  std::string setup_error_;
  std::shared_ptr<tls::ClientContext> tls_;
  std::uint64_t timeout_ms_;
  std::size_t current_ = 0;
  std::unique_ptr<http1::Connection> idle_;
  std::size_t idle_endpoint_ = 0;
};

Transport::Transport(const EtcdSettings& settings) : timeout_ms_(settings.timeout_ms) {
  bool any_tls = false;
  for (const auto& url : settings.endpoints) {
    std::string error;
    if (auto e = http1::parse_endpoint(url, error)) {
      any_tls = any_tls || e->tls;
      endpoints_.push_back(std::move(*e));
    } else if (setup_error_.empty()) {
      setup_error_ = error;
    }
  }
  if (endpoints_.empty() && setup_error_.empty()) setup_error_ = "no etcd endpoint";
  if (any_tls && setup_error_.empty()) {
    tls::ClientSettings tls_settings;
    tls_settings.ca = settings.ca_file;
    tls_settings.certificate = settings.cert_file;
    tls_settings.key = settings.key_file;
    std::string error;
    tls_ = tls::ClientContext::create(tls_settings, error);
    if (!tls_) setup_error_ = "etcd TLS: " + error;
  }
}

Exchange Transport::post(std::string_view path, std::string_view token, std::string_view body) {
  Exchange last;
  for (std::size_t tried = 0; tried < endpoints_.size(); ++tried) {
    const std::size_t index = (current_ + tried) % endpoints_.size();
    last = post_to(index, path, token, body);
    if (last.json || !last.error.unavailable) {
      current_ = index;
      return last;
    }
  }
  return last;
}

Exchange Transport::post_to(std::size_t index, std::string_view path, std::string_view token,
                            std::string_view body) {
  const http1::Endpoint& endpoint = endpoints_[index];
  const Deadline deadline = Clock::now() + std::chrono::milliseconds(timeout_ms_);
  const std::string request = request_text(endpoint, path, token, body);
  std::unique_ptr<http1::Connection> connection;
  if (idle_ && idle_endpoint_ == index) {
    connection = std::move(idle_);
    bool reusable = false;
    bool dropped = false;
    Exchange out = exchange(*connection, request, deadline, reusable, dropped);
    if (!dropped) {
      if (reusable) idle_ = std::move(connection);
      return out;
    }
    // The server had closed the kept connection: a new one, once.
  }
  idle_.reset();
  std::string error;
  connection = http1::Connection::open(endpoint, tls_.get(), deadline, error);
  if (!connection) {
    Exchange out;
    out.error = failure(endpoint, error, true);
    return out;
  }
  bool reusable = false;
  bool dropped = false;
  Exchange out = exchange(*connection, request, deadline, reusable, dropped);
  if (reusable) {
    idle_ = std::move(connection);
    idle_endpoint_ = index;
  }
  return out;
}

Exchange Transport::exchange(http1::Connection& connection, const std::string& request,
                             Deadline deadline, bool& reusable, bool& dropped) {
  const http1::Endpoint& endpoint = connection.endpoint();
  Exchange out;
  std::string error;
  if (const Io io = connection.write_all(request, deadline, error); io != Io::ok) {
    out.error = failure(endpoint, error, true);
    dropped = io == Io::failed;
    return out;
  }
  http1::ResponseReader reader(connection);
  if (reader.read_head(deadline, nullptr, error) != Io::ok) {
    out.error = failure(endpoint, error, true);
    dropped = reader.dropped_unanswered();
    return out;
  }
  std::string body;
  const std::size_t max = reader.status() == 200 ? kMaxReplyBytes : kMaxErrorBytes;
  if (reader.read_whole_body(body, max, deadline, error) != Io::ok) {
    out.error = failure(endpoint, error, true);
    return out;
  }
  reusable = reader.reusable();
  if (reader.status() != 200) return refused(endpoint, reader.status(), body);
  out.json = wire::parse_json_object(body, error);
  if (!out.json) out.error = failure(endpoint, "malformed answer: " + error, true);
  return out;
}

std::unique_ptr<http1::Connection> Transport::open_any(EtcdError& error, std::size_t& index,
                                                       const std::atomic<bool>& stop) {
  for (std::size_t tried = 0; tried < endpoints_.size(); ++tried) {
    index = (current_ + tried) % endpoints_.size();
    std::string why;
    const Deadline deadline = Clock::now() + std::chrono::milliseconds(timeout_ms_);
    if (stop.load()) break;
    if (auto c = http1::Connection::open(endpoints_[index], tls_.get(), deadline, why, &stop)) {
      current_ = index;
      return c;
    }
    error = failure(endpoints_[index], why, true);
  }
  return nullptr;
}

}  // namespace

// Nested in EtcdClient, so it may keep the client's token and last error.
struct EtcdClient::State {
  explicit State(const EtcdSettings& settings) : transport(settings) {}

  // POSTs with the token (authenticating first when there is none yet, and
  // once more when etcd says it went stale); the answer's object or why not.
  std::optional<wire::Json> call(EtcdClient& client, std::string_view path, std::string_view body);
  bool authenticate(EtcdClient& client);
  std::optional<wire::Json> fail(EtcdClient& client, EtcdError error) {
    client.last_error_ = std::move(error);
    return std::nullopt;
  }

  // One watch connection from start to end; `stale_token` when etcd
  // refused it for its token.
  EtcdWatchEnd watch_once(EtcdClient& client, std::int64_t start_revision,
                          const std::function<bool(const EtcdWatchBatch&)>& on_batch,
                          const std::atomic<bool>& stop, std::int64_t* compact_revision,
                          bool& stale_token);

  Transport transport;
};

bool EtcdClient::State::authenticate(EtcdClient& client) {
  client.token_.clear();
  const std::string body = "{\"name\":" + wire::json_string(client.settings_.username) +
                           ",\"password\":" + wire::json_string(client.settings_.password) + "}";
  Exchange out = transport.post("/v3/auth/authenticate", {}, body);
  if (!out.json) {
    fail(client, std::move(out.error));
    return false;
  }
  auto token = wire::string_member(&*out.json, "token");
  if (!token || !is_safe_token(*token)) {
    fail(client, EtcdError{"etcd: authentication gave no usable token", false});
    return false;
  }
  client.token_ = std::move(*token);
  return true;
}

std::optional<wire::Json> EtcdClient::State::call(EtcdClient& client, std::string_view path,
                                                  std::string_view body) {
  if (!transport.setup_error().empty()) {
    return fail(client, EtcdError{transport.setup_error(), false});
  }
  const bool with_auth = !client.settings_.username.empty();
  for (int attempt = 0; attempt < 2; ++attempt) {
    if (with_auth && client.token_.empty() && !authenticate(client)) return std::nullopt;
    Exchange out = transport.post(path, client.token_, body);
    if (out.json) return std::move(out.json);
    if (with_auth && out.stale_token && attempt == 0) {
      client.token_.clear();
      continue;
    }
    return fail(client, std::move(out.error));
  }
  return std::nullopt;
}

EtcdClient::EtcdClient(EtcdSettings settings)
    : settings_(std::move(settings)), state_(std::make_unique<State>(settings_)) {}

EtcdClient::~EtcdClient() = default;

namespace {

EtcdError malformed(const std::string& url, const std::string& what) {
  return EtcdError{"etcd " + url + ": malformed answer: " + what, true};
}

std::string range_body(std::string_view prefix) {
  return "{\"key\":\"" + wire::base64_encode(range_key(prefix)) + "\",\"range_end\":\"" +
         wire::base64_encode(wire::prefix_end(prefix)) + "\"}";
}

}  // namespace

EtcdResult<EtcdRange> EtcdClient::range_prefix(std::string_view prefix) {
  const std::string wanted(prefix.empty() ? std::string_view(settings_.prefix) : prefix);
  EtcdResult<EtcdRange> result;
  auto json = state_->call(*this, "/v3/kv/range", range_body(wanted));
  if (!json) {
    result.error = last_error_;
    return result;
  }
  EtcdRange range;
  const auto revision = wire::int64_member(wire::member(&*json, "header"), "revision");
  const std::vector<wire::Json>* kvs = wire::array_member(&*json, "kvs");
  // No limit was asked for: `count` (keys in the range) must be how many
  // came, and nothing may be left for `more`.
  const auto count = wire::int64_member(&*json, "count");
  const auto more = wire::bool_member(&*json, "more");
  bool ok = revision && kvs != nullptr && count && more == false &&
            *count == static_cast<std::int64_t>(kvs->size());
  if (ok) {
    range.kvs.reserve(kvs->size());
    for (const wire::Json& item : *kvs) {
      EtcdKeyValue kv;
      if (!read_kv(&item, kv) || !kv.key.starts_with(wanted)) {
        ok = false;
        break;
      }
      range.kvs.push_back(std::move(kv));
    }
  }
  if (!ok) {
    result.error = last_error_ =
        malformed(state_->transport.current_url(), "a range's header or keys");
    return result;
  }
  range.revision = *revision;
  std::sort(range.kvs.begin(), range.kvs.end(),
            [](const EtcdKeyValue& a, const EtcdKeyValue& b) { return a.key < b.key; });
  result.value = std::move(range);
  return result;
}

EtcdResult<EtcdTxnOutcome> EtcdClient::txn(const EtcdTxn& txn) {
  std::string body = "{";
  if (txn.expect_generation_mod_revision) {
    body += "\"compare\":[{\"target\":\"MOD\",\"result\":\"EQUAL\",\"key\":\"" +
            wire::base64_encode(settings_.prefix + "generation") + "\",\"mod_revision\":\"" +
            std::to_string(*txn.expect_generation_mod_revision) + "\"}],";
  }
  body += "\"success\":[";
  bool first = true;
  for (const auto& [key, value] : txn.puts) {
    body += first ? "" : ",";
    first = false;
    body += "{\"request_put\":{\"key\":\"" + wire::base64_encode(key) + "\",\"value\":\"" +
            wire::base64_encode(value) + "\"}}";
  }
  for (const auto& key : txn.deletes) {
    body += first ? "" : ",";
    first = false;
    body += "{\"request_delete_range\":{\"key\":\"" + wire::base64_encode(key) + "\"}}";
  }
  body += "]}";
  EtcdResult<EtcdTxnOutcome> result;
  auto json = state_->call(*this, "/v3/kv/txn", body);
  if (!json) {
    result.error = last_error_;
    return result;
  }
  const auto revision = wire::int64_member(wire::member(&*json, "header"), "revision");
  const auto succeeded = wire::bool_member(&*json, "succeeded");
  if (!revision || !succeeded) {
    result.error = last_error_ =
        malformed(state_->transport.current_url(), "a transaction's header or outcome");
    return result;
  }
  result.value = EtcdTxnOutcome{*succeeded, *revision};
  return result;
}

EtcdResult<bool> EtcdClient::compact(std::int64_t revision) {
  // physical: the answer waits until the history is really gone, so a
  // watch from before it is refused as soon as this returns.
  const std::string body = "{\"revision\":\"" + std::to_string(revision) + "\",\"physical\":true}";
  EtcdResult<bool> result;
  if (!state_->call(*this, "/v3/kv/compaction", body)) {
    result.error = last_error_;
    return result;
  }
  result.value = true;
  return result;
}

namespace {

// What one watch message means for the loop reading them.
struct WatchStep {
  bool end = false;
  EtcdWatchEnd how = EtcdWatchEnd::broken;
  EtcdError error;
  bool stale_token = false;
};

WatchStep watch_broken(const http1::Endpoint& endpoint, const std::string& what, bool unavailable) {
  WatchStep step;
  step.end = true;
  step.error = failure(endpoint, what, unavailable);
  return step;
}

// A {"result": WatchResponse} or {"error": Status} message.
WatchStep read_watch_message(const http1::Endpoint& endpoint, std::string_view prefix,
                             std::string_view text,
                             const std::function<bool(const EtcdWatchBatch&)>& on_batch,
                             std::int64_t* compact_revision) {
  std::string error;
  const auto json = wire::parse_json_object(text, error);
  if (!json) return watch_broken(endpoint, "malformed watch message: " + error, true);
  if (const wire::Json* status = wire::member(&*json, "error")) {
    const auto code = wire::int64_member(status, "grpc_code").value_or(0);
    const std::string message = printable(wire::string_member(status, "message").value_or(""));
    WatchStep step = watch_broken(endpoint, "watch failed: " + message, is_transient_code(code));
    step.stale_token = is_stale_token(code, message);
    return step;
  }
  const wire::Json* result = wire::member(&*json, "result");
  const auto canceled = wire::bool_member(result, "canceled");
  const auto compacted = wire::int64_member(result, "compact_revision");
  const auto revision = wire::int64_member(wire::member(result, "header"), "revision");
  const std::vector<wire::Json>* events = wire::array_member(result, "events");
  if (result == nullptr || !canceled || !compacted || !revision || events == nullptr) {
    return watch_broken(endpoint, "malformed watch message", true);
  }
  if (*compacted > 0) {
    if (compact_revision != nullptr) *compact_revision = *compacted;
    WatchStep step;
    step.end = true;
    step.how = EtcdWatchEnd::compacted;
    step.error = failure(
        endpoint, "watch start compacted (oldest revision left " + std::to_string(*compacted) + ")",
        true);
    return step;
  }
  if (*canceled) {
    const std::string reason = printable(wire::string_member(result, "cancel_reason").value_or(""));
    // etcd puts the gRPC status in words: "rpc error: code = Unauthenticated desc = ...".
    const bool transient = reason.empty() || reason.find("code = Unavailable") != std::string::npos;
    WatchStep step = watch_broken(endpoint, "watch canceled: " + reason, transient);
    step.stale_token =
        is_stale_token(0, reason) || reason.find("code = Unauthenticated") != std::string::npos;
    return step;
  }
  if (events->empty()) return {};  // created, or progress
  EtcdWatchBatch batch;
  batch.events.reserve(events->size());
  for (const wire::Json& item : *events) {
    EtcdWatchEvent event;
    const auto type = wire::string_member(&item, "type");
    if (!type || (*type != "" && *type != "PUT" && *type != "DELETE") ||
        !read_kv(wire::member(&item, "kv"), event.kv) || !event.kv.key.starts_with(prefix)) {
      return watch_broken(endpoint, "malformed watch event", true);
    }
    event.kind = *type == "DELETE" ? EtcdWatchEvent::Kind::del : EtcdWatchEvent::Kind::put;
    batch.revision = std::max(batch.revision, event.kv.mod_revision);
    batch.events.push_back(std::move(event));
  }
  if (on_batch(batch)) return {};
  WatchStep step;
  step.end = true;
  step.how = EtcdWatchEnd::stopped;
  return step;
}

}  // namespace

EtcdWatchEnd EtcdClient::State::watch_once(
    EtcdClient& client, std::int64_t start_revision,
    const std::function<bool(const EtcdWatchBatch&)>& on_batch, const std::atomic<bool>& stop,
    std::int64_t* compact_revision, bool& stale_token) {
  const std::string& prefix = client.settings_.prefix;
  if (!client.settings_.username.empty() && client.token_.empty() && !authenticate(client)) {
    return EtcdWatchEnd::broken;
  }
  EtcdError error;
  std::size_t index = 0;
  auto connection = transport.open_any(error, index, stop);
  if (stop.load()) return EtcdWatchEnd::stopped;
  if (!connection) {
    client.last_error_ = std::move(error);
    return EtcdWatchEnd::broken;
  }
  const http1::Endpoint& endpoint = transport.endpoint(index);
  const std::string body = "{\"create_request\":{\"key\":\"" +
                           wire::base64_encode(range_key(prefix)) + "\",\"range_end\":\"" +
                           wire::base64_encode(wire::prefix_end(prefix)) +
                           "\",\"start_revision\":\"" + std::to_string(start_revision) + "\"}}";
  const Deadline deadline = Clock::now() + std::chrono::milliseconds(transport.timeout_ms());
  std::string why;
  auto broken = [&](const std::string& what, bool unavailable) {
    client.last_error_ = failure(endpoint, what, unavailable);
    return EtcdWatchEnd::broken;
  };
  if (connection->write_all(request_text(endpoint, "/v3/watch", client.token_, body), deadline,
                            why) != Io::ok) {
    return broken(why, true);
  }
  http1::ResponseReader reader(*connection);
  if (const Io io = reader.read_head(deadline, &stop, why); io != Io::ok) {
    return io == Io::stopped ? EtcdWatchEnd::stopped : broken(why, true);
  }
  if (reader.status() != 200) {
    std::string text;
    reader.read_whole_body(text, kMaxErrorBytes, deadline, why);
    Exchange out = refused(endpoint, reader.status(), text);
    stale_token = out.stale_token;
    client.last_error_ = std::move(out.error);
    return EtcdWatchEnd::broken;
  }
  // Messages end with '\n' (the gateway's delimiter); chunk boundaries
  // fall anywhere, so the data is gathered and cut at newlines.
  std::string pending;
  std::size_t scanned = 0;
  for (;;) {
    const Io io = reader.read_body_some(pending, Deadline::max(), &stop, why);
    if (io == Io::stopped) return EtcdWatchEnd::stopped;
    if (io != Io::ok) return broken("watch ended: " + why, true);
    std::size_t start = 0;
    for (auto newline = pending.find('\n', scanned); newline != std::string::npos;
         newline = pending.find('\n', start)) {
      const std::string line = trimmed(std::string_view(pending).substr(start, newline - start));
      start = newline + 1;
      if (line.empty()) continue;
      WatchStep step = read_watch_message(endpoint, prefix, line, on_batch, compact_revision);
      if (step.end) {
        stale_token = step.stale_token;
        if (step.how != EtcdWatchEnd::stopped) client.last_error_ = std::move(step.error);
        return step.how;
      }
      if (stop.load()) return EtcdWatchEnd::stopped;
    }
    pending.erase(0, start);
    scanned = pending.size();
    if (pending.size() > kMaxWatchMessageBytes) {
      return broken(
          "a watch message larger than " + std::to_string(kMaxWatchMessageBytes) + " bytes", true);
    }
    if (reader.body_done()) return broken("etcd ended the watch", true);
  }
}

EtcdWatchEnd EtcdClient::watch_prefix(std::int64_t start_revision,
                                      const std::function<bool(const EtcdWatchBatch&)>& on_batch,
                                      const std::atomic<bool>& stop,
                                      std::int64_t* compact_revision) {
  if (!state_->transport.setup_error().empty()) {
    last_error_ = EtcdError{state_->transport.setup_error(), false};
    return EtcdWatchEnd::broken;
  }
  for (int attempt = 0;; ++attempt) {
    bool stale_token = false;
    const EtcdWatchEnd end =
        state_->watch_once(*this, start_revision, on_batch, stop, compact_revision, stale_token);
    if (end == EtcdWatchEnd::broken && stale_token && attempt == 0 && !settings_.username.empty()) {
      token_.clear();
      continue;
    }
    return end;
  }
}

}  // namespace sluice::fleet
