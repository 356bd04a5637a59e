#include "http/hop_by_hop.h"

#include "http/token.h"

namespace sluice::http {
namespace {

// RFC 9110 §7.6.1 names Connection, Proxy-Connection, Keep-Alive, TE,
// Transfer-Encoding and Upgrade as fields a proxy does not forward. Asked
// of every field of every message: the name's length picks the one or two
// it could be.
bool always_hop_by_hop(std::string_view name) {
  switch (name.size()) {
    case 2:
      return iequals(name, "te");
    case 7:
      return iequals(name, "upgrade");
    case 10:
      return iequals(name, "connection") || iequals(name, "keep-alive");
    case 16:
      return iequals(name, "proxy-connection");
    case 17:
      return iequals(name, "transfer-encoding");
    default:
      return false;
  }
}

// The lengths of always_hop_by_hop's names, one bit each.
constexpr std::uint64_t kStandardLengths =
    (1ULL << 2) | (1ULL << 7) | (1ULL << 10) | (1ULL << 16) | (1ULL << 17);

}  // namespace

HopByHopFields::HopByHopFields(std::span<const HeaderField> fields) : lengths_(kStandardLengths) {
  for (const auto& f : fields) {
    if (!iequals(f.name, "connection")) continue;
    ListTokens tokens(f.value);
    std::string_view item;
    while (tokens.next(item)) {
      if (listed_count_ == kMaxListed) {
        overflowed_ = true;
        return;
      }
      listed_[listed_count_++] = {item.data(), item.size()};
      if (item.size() < 64) lengths_ |= 1ULL << item.size();
    }
  }
}

// A name of a length some hop-by-hop name has (contains() answered the
// others): its bytes decide.
bool HopByHopFields::compare_names(std::string_view name) const {
  if (always_hop_by_hop(name)) return true;
  for (std::size_t i = 0; i < listed_count_; ++i) {
    if (iequals(name, {listed_[i].data, listed_[i].size})) return true;
  }
  return false;
}

}  // namespace sluice::http
