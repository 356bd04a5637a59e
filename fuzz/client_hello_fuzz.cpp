// The ClientHello reader behind SNI passthrough: whatever the bytes, it
// never reads past them; a complete hello ends within the input at a record
// boundary, names a valid lower-case host (or none) and non-empty protocols,
// reads the same from exactly its own bytes and from the same handshake
// message cut into other records; and a shorter prefix is never complete
// nor a different verdict than the whole input (a streaming caller decides
// on the first answer that is not need_more).
#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>

#include "tls/client_hello.h"

using sluice::tls::ClientHelloScan;
using sluice::tls::ClientHelloStatus;
using sluice::tls::scan_client_hello;

namespace {

ClientHelloScan scan(std::string_view in) {
  return scan_client_hello(std::span<const char>(in.data(), in.size()));
}

bool same(const ClientHelloScan& a, const ClientHelloScan& b) {
  return a.status == b.status && a.server_name == b.server_name && a.alpn == b.alpn &&
         a.hello_bytes == b.hello_bytes;
}

void check(bool ok) {
  if (!ok) std::abort();
}

bool valid_host_name(const std::string& name) {
  if (name.size() > 255 || name.front() == '.' || name.back() == '.') return false;
  char previous = 0;
  for (const char ch : name) {
    const bool allowed =
        (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '-' || ch == '.';
    if (!allowed || (ch == '.' && previous == '.')) return false;
    previous = ch;
  }
  return true;
}

// The handshake payload of the records up to `end`, which scan said hold the hello.
std::string handshake_message(std::string_view records, std::size_t end) {
  std::string message;
  for (std::size_t at = 0; at < end;) {
    check(end - at >= 5 && records[at] == 22);
    const std::size_t length = (static_cast<std::uint8_t>(records[at + 3]) << 8) |
                               static_cast<std::uint8_t>(records[at + 4]);
    check(length >= 1 && length <= end - at - 5);
    message.append(records.substr(at + 5, length));
    at += 5 + length;
  }
  return message;
}

std::string as_records(std::string_view message, std::size_t first) {
  std::string out;
  for (std::size_t at = 0, n = first; at < message.size(); at += n, n = 1 << 14) {
    n = std::min(n, message.size() - at);
    out += std::string("\x16\x03\x03", 3);
    out += static_cast<char>(n >> 8);
    out += static_cast<char>(n & 0xff);
    out.append(message.substr(at, n));
  }
  return out;
}

void check_complete(std::string_view in, const ClientHelloScan& whole) {
  check(whole.hello_bytes >= 5 + 4 && whole.hello_bytes <= in.size());
  check(whole.server_name.empty() || valid_host_name(whole.server_name));
  for (const std::string& protocol : whole.alpn)
    check(!protocol.empty() && protocol.size() <= 255);
  check(same(scan(in.substr(0, whole.hello_bytes)), whole));
  // Record boundaries carry no meaning: the message in other records reads the same.
  const std::string message = handshake_message(in, whole.hello_bytes);
  const std::size_t cut = 1 + (static_cast<std::uint8_t>(in.back()) % message.size());
  for (const std::size_t first : {cut, message.size()}) {
    if (first > (1u << 14)) continue;
    const std::string again = as_records(message, first);
    ClientHelloScan expected = whole;
    expected.hello_bytes = again.size();
    check(same(scan(again), expected));
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view in(reinterpret_cast<const char*>(data), size);
  const ClientHelloScan whole = scan(in);
  if (whole.status != ClientHelloStatus::complete) {
    check(whole.server_name.empty() && whole.alpn.empty() && whole.hello_bytes == 0);
  } else {
    check_complete(in, whole);
  }
  // Prefixes: every one of the first 64, then about 64 spread over the rest.
  const std::size_t end = whole.status == ClientHelloStatus::complete ? whole.hello_bytes : size;
  const std::size_t stride = end / 64 + 1;
  for (std::size_t k = 0; k < end; k += k < 64 ? 1 : stride) {
    const ClientHelloStatus part = scan(in.substr(0, k)).status;
    if (whole.status == ClientHelloStatus::complete ||
        whole.status == ClientHelloStatus::need_more) {
      check(part == ClientHelloStatus::need_more);
    } else {
      check(part == ClientHelloStatus::need_more || part == whole.status);
    }
  }
  return 0;
}
