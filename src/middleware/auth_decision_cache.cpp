#include "middleware/auth_decision_cache.h"

#include <openssl/evp.h>

#include <charconv>
#include <cstring>

namespace sluice::middleware {
namespace {

bool iequals(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(), [](char x, char y) {
           return (x | 0x20) == (y | 0x20);
         });
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

// A delta-seconds value (RFC 9111 §1.2.2), quoted or not; nullopt when
// it is not one.
std::optional<std::uint64_t> delta_seconds(std::string_view v) {
  if (v.size() >= 2 && v.front() == '"' && v.back() == '"') v = v.substr(1, v.size() - 2);
  std::uint64_t n = 0;
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec == std::errc::result_out_of_range) return std::uint64_t{1} << 31;  // §1.2.2
  if (ec != std::errc() || end != v.data() + v.size()) return std::nullopt;
  return n;
}

}  // namespace

void DecisionKeyBuilder::add(std::string_view part) {
  text_.append(std::to_string(part.size())).append(":").append(part);
}

DecisionKey DecisionKeyBuilder::finish() const {
  DecisionKey key{};
  unsigned int n = 0;
  EVP_Digest(text_.data(), text_.size(), key.data(), &n, EVP_sha256(), nullptr);
  return key;
}

std::optional<Decision> DecisionCache::find(const DecisionKey& key, Clock::time_point now) {
  std::lock_guard lock(mutex_);
  const auto it = index_.find(key);
  if (it == index_.end()) return std::nullopt;
  if (it->second->expires <= now) {
    order_.erase(it->second);
    index_.erase(it);
    return std::nullopt;
  }
  return it->second->decision;
}

void DecisionCache::store(const DecisionKey& key, Decision d, std::chrono::milliseconds ttl,
                          Clock::time_point now) {
  if (ttl.count() <= 0 || max_entries_ == 0) return;
  std::lock_guard lock(mutex_);
  if (const auto it = index_.find(key); it != index_.end()) {
    order_.erase(it->second);
    index_.erase(it);
  }
  while (order_.size() >= max_entries_) {
    index_.erase(order_.front().key);
    order_.pop_front();
  }
  order_.push_back(Entry{key, std::move(d), now + ttl});
  index_.emplace(key, std::prev(order_.end()));
}

std::size_t DecisionCache::size() const {
  std::lock_guard lock(mutex_);
  return order_.size();
}

std::chrono::milliseconds decision_ttl(const std::vector<Field>& answer_fields,
                                       std::chrono::milliseconds fallback) {
  std::optional<std::uint64_t> max_age;
  std::optional<std::uint64_t> s_maxage;
  for (const Field& f : answer_fields) {
    if (!iequals(f.name, "cache-control")) continue;
    std::string_view list = f.value;
    while (!list.empty()) {
      const std::size_t comma = list.find(',');
      std::string_view directive = trim(list.substr(0, comma));
      list = comma == std::string_view::npos ? std::string_view() : list.substr(comma + 1);
      const std::size_t eq = directive.find('=');
      const std::string_view name = trim(directive.substr(0, eq));
      const std::string_view arg =
          eq == std::string_view::npos ? std::string_view() : trim(directive.substr(eq + 1));
      // no-store: never kept (§5.2.2.5); no-cache: to be asked again
      // every time (§5.2.2.4), which is what not keeping it does.
      if (iequals(name, "no-store") || iequals(name, "no-cache")) {
        return std::chrono::milliseconds{0};
      }
      if (iequals(name, "max-age")) max_age = delta_seconds(arg);
      // We act as a shared cache (§5.2.2.10): s-maxage wins over max-age.
      if (iequals(name, "s-maxage")) s_maxage = delta_seconds(arg);
    }
  }
  if (s_maxage) return std::chrono::seconds(*s_maxage);
  if (max_age) return std::chrono::seconds(*max_age);
  return fallback;
}

}  // namespace sluice::middleware
