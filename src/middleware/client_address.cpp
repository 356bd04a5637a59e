#include "middleware/client_address.h"

#include <vector>

#include "core/address.h"
#include "http/token.h"

namespace sluice::middleware {
namespace {

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

// The X-Forwarded-For entries, left to right, across every field of the
// name.
std::vector<std::string_view> forwarded_for(std::span<const http::HeaderField> fields) {
  std::vector<std::string_view> entries;
  for (const auto& f : fields) {
    if (!http::iequals(f.name, "x-forwarded-for")) continue;
    std::string_view v = f.value;
    while (true) {
      const auto comma = v.find(',');
      entries.push_back(trim(v.substr(0, comma)));
      if (comma == std::string_view::npos) break;
      v.remove_prefix(comma + 1);
    }
  }
  return entries;
}

}  // namespace

bool client_address(const SocketAddress& peer, std::span<const http::HeaderField> fields,
                    const CidrSet& trusted, IpAddress& out) {
  IpAddress client;
  if (!IpAddress::of(peer, client)) return false;
  if (trusted.empty() || !trusted.contains(client)) {
    out = client;
    return true;
  }
  const std::vector<std::string_view> entries = forwarded_for(fields);
  for (auto it = entries.rbegin(); it != entries.rend(); ++it) {
    IpAddress hop;
    if (!IpAddress::parse(*it, hop)) return false;
    client = hop;
    if (!trusted.contains(hop)) break;
  }
  out = client;
  return true;
}

}  // namespace sluice::middleware
