#include "tls/client_hello.h"

#include <algorithm>
#include <bitset>
#include <optional>
#include <string_view>

namespace sluice::tls {

namespace {

constexpr std::uint8_t handshake_content_type = 22;  // RFC 8446 §5.1 ContentType.handshake
constexpr std::uint8_t client_hello_type = 1;        // RFC 8446 §4 HandshakeType.client_hello
constexpr std::size_t record_header_bytes = 5;       // type, legacy_record_version, length
constexpr std::size_t max_fragment_bytes = 1 << 14;  // RFC 8446 §5.1 TLSPlaintext.length
constexpr std::size_t handshake_header_bytes = 4;    // msg_type, uint24 length
constexpr std::size_t random_bytes = 32;
constexpr std::size_t max_session_id_bytes = 32;
constexpr std::uint16_t server_name_extension = 0;  // RFC 6066 §3
constexpr std::uint16_t alpn_extension = 16;        // RFC 7301 §3.1
constexpr std::uint8_t host_name_type = 0;          // RFC 6066 §3 NameType.host_name
constexpr std::size_t max_host_name_bytes = 255;

// The outcome of reading one field from a handshake message that may not
// have fully arrived yet.
enum class Step : std::uint8_t {
  ok,         // read; go on
  need_more,  // the field lies past the bytes received so far
  malformed,  // the field breaks a rule whatever bytes follow
};

std::uint8_t octet(std::string_view s, std::size_t i) {
  return static_cast<std::uint8_t>(s[i]);
}

std::size_t uint_at(std::string_view s, std::size_t i, std::size_t width) {
  std::size_t v = 0;
  for (std::size_t k = 0; k < width; ++k)
    v = (v << 8) | octet(s, i + k);
  return v;
}

// major 3, minor 1..4: TLS 1.0 to 1.3 as legacy versions write them
// (RFC 8446 §5.1 allows 0x0301 in the first record, §D for older peers).
bool tls_version(std::string_view two) {
  return octet(two, 0) == 3 && octet(two, 1) >= 1 && octet(two, 1) <= 4;
}

// Reads a handshake message front to back. `have` holds the bytes received
// so far; every field is checked against the declared end of the vector
// around it first (overrunning it is malformed) and only then against
// `have` (running out is need_more), so a prefix of a valid message is
// never malformed and a broken one is refused as early as the bytes show.
class Cursor {
 public:
  Cursor(std::string_view have, std::size_t at) : have_(have), at_(at) {}

  std::size_t at() const { return at_; }

  // `n` bytes that must end by `end`.
  Step take(std::size_t n, std::size_t end, std::string_view& out) {
    if (n > end - at_) return Step::malformed;
    if (n > have_.size() - std::min(at_, have_.size())) return Step::need_more;
    out = have_.substr(at_, n);
    at_ += n;
    return Step::ok;
  }

  Step number(std::size_t width, std::size_t end, std::size_t& out) {
    std::string_view field;
    const Step step = take(width, end, field);
    if (step == Step::ok) out = uint_at(field, 0, width);
    return step;
  }

  // A vector with a `width`-byte length prefix of min..max bytes (RFC 8446 §3.4).
  Step vector(std::size_t width, std::size_t min, std::size_t max, std::size_t end,
              std::string_view& out) {
    std::size_t length = 0;
    if (const Step step = number(width, end, length); step != Step::ok) return step;
    if (length < min || length > max) return Step::malformed;
    return take(length, end, out);
  }

 private:
  std::string_view have_;
  std::size_t at_;
};

// The name in SNI form, lower-cased and without one trailing dot; nullopt
// when it is no DNS host name (RFC 6066 §3: no literal IPs, no trailing dot
// sent; we accept one dot since some clients send it, as the DNS allows).
std::optional<std::string> host_name(std::string_view name) {
  if (!name.empty() && name.back() == '.') name.remove_suffix(1);
  if (name.empty()) return std::nullopt;
  std::string lower;
  lower.reserve(name.size());
  char previous = '.';  // so a leading dot counts as an empty label
  for (const char ch : name) {
    const bool alnum =
        (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
    if (!alnum && ch != '-' && ch != '.') return std::nullopt;
    if (ch == '.' && previous == '.') return std::nullopt;  // an empty label
    lower.push_back(ch >= 'A' && ch <= 'Z' ? static_cast<char>(ch - 'A' + 'a') : ch);
    previous = ch;
  }
  if (previous == '.') return std::nullopt;  // a second trailing dot
  return lower;
}

// RFC 6066 §3: a ServerNameList holding one host_name. The RFC allows one
// name per type, and host_name is the only type there is, so anything else
// is refused rather than guessed at.
Step read_server_name(std::string_view data, std::string& out) {
  Cursor c(data, 0);
  std::string_view list;
  if (c.vector(2, 1, 0xffff, data.size(), list) != Step::ok || c.at() != data.size()) {
    return Step::malformed;
  }
  Cursor entry(list, 0);
  std::size_t type = 0;
  std::string_view name;
  if (entry.number(1, list.size(), type) != Step::ok || type != host_name_type ||
      entry.vector(2, 1, max_host_name_bytes, list.size(), name) != Step::ok ||
      entry.at() != list.size()) {
    return Step::malformed;
  }
  std::optional<std::string> normal = host_name(name);
  if (!normal) return Step::malformed;
  out = std::move(*normal);
  return Step::ok;
}

// RFC 7301 §3.1: a non-empty list of non-empty protocol names.
Step read_alpn(std::string_view data, std::vector<std::string>& out) {
  Cursor c(data, 0);
  std::string_view list;
  if (c.vector(2, 2, 0xffff, data.size(), list) != Step::ok || c.at() != data.size()) {
    return Step::malformed;
  }
  Cursor names(list, 0);
  while (names.at() < list.size()) {
    std::string_view name;
    if (names.vector(1, 1, 0xff, list.size(), name) != Step::ok) return Step::malformed;
    out.emplace_back(name);
  }
  return Step::ok;
}

// The extensions fill the rest of the ClientHello exactly; each type at
// most once (RFC 8446 §4.2).
Step read_extensions(Cursor& c, std::size_t end, ClientHelloScan& out) {
  std::size_t length = 0;
  if (const Step step = c.number(2, end, length); step != Step::ok) return step;
  if (length != end - c.at()) return Step::malformed;
  std::bitset<0x10000> seen;
  while (c.at() < end) {
    std::size_t type = 0;
    if (const Step step = c.number(2, end, type); step != Step::ok) return step;
    if (seen.test(type)) return Step::malformed;
    seen.set(type);
    std::string_view data;
    if (const Step step = c.vector(2, 0, 0xffff, end, data); step != Step::ok) return step;
    Step read = Step::ok;
    if (type == server_name_extension) read = read_server_name(data, out.server_name);
    if (type == alpn_extension) read = read_alpn(data, out.alpn);
    if (read != Step::ok) return read;
  }
  return Step::ok;
}

// RFC 8446 §4.1.2 (and RFC 5246 §7.4.1.2 for TLS 1.2 and older clients).
// `message` is the handshake message so far, header included; `end` its
// declared size.
Step read_client_hello(std::string_view message, std::size_t end, ClientHelloScan& out) {
  Cursor c(message, handshake_header_bytes);
  std::string_view field;
  if (const Step step = c.take(2, end, field); step != Step::ok) return step;
  if (!tls_version(field)) return Step::malformed;
  if (const Step step = c.take(random_bytes, end, field); step != Step::ok) return step;
  if (const Step step = c.vector(1, 0, max_session_id_bytes, end, field); step != Step::ok) {
    return step;
  }
  // cipher_suites<2..2^16-2>: two bytes each.
  if (const Step step = c.vector(2, 2, 0xfffe, end, field); step != Step::ok) return step;
  if (field.size() % 2 != 0) return Step::malformed;
  // compression_methods<1..2^8-1>, which must offer null (0).
  if (const Step step = c.vector(1, 1, 0xff, end, field); step != Step::ok) return step;
  if (field.find('\0') == std::string_view::npos) return Step::malformed;
  // A TLS 1.2 client may send no extensions at all (RFC 5246 §7.4.1.2).
  if (c.at() == end) return Step::ok;
  return read_extensions(c, end, out);
}

// The handshake bytes gathered from the records read so far.
struct Reassembly {
  std::string message;          // header included; never more than `size` bytes
  std::size_t size = 0;         // header + declared length; 0 until the header is in
  std::size_t hello_bytes = 0;  // records consumed, once the message is whole
};

// What is present of a record header: content type, version, length
// (RFC 8446 §5.1: no empty handshake fragment, none over 2^14 in plaintext).
ClientHelloStatus check_record_header(std::string_view header, bool first) {
  if (!header.empty() && octet(header, 0) != handshake_content_type) {
    return first ? ClientHelloStatus::not_tls : ClientHelloStatus::malformed;
  }
  if (header.size() >= 2 && octet(header, 1) != 3) return ClientHelloStatus::malformed;
  if (header.size() >= 3 && !tls_version(header.substr(1, 2))) return ClientHelloStatus::malformed;
  if (header.size() >= record_header_bytes) {
    const std::size_t length = uint_at(header, 3, 2);
    if (length == 0 || length > max_fragment_bytes) return ClientHelloStatus::malformed;
  }
  return ClientHelloStatus::need_more;
}

// What is present of the handshake header: a ClientHello of at most `max_hello` bytes.
ClientHelloStatus check_handshake_header(Reassembly& hs, std::size_t max_hello) {
  if (!hs.message.empty() && octet(hs.message, 0) != client_hello_type) {
    return ClientHelloStatus::malformed;
  }
  if (hs.message.size() < handshake_header_bytes || hs.size != 0) {
    return ClientHelloStatus::need_more;
  }
  hs.size = handshake_header_bytes + uint_at(hs.message, 1, 3);
  if (hs.size > max_hello) return ClientHelloStatus::malformed;
  hs.message.reserve(hs.size);
  return ClientHelloStatus::need_more;
}

// Walks the records at the start of `bytes`, gathering their payloads into
// `hs`, until the ClientHello is whole, a rule is broken or the bytes end.
// A record that ends the ClientHello must end with it: a client sends
// nothing else in a handshake record before the server has answered.
ClientHelloStatus read_records(std::string_view bytes, std::size_t max_hello, Reassembly& hs) {
  std::size_t at = 0;
  for (;;) {
    const std::string_view header = bytes.substr(at, record_header_bytes);
    if (const ClientHelloStatus s = check_record_header(header, at == 0);
        s != ClientHelloStatus::need_more || header.size() < record_header_bytes) {
      return s;
    }
    const std::size_t fragment = uint_at(header, 3, 2);
    const std::string_view payload = bytes.substr(at + record_header_bytes, fragment);
    const std::size_t before = hs.message.size();
    const std::size_t header_part =
        std::min(payload.size(), handshake_header_bytes - std::min(before, handshake_header_bytes));
    hs.message.append(payload.substr(0, header_part));
    if (const ClientHelloStatus s = check_handshake_header(hs, max_hello);
        s != ClientHelloStatus::need_more) {
      return s;
    }
    if (hs.size != 0) {
      if (before + fragment > hs.size) return ClientHelloStatus::malformed;
      hs.message.append(payload.substr(header_part));
    }
    if (payload.size() < fragment) return ClientHelloStatus::need_more;
    at += record_header_bytes + fragment;
    if (hs.size != 0 && hs.message.size() == hs.size) {
      hs.hello_bytes = at;
      return ClientHelloStatus::complete;
    }
  }
}

}  // namespace

ClientHelloScan scan_client_hello(std::span<const char> bytes, std::size_t max_hello) {
  ClientHelloScan scan;
  Reassembly hs;
  const ClientHelloStatus records =
      read_records(std::string_view(bytes.data(), bytes.size()), max_hello, hs);
  if (records == ClientHelloStatus::not_tls || records == ClientHelloStatus::malformed) {
    scan.status = records;
    return scan;
  }
  if (hs.size == 0) return scan;  // need_more: the handshake header is not in yet
  ClientHelloScan read;
  switch (read_client_hello(hs.message, hs.size, read)) {
    case Step::malformed:
      scan.status = ClientHelloStatus::malformed;
      return scan;
    case Step::need_more:
      // A whole message cannot run short: every field is bounded by its end.
      if (records == ClientHelloStatus::complete) scan.status = ClientHelloStatus::malformed;
      return scan;
    case Step::ok:
      break;
  }
  if (records != ClientHelloStatus::complete) return scan;  // unreachable: ok reads to the end
  read.status = ClientHelloStatus::complete;
  read.hello_bytes = hs.hello_bytes;
  return read;
}

}  // namespace sluice::tls
