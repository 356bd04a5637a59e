// Hop-by-hop header fields (RFC 9110 §7.6.1): they describe one connection,
// so a proxy removes them before forwarding, together with every field the
// message's Connection header names.
#pragma once

#include <array>
#include <cstddef>
#include <span>
#include <string_view>

#include "http/message.h"

namespace sluice::http {

class HopByHopFields {
 public:
  // Collects the names listed in the message's Connection fields.
  explicit HopByHopFields(std::span<const HeaderField> fields);

  // True for a field a proxy must not forward. Transfer-Encoding counts: the
  // proxy frames each message itself. Upgrade is kept by the caller when it
  // forwards an upgrade.
  bool contains(std::string_view name) const;

  // At most this many names (the parsers refuse a message that lists
  // more, so none is forgotten); beyond, every field counts as hop-by-hop.
  static constexpr std::size_t kMaxListed = 16;

 private:
  std::array<std::string_view, kMaxListed> listed_;
  bool overflowed_ = false;
  std::size_t listed_count_ = 0;
};

}  // namespace sluice::http
