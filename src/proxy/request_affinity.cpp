#include "proxy/request_affinity.h"

#include <arpa/inet.h>

#include "balance/consistent_hash.h"
#include "core/address.h"
#include "http/token.h"
#include "proxy/backend.h"
#include "proxy/forwarded_request.h"

namespace sluice::proxy {

bool find_cookie(const http::RequestHead& head, std::string_view name, std::string_view& value) {
  for (const auto& f : head.fields) {
    if (!http::iequals(f.name, "cookie")) continue;
    std::string_view rest = f.value;
    while (!rest.empty()) {
      const auto semi = rest.find(';');
      std::string_view pair = rest.substr(0, semi);
      while (!pair.empty() && pair.front() == ' ')
        pair.remove_prefix(1);
      const auto eq = pair.find('=');
      if (eq != std::string_view::npos && pair.substr(0, eq) == name) {
        value = pair.substr(eq + 1);
        return true;
      }
      if (semi == std::string_view::npos) break;
      rest.remove_prefix(semi + 1);
    }
  }
  return false;
}

int sticky_server(const Backend& backend, const http::RequestHead& head) {
  std::string_view id;
  if (backend.sticky_cookie.empty() || !find_cookie(head, backend.sticky_cookie, id)) return -1;
  for (std::size_t i = 0; i < backend.servers.size(); ++i) {
    if (backend.servers[i].sticky_id == id) return static_cast<int>(i);
  }
  return -1;
}

std::uint64_t balance_key(const Backend& backend, const http::RequestHead& head,
                          std::string_view target, const SocketAddress& client) {
  switch (backend.hash_source) {
    case HashSource::header:
      for (const auto& f : head.fields) {
        // An empty value is as good as none: hashing "" would send every
        // such request to one server.
        if (http::iequals(f.name, backend.hash_name) && !f.value.empty())
          return balance::hash_key(f.value);
      }
      return balance::Balancer::kNoKey;
    case HashSource::cookie: {
      std::string_view value;
      return find_cookie(head, backend.hash_name, value) && !value.empty()
                 ? balance::hash_key(value)
                 : balance::Balancer::kNoKey;
    }
    case HashSource::path: {
      const auto q = target.find('?');
      return balance::hash_key(target.substr(0, q));
    }
    case HashSource::source_ip:
      break;
  }
  char ip[INET6_ADDRSTRLEN + 1] = {};
  return balance::hash_key(client_ip_text(client, ip, sizeof ip));
}

}  // namespace sluice::proxy
