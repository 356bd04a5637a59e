// Server names to values: a certificate for a TLS listener's SNI, a
// backend for a TCP listener that routes by SNI. Two hash lookups at most,
// whatever the number of names: an exact name, then a wildcard of one label
// ("*.example.com" answers "a.example.com", not "example.com" and not
// "a.b.example.com": RFC 6125 §6.4.3). Names compare without case, and a
// trailing dot (an absolute name) is ignored.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <unordered_map>

namespace sluice::tls {

// Lower-cases `name` and drops one trailing dot; empty when it is longer
// than a DNS name may be (253).
std::string normalize_server_name(std::string_view name);

template <typename Value>
class ServerNameTable {
 public:
  // `name`: "a.example.com" or "*.example.com". The first value given for
  // a name stays; false when the name was already there.
  bool add(std::string_view name, Value value) {
    std::string key = normalize_server_name(name);
    if (key.empty()) return false;
    if (key.size() > 2 && key[0] == '*' && key[1] == '.') {
      return wildcard_.try_emplace(key.substr(2), std::move(value)).second;
    }
    return exact_.try_emplace(std::move(key), std::move(value)).second;
  }
  // Replaces the value of `name`, or adds it.
  void set(std::string_view name, Value value) {
    std::string key = normalize_server_name(name);
    if (key.empty()) return;
    if (key.size() > 2 && key[0] == '*' && key[1] == '.') {
      wildcard_.insert_or_assign(key.substr(2), std::move(value));
    } else {
      exact_.insert_or_assign(std::move(key), std::move(value));
    }
  }

  // The value for the name a client asked for: exact, then wildcard; null
  // when neither is known (the caller falls back to its default).
  const Value* find(std::string_view server_name) const {
    const std::string key = normalize_server_name(server_name);
    if (key.empty()) return nullptr;
    if (auto it = exact_.find(key); it != exact_.end()) return &it->second;
    const std::size_t dot = key.find('.');
    if (dot == std::string::npos || dot == 0 || dot + 1 >= key.size()) return nullptr;
    if (auto it = wildcard_.find(key.substr(dot + 1)); it != wildcard_.end()) return &it->second;
    return nullptr;
  }

  // The value stored under `name` itself ("*.example.com" is one name),
  // without falling back to a wildcard; null when there is none.
  const Value* entry(std::string_view name) const {
    const std::string key = normalize_server_name(name);
    if (key.size() > 2 && key[0] == '*' && key[1] == '.') {
      auto it = wildcard_.find(key.substr(2));
      return it == wildcard_.end() ? nullptr : &it->second;
    }
    auto it = exact_.find(key);
    return it == exact_.end() ? nullptr : &it->second;
  }

  std::size_t size() const { return exact_.size() + wildcard_.size(); }
  template <typename Fn>
  void for_each(Fn fn) const {
    for (const auto& [name, v] : exact_)
      fn(name, v);
    for (const auto& [suffix, v] : wildcard_)
      fn("*." + suffix, v);
  }

 private:
  std::unordered_map<std::string, Value> exact_;
  std::unordered_map<std::string, Value> wildcard_;  // keyed by what follows "*."
};

}  // namespace sluice::tls
