#include "tls/handshake_failures.h"

#include <spdlog/spdlog.h>

#include <map>
#include <mutex>

namespace sluice::tls {
namespace {

struct Cause {
  std::uint64_t total = 0;
  std::uint64_t unlogged = 0;
  std::uint64_t next_log_ms = 0;
};

// Failures only: a handshake that succeeds never takes this lock.
std::mutex mutex;
std::map<std::string, Cause, std::less<>> causes;
constexpr std::size_t kMaxCauses = 256;  // causes are OpenSSL's reasons: a short list

}  // namespace

void report_handshake_failure(std::string_view where, std::string_view cause,
                              std::uint64_t now_ms) {
  std::uint64_t count = 0;
  {
    std::lock_guard lock(mutex);
    auto it = causes.find(cause);
    if (it == causes.end()) {
      if (causes.size() >= kMaxCauses) cause = "other";
      it = causes.try_emplace(std::string(cause)).first;
    }
    Cause& c = it->second;
    ++c.total;
    ++c.unlogged;
    if (now_ms < c.next_log_ms) return;
    c.next_log_ms = now_ms + 1000;
    count = c.unlogged;
    c.unlogged = 0;
  }
  if (count == 1) {
    spdlog::warn("{}: TLS handshake failed: {}", where, cause);
  } else {
    spdlog::warn("{}: TLS handshake failed: {} ({} times in the last second or more)", where, cause,
                 count);
  }
}

std::vector<std::pair<std::string, std::uint64_t>> handshake_failure_counts() {
  std::lock_guard lock(mutex);
  std::vector<std::pair<std::string, std::uint64_t>> out;
  for (const auto& [cause, c] : causes)
    out.emplace_back(cause, c.total);
  return out;
}

}  // namespace sluice::tls
