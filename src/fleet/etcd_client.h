// A client of etcd's v3 API over its JSON gateway (HTTP/1.1 + JSON, keys
// and values base64 in the wire format): read a prefix, write in one
// transaction, watch a prefix from a revision. Blocking, for one thread of
// its own (the provider's, or a command's); never on a worker's loop.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::fleet {

struct EtcdSettings {
  std::vector<std::string> endpoints;  // "http://127.0.0.1:2379", "https://..."; tried in turn
  std::string prefix = "/sluice/";     // always ends with '/'
  // TLS to etcd (https endpoints): CA to verify it, and our client certificate.
  std::string ca_file;    // empty: the system's trust store
  std::string cert_file;  // empty: no client certificate
  std::string key_file;
  // Authentication (etcd's /v3/auth/authenticate); empty: none.
  std::string username;
  std::string password;              // read from password_file by whoever builds this
  std::uint64_t timeout_ms = 5'000;  // connect + one request (not a watch's lifetime)
};

struct EtcdKeyValue {
  std::string key;  // whole key, prefix included
  std::string value;
  std::int64_t mod_revision = 0;
};

// What failed, for logs: "etcd http://127.0.0.1:2379: connection refused".
struct EtcdError {
  std::string message;
  bool unavailable = true;  // network or server failure (retry); false: refused (auth, bad request)
};

template <typename T>
struct EtcdResult {
  std::optional<T> value;  // empty: error says why
  EtcdError error;
  explicit operator bool() const { return value.has_value(); }
};

struct EtcdRange {
  std::vector<EtcdKeyValue> kvs;  // sorted by key
  std::int64_t revision = 0;      // the store's revision the read saw
};

// One transaction: if `prefix + "generation"`'s mod_revision still equals
// `expect_generation_mod_revision` (0: the key must not exist; nullopt: no
// condition), put every `puts` and delete every `deletes` key; else nothing.
struct EtcdTxn {
  std::optional<std::int64_t> expect_generation_mod_revision;
  std::vector<std::pair<std::string, std::string>> puts;  // whole keys
  std::vector<std::string> deletes;                       // whole keys
};
struct EtcdTxnOutcome {
  bool succeeded = false;     // false: the condition failed (someone wrote meanwhile)
  std::int64_t revision = 0;  // the store's revision after it
};

struct EtcdWatchEvent {
  enum class Kind { put, del } kind = Kind::put;
  EtcdKeyValue kv;  // value empty for del
};
// The events of one watch response; events of one transaction share a
// revision and arrive in one batch. A watch catching up may bring several
// revisions in one batch.
struct EtcdWatchBatch {
  // The revision of its last event: every event under the prefix up to it
  // has been delivered, so a watch resumes from revision + 1. (Not the
  // header's: etcd sends a catch-up 1,000 revisions at a time, each message
  // naming the store's current revision.)
  std::int64_t revision = 0;
  std::vector<EtcdWatchEvent> events;
};
enum class EtcdWatchEnd {
  stopped,    // `stop` became true
  compacted,  // start_revision was compacted away: read everything again
  broken,     // the connection or the server failed: retry
};

class EtcdClient {
 public:
  explicit EtcdClient(EtcdSettings settings);
  ~EtcdClient();
  EtcdClient(const EtcdClient&) = delete;
  EtcdClient& operator=(const EtcdClient&) = delete;

  const EtcdSettings& settings() const { return settings_; }

  // Every key under `prefix` (settings().prefix when empty), in one read.
  EtcdResult<EtcdRange> range_prefix(std::string_view prefix = {});
  EtcdResult<EtcdTxnOutcome> txn(const EtcdTxn& txn);
  // Compacts the store's history up to `revision` (tests, operators).
  EtcdResult<bool> compact(std::int64_t revision);

  // Watches every key under the prefix from `start_revision`, calling
  // `on_batch` for each response with events (false from it: stop). Blocks
  // until `stop`, a compaction (then *compact_revision says the oldest
  // revision left), or a failure (error() says which). A watch that stays
  // quiet is still noticed when the connection dies (progress requests /
  // TCP keep-alive), and `stop` is seen within about 100 ms.
  EtcdWatchEnd watch_prefix(std::int64_t start_revision,
                            const std::function<bool(const EtcdWatchBatch&)>& on_batch,
                            const std::atomic<bool>& stop, std::int64_t* compact_revision);
  // Why the last call failed.
  const EtcdError& last_error() const { return last_error_; }

 private:
  struct Connection;
  struct State;  // endpoints, TLS context, the connection kept between calls
  EtcdSettings settings_;
  EtcdError last_error_;
  std::string token_;  // from authenticate, when username is set
  std::unique_ptr<State> state_;
};

}  // namespace sluice::fleet
