// forward_auth's decision cache: what the auth server answered, by a key
// made of the request's host and the fields that tell users apart
// (Cookie, Authorization), for a time. Shared by every worker (one mutex,
// held only to look up or store, never across a suspension), bounded in
// entries: when full, the entry stored longest ago goes.
//
// Keys are SHA-256 digests of the key's parts: an entry costs 32 bytes of
// key whatever the size of a cookie, and no credential is kept in memory
// in the clear.
#pragma once

#include <array>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <list>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "middleware/middleware.h"

namespace sluice::middleware {

using DecisionKey = std::array<unsigned char, 32>;

// Builds a DecisionKey from parts; parts are length-prefixed, so ("ab",
// "c") and ("a", "bc") differ.
class DecisionKeyBuilder {
 public:
  void add(std::string_view part);
  DecisionKey finish() const;

 private:
  std::string text_;
};

struct Decision {
  bool allow = false;
  // allow: the fields set on the forwarded request (edits.set); deny: the
  // answer the client gets.
  std::vector<Field> set;
  std::vector<std::string> remove;
  Answer deny;
};

class DecisionCache {
 public:
  using Clock = std::chrono::steady_clock;

  explicit DecisionCache(std::size_t max_entries) : max_entries_(max_entries) {}

  // The decision stored for `key`, when it has not expired.
  std::optional<Decision> find(const DecisionKey& key, Clock::time_point now);
  // Stores `d` until now + ttl (replacing an older decision for `key`).
  void store(const DecisionKey& key, Decision d, std::chrono::milliseconds ttl,
             Clock::time_point now);
  std::size_t size() const;

 private:
  struct KeyHash {
    std::size_t operator()(const DecisionKey& k) const {
      std::size_t h = 0;
      std::memcpy(&h, k.data(), sizeof h);  // a digest: any 8 of its bytes hash well
      return h;
    }
  };
  struct Entry {
    DecisionKey key;
    Decision decision;
    Clock::time_point expires;
  };

  mutable std::mutex mutex_;
  std::size_t max_entries_;
  std::list<Entry> order_;  // oldest stored first
  std::unordered_map<DecisionKey, std::list<Entry>::iterator, KeyHash> index_;
};

// How long a decision may be kept, from the answer's Cache-Control (RFC
// 9111 §5.2.2): no-store and no-cache keep nothing (0), s-maxage or
// max-age say how long; without any, `fallback`.
std::chrono::milliseconds decision_ttl(const std::vector<Field>& answer_fields,
                                       std::chrono::milliseconds fallback);

}  // namespace sluice::middleware
