#include "http/hop_by_hop.h"

#include "http/token.h"

namespace sluice::http {
namespace {

// RFC 9110 §7.6.1 names Connection, Proxy-Connection, Keep-Alive, TE,
// Transfer-Encoding and Upgrade as fields a proxy does not forward.
constexpr std::array<std::string_view, 6> kAlwaysHopByHop = {
    "connection", "keep-alive", "proxy-connection", "te", "transfer-encoding", "upgrade"};

}  // namespace

HopByHopFields::HopByHopFields(std::span<const HeaderField> fields) {
  for (const auto& f : fields) {
    if (!iequals(f.name, "connection")) continue;
    ListTokens tokens(f.value);
    std::string_view item;
    while (tokens.next(item)) {
      if (listed_count_ == kMaxListed) {
        overflowed_ = true;
        return;
      }
      listed_[listed_count_++] = item;
    }
  }
}

bool HopByHopFields::contains(std::string_view name) const {
  // Names were forgotten: forwarding nothing is the only safe answer.
  if (overflowed_) return true;
  for (auto h : kAlwaysHopByHop) {
    if (iequals(name, h)) return true;
  }
  for (std::size_t i = 0; i < listed_count_; ++i) {
    if (iequals(name, listed_[i])) return true;
  }
  return false;
}

}  // namespace sluice::http
