// Hop-by-hop header fields (RFC 9110 §7.6.1): they describe one connection,
// so a proxy removes them before forwarding, together with every field the
// message's Connection header names.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
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
  // forwards an upgrade. Asked of every field of every message, and most
  // are not hop-by-hop: a name whose length no hop-by-hop name has is
  // answered inline, before any comparison of bytes.
  bool contains(std::string_view name) const {
    // Names were forgotten: forwarding nothing is the only safe answer.
    if (overflowed_) return true;
    if (name.size() < 64 && ((lengths_ >> name.size()) & 1) == 0) return false;
    return compare_names(name);
  }

  // At most this many names (the parsers refuse a message that lists
  // more, so none is forgotten); beyond, every field counts as hop-by-hop.
  static constexpr std::size_t kMaxListed = 16;

 private:
  bool compare_names(std::string_view name) const;

  // Bit n set: some hop-by-hop name, standard or listed, is n bytes long.
  // Names of 64 bytes or more are always compared.
  std::uint64_t lengths_;
  // Left uninitialised (only the first listed_count_ are read): each
  // message builds one of these, and most list nothing.
  struct ListedName {
    const char* data;
    std::size_t size;
  };
  std::array<ListedName, kMaxListed> listed_;
  bool overflowed_ = false;
  std::size_t listed_count_ = 0;
};

}  // namespace sluice::http
