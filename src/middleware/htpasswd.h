// Basic authentication's side of the access middleware: the credentials a
// client sends (RFC 7617) checked against an htpasswd file's hashes with
// libcrypt, and a cache of the credentials that passed.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <list>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config/access_config.h"

namespace sluice::middleware {

// The user-id and password of an Authorization value "Basic <base64>"
// (RFC 7617 §2: the scheme is case-insensitive; the user-id ends at the
// first colon). False when it is another scheme or not valid base64.
bool parse_basic_credentials(std::string_view authorization, std::string& user,
                             std::string& password);

// The users of an htpasswd file, shared by every worker.
//
// bcrypt and SHA-crypt are slow on purpose (bcrypt at cost 10-12 takes
// 50-100 ms of CPU), and the check runs on the worker's thread: without a
// cache, each request of a client that sends Authorization every time (as
// browsers do) would stall its worker that long. So credentials that
// passed are remembered, as a salted SHA-256 of user and password (never
// the password itself), in a bounded LRU set: a client pays once. Failed
// checks are not remembered: a wrong password costs a full check each
// time, which is what makes guessing slow.
class PasswordFile {
 public:
  PasswordFile(const std::vector<config::HtpasswdUser>& users, std::size_t cache_entries);

  // True when `user` is in the file and `password` matches its hash.
  // Thread-safe.
  bool check(std::string_view user, std::string_view password);
  // True when these credentials passed a check before and are still
  // remembered: answered without libcrypt. Thread-safe.
  bool passed_before(std::string_view user, std::string_view password);

  // Checks done with libcrypt since construction (cache misses), for tests.
  std::uint64_t slow_checks() const;

 private:
  using Key = std::array<std::uint8_t, 32>;
  struct KeyHash {
    std::size_t operator()(const Key& k) const;
  };

  Key key_of(std::string_view user, std::string_view password) const;
  bool remembered(const Key& k);
  void remember(const Key& k);

  std::unordered_map<std::string, std::string> hashes_;  // user -> hash
  std::string decoy_hash_;  // checked for unknown users, so timing does not tell them
  std::array<std::uint8_t, 32> salt_{};
  std::size_t cache_entries_;

  mutable std::mutex mutex_;  // guards what follows; never held during a slow check
  std::list<Key> recent_;     // most recently used first
  std::unordered_map<Key, std::list<Key>::iterator, KeyHash> passed_;
  std::uint64_t slow_checks_ = 0;
};

}  // namespace sluice::middleware
