#include "http/hop_by_hop.h"

#include "http/token.h"

namespace sluice::http {
namespace {

// RFC 9110 §7.6.1 names Connection, Proxy-Connection, Keep-Alive, TE,
// Transfer-Encoding and Upgrade as fields a proxy does not forward.
constexpr std::array<std::string_view, 6> kAlwaysHopByHop = {
    "connection", "keep-alive", "proxy-connection", "te", "transfer-encoding", "upgrade"};

// Their lengths, one bit each: contains() answers every other length
// without comparing a byte.
constexpr std::uint64_t standard_lengths() {
  std::uint64_t bits = 0;
  for (std::string_view name : kAlwaysHopByHop)
    bits |= 1ULL << name.size();
  return bits;
}
constexpr std::uint64_t kStandardLengths = standard_lengths();

bool always_hop_by_hop(std::string_view name) {
  for (std::string_view standard : kAlwaysHopByHop) {
    if (iequals(name, standard)) return true;
  }
  return false;
}

}  // namespace

HopByHopFields::HopByHopFields(std::span<const HeaderField> fields) : lengths_(kStandardLengths) {
  for (const auto& f : fields) {
    if (!iequals_literal<"connection">(f.name)) continue;
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
