// Reading the server name and ALPN list from a ClientHello before any TLS
// is terminated (SNI passthrough, issue 16), on hellos captured from
// openssl s_client and curl (fixtures/README.md): what a router learns from
// them, that no prefix of one is taken for a whole or a broken one, that
// record boundaries do not matter, and which broken hellos are refused.
#include "tls/client_hello.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <fstream>
#include <iterator>
#include <string>
#include <utility>
#include <vector>

namespace sluice::tls {
namespace {

using Status = ClientHelloStatus;

std::string fixture(const std::string& name) {
  const std::string path = std::string(SLUICE_SOURCE_DIR) + "/tests/unit/tls/fixtures/" + name;
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in) << path;
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

ClientHelloScan scan(const std::string& bytes, std::size_t max_hello = 16 * 1024) {
  return scan_client_hello(std::span<const char>(bytes.data(), bytes.size()), max_hello);
}

std::size_t number(const std::string& s, std::size_t at, std::size_t width) {
  std::size_t v = 0;
  for (std::size_t k = 0; k < width; ++k)
    v = (v << 8) | static_cast<std::uint8_t>(s[at + k]);
  return v;
}

std::string bytes_of(std::size_t v, std::size_t width) {
  std::string out(width, '\0');
  for (std::size_t k = 0; k < width; ++k)
    out[width - 1 - k] = static_cast<char>(v >> (8 * k));
  return out;
}

// A ClientHello taken apart, so a test can change one piece and put it
// back together with every length consistent.
struct Hello {
  std::string head;  // legacy_version through compression_methods
  std::vector<std::pair<std::uint16_t, std::string>> extensions;
};

constexpr std::size_t kRecordHeader = 5;
constexpr std::size_t kHandshakeHeader = 4;
constexpr std::uint16_t kServerName = 0;
constexpr std::uint16_t kAlpn = 16;
constexpr std::uint16_t kPadding = 21;

// The offsets of every length field in a one-record hello, for corrupting
// them; the fixtures are trusted, so no checks here.
struct Layout {
  std::size_t session_id = 0, cipher_suites = 0, compression = 0, extensions = 0;
  std::vector<std::size_t> extension_lengths;  // each extension's own length
  std::size_t sni_list = 0, sni_name = 0, alpn_list = 0, alpn_first_name = 0;
  Hello hello;
};

Layout layout(const std::string& record) {
  Layout l;
  std::size_t at = kRecordHeader + kHandshakeHeader + 2 + 32;
  l.session_id = at;
  at += 1 + number(record, at, 1);
  l.cipher_suites = at;
  at += 2 + number(record, at, 2);
  l.compression = at;
  at += 1 + number(record, at, 1);
  l.hello.head = record.substr(kRecordHeader + kHandshakeHeader, at - kRecordHeader - 4);
  l.extensions = at;
  at += 2;
  while (at < record.size()) {
    const auto type = static_cast<std::uint16_t>(number(record, at, 2));
    const std::size_t length = number(record, at + 2, 2);
    l.extension_lengths.push_back(at + 2);
    if (type == kServerName) {
      l.sni_list = at + 4;
      l.sni_name = at + 7;
    }
    if (type == kAlpn) {
      l.alpn_list = at + 4;
      l.alpn_first_name = at + 6;
    }
    l.hello.extensions.emplace_back(type, record.substr(at + 4, length));
    at += 4 + length;
  }
  return l;
}

std::string handshake_message(const Hello& h) {
  std::string extensions;
  for (const auto& [type, data] : h.extensions) {
    extensions += bytes_of(type, 2) + bytes_of(data.size(), 2) + data;
  }
  const std::string body = h.head + bytes_of(extensions.size(), 2) + extensions;
  return "\x01" + bytes_of(body.size(), 3) + body;
}

// `message` as handshake records whose payloads are `sizes` long, the last
// one taking what is left.
std::string records(const std::string& message, const std::vector<std::size_t>& sizes = {}) {
  std::string out;
  std::size_t at = 0;
  for (std::size_t i = 0; at < message.size(); ++i) {
    const std::size_t n = i < sizes.size() ? sizes[i] : message.size() - at;
    out += "\x16\x03\x01" + bytes_of(n, 2) + message.substr(at, n);
    at += n;
  }
  return out;
}

std::string sni(const std::string& name) {
  const std::string entry = '\0' + bytes_of(name.size(), 2) + name;
  return bytes_of(entry.size(), 2) + entry;
}

// The openssl TLS 1.3 hello with its server_name extension's data replaced.
std::string with_sni_data(const std::string& data) {
  Hello h = layout(fixture("openssl_tls13.bin")).hello;
  for (auto& [type, value] : h.extensions) {
    if (type == kServerName) value = data;
  }
  return records(handshake_message(h));
}

std::string with_alpn_data(const std::string& data) {
  Hello h = layout(fixture("openssl_tls13.bin")).hello;
  for (auto& [type, value] : h.extensions) {
    if (type == kAlpn) value = data;
  }
  return records(handshake_message(h));
}

// `s` with the big-endian field of `width` bytes at `at` changed by `delta`.
std::string adjusted(std::string s, std::size_t at, std::size_t width, int delta) {
  const std::size_t v = number(s, at, width) + static_cast<std::size_t>(delta);
  return s.replace(at, width, bytes_of(v, width));
}

struct Captured {
  const char* file;
  const char* server_name;
};

const std::vector<Captured> kCaptured = {
    {"openssl_tls13.bin", "a.example.com"},
    {"openssl_tls12.bin", "a.example.com"},
    {"curl.bin", "a.example.com"},
    {"openssl_no_sni.bin", ""},
};

const std::vector<std::string> kOffered = {"h2", "http/1.1"};

TEST(ClientHello, CapturedHellosGiveTheirServerNameAndAlpn) {
  for (const auto& c : kCaptured) {
    const std::string bytes = fixture(c.file);
    const ClientHelloScan s = scan(bytes);
    EXPECT_EQ(s.status, Status::complete) << c.file;
    EXPECT_EQ(s.server_name, c.server_name) << c.file;
    EXPECT_EQ(s.alpn, kOffered) << c.file;
    EXPECT_EQ(s.hello_bytes, bytes.size()) << c.file;
  }
}

TEST(ClientHello, EveryPrefixOfACapturedHelloAsksForMore) {
  for (const auto& c : kCaptured) {
    const std::string bytes = fixture(c.file);
    for (std::size_t k = 0; k < bytes.size(); ++k) {
      const ClientHelloScan s = scan(bytes.substr(0, k));
      ASSERT_EQ(s.status, Status::need_more) << c.file << " first " << k << " bytes";
      EXPECT_TRUE(s.server_name.empty() && s.alpn.empty() && s.hello_bytes == 0);
    }
  }
}

TEST(ClientHello, BytesAfterTheHelloAreNotPartOfIt) {
  // A TLS 1.3 client in middlebox-compatibility mode may follow its hello
  // with change_cipher_spec; a router passes those bytes on untouched.
  const std::string hello = fixture("openssl_tls13.bin");
  const ClientHelloScan s = scan(hello + std::string("\x14\x03\x03\x00\x01\x01", 6));
  EXPECT_EQ(s.status, Status::complete);
  EXPECT_EQ(s.hello_bytes, hello.size());
  EXPECT_EQ(s.server_name, "a.example.com");
}

TEST(ClientHello, AHelloSplitAcrossRecordsReadsTheSame) {
  for (const auto& c : kCaptured) {
    const std::string message = handshake_message(layout(fixture(c.file)).hello);
    const std::vector<std::vector<std::size_t>> splits = {{1},
                                                          {2},
                                                          {3},
                                                          {4},
                                                          {5},
                                                          {40},
                                                          {message.size() / 2},
                                                          {message.size() - 1},
                                                          {1, 2},
                                                          {3, 1},
                                                          {50, 60},
                                                          {message.size() / 3, message.size() / 3}};
    for (const auto& sizes : splits) {
      const std::string bytes = records(message, sizes);
      const ClientHelloScan s = scan(bytes);
      EXPECT_EQ(s.status, Status::complete) << c.file << " split at " << sizes[0];
      EXPECT_EQ(s.server_name, c.server_name) << c.file << " split at " << sizes[0];
      EXPECT_EQ(s.alpn, kOffered) << c.file;
      EXPECT_EQ(s.hello_bytes, bytes.size()) << c.file;
      for (std::size_t k = 0; k < bytes.size(); ++k) {
        ASSERT_EQ(scan(bytes.substr(0, k)).status, Status::need_more) << c.file << " " << k;
      }
    }
  }
}

TEST(ClientHello, PlainHttpIsNotTls) {
  EXPECT_EQ(scan("GET / HTTP/1.1\r\nHost: a.example.com\r\n\r\n").status, Status::not_tls);
  EXPECT_EQ(scan("G").status, Status::not_tls);
  // An SSL 2.0-style hello has no TLS record header either.
  EXPECT_EQ(scan(std::string("\x80\x2e\x01\x03\x01", 5)).status, Status::not_tls);
  EXPECT_EQ(scan("").status, Status::need_more);
}

TEST(ClientHello, EveryLengthFieldOffByOneIsMalformed) {
  for (const auto& c : kCaptured) {
    const std::string bytes = fixture(c.file);
    const Layout l = layout(bytes);
    std::vector<std::pair<std::string, std::pair<std::size_t, std::size_t>>> fields = {
        {"record", {3, 2}},
        {"handshake", {6, 3}},
        {"session id", {l.session_id, 1}},
        {"cipher suites", {l.cipher_suites, 2}},
        {"compression methods", {l.compression, 1}},
        {"extensions", {l.extensions, 2}},
    };
    if (l.sni_list != 0) {
      fields.push_back({"server name list", {l.sni_list, 2}});
      fields.push_back({"host name", {l.sni_name, 2}});
    }
    fields.push_back({"protocol name list", {l.alpn_list, 2}});
    fields.push_back({"first protocol name", {l.alpn_first_name, 1}});
    for (std::size_t i = 0; i < l.extension_lengths.size(); ++i) {
      fields.push_back({"extension " + std::to_string(i), {l.extension_lengths[i], 2}});
    }
    for (const auto& [what, field] : fields) {
      for (const int delta : {-1, +1}) {
        const std::string broken = adjusted(bytes, field.first, field.second, delta);
        EXPECT_EQ(scan(broken).status, Status::malformed)
            << c.file << ": " << what << " length " << (delta > 0 ? "+1" : "-1");
      }
    }
  }
}

TEST(ClientHello, AFieldRunningPastTheHelloIsRefusedBeforeTheRestArrives) {
  // A router stops reading at the first verdict, so it must not wait for
  // bytes a broken length promises.
  const std::string hello = fixture("openssl_tls13.bin");
  const Layout l = layout(hello);
  std::string broken = hello;
  broken.replace(l.cipher_suites, 2, bytes_of(0xfffe, 2));
  EXPECT_EQ(scan(broken.substr(0, l.cipher_suites + 2)).status, Status::malformed);
  EXPECT_EQ(scan(broken.substr(0, l.cipher_suites + 1)).status, Status::need_more);
}

TEST(ClientHello, WrongTypesAndVersionsAreRefused) {
  const std::string hello = fixture("openssl_tls13.bin");
  auto with_byte = [&](std::size_t at, char value) {
    std::string s = hello;
    s[at] = value;
    return scan(s).status;
  };
  EXPECT_EQ(with_byte(0, '\x17'), Status::not_tls);    // application data first
  EXPECT_EQ(with_byte(1, '\x02'), Status::malformed);  // record version 2.1
  EXPECT_EQ(with_byte(2, '\x00'), Status::malformed);  // record version SSL 3.0
  EXPECT_EQ(with_byte(2, '\x05'), Status::malformed);
  EXPECT_EQ(with_byte(5, '\x02'), Status::malformed);   // a ServerHello
  EXPECT_EQ(with_byte(10, '\x00'), Status::malformed);  // legacy_version 3.0
  EXPECT_EQ(with_byte(9, '\x02'), Status::malformed);   // legacy_version 2.3
  // Each is refused from the moment the byte arrives.
  EXPECT_EQ(scan(std::string("\x16\x02", 2)).status, Status::malformed);
  EXPECT_EQ(scan(hello.substr(0, 5) + '\x02').status, Status::malformed);

  // Another record before the hello is whole (RFC 8446 §5.1).
  const std::string message = handshake_message(layout(hello).hello);
  for (const char type : {'\x14', '\x15', '\x17'}) {
    std::string split = records(message, {100});
    split[kRecordHeader + 100] = type;
    EXPECT_EQ(scan(split).status, Status::malformed) << int(type);
  }
}

TEST(ClientHello, RecordLengthsOutsideOneToTwoToTheFourteenAreRefused) {
  EXPECT_EQ(scan(std::string("\x16\x03\x01\x00\x00", 5)).status, Status::malformed);
  EXPECT_EQ(scan(std::string("\x16\x03\x01\x40\x01", 5)).status, Status::malformed);
  EXPECT_EQ(scan(std::string("\x16\x03\x01\x40\x00", 5)).status, Status::need_more);
  // An empty record in the middle of a split hello.
  const std::string message = handshake_message(layout(fixture("curl.bin")).hello);
  const std::string first = records(message.substr(0, 10));
  EXPECT_EQ(scan(first + std::string("\x16\x03\x01\x00\x00", 5)).status, Status::malformed);
}

TEST(ClientHello, ARecordCarryingMoreThanTheHelloIsRefused) {
  Hello h = layout(fixture("openssl_tls12.bin")).hello;
  const std::string message = handshake_message(h);
  // The hello followed by a second handshake message in the same record.
  EXPECT_EQ(scan(records(message + message)).status, Status::malformed);
}

TEST(ClientHello, DuplicateExtensionsAreRefused) {
  for (const std::uint16_t twice : {kServerName, kAlpn}) {
    Hello h = layout(fixture("openssl_tls13.bin")).hello;
    for (const auto& e : std::vector(h.extensions)) {
      if (e.first == twice) h.extensions.push_back(e);
    }
    EXPECT_EQ(scan(records(handshake_message(h))).status, Status::malformed) << twice;
  }
}

TEST(ClientHello, ServerNameIsLowerCasedWithoutItsTrailingDot) {
  const ClientHelloScan s = scan(with_sni_data(sni("WWW.Example.COM.")));
  EXPECT_EQ(s.status, Status::complete);
  EXPECT_EQ(s.server_name, "www.example.com");
  EXPECT_EQ(scan(with_sni_data(sni("xn--bcher-kva.example"))).server_name, "xn--bcher-kva.example");
  EXPECT_EQ(scan(with_sni_data(sni("localhost"))).server_name, "localhost");
}

TEST(ClientHello, ServerNameUpTo255BytesIsAccepted) {
  const std::string label(63, 'a');
  const std::string name = label + "." + label + "." + label + "." + label;  // 255 bytes
  ASSERT_EQ(name.size(), 255u);
  EXPECT_EQ(scan(with_sni_data(sni(name))).server_name, name);
  EXPECT_EQ(scan(with_sni_data(sni(name + "a"))).status, Status::malformed);
  EXPECT_EQ(scan(with_sni_data(sni(name + "."))).status, Status::malformed);
}

TEST(ClientHello, ServerNamesThatAreNoHostNamesAreRefused) {
  for (const std::string& name :
       {std::string(), std::string("."), std::string("a.."), std::string(".a"), std::string("a..b"),
        std::string("a_b.example.com"), std::string("a b"), std::string("a.example.com\0", 14),
        std::string("b\xc3\xbc"
                    "cher.example"),
        std::string("a.example.com/x"), std::string("[::1]"), std::string("a:443")}) {
    EXPECT_EQ(scan(with_sni_data(sni(name))).status, Status::malformed) << name;
  }
}

TEST(ClientHello, ServerNameListsOtherThanOneHostNameAreRefused) {
  const std::string entry = '\0' + bytes_of(5, 2) + "a.com";
  const std::string two = entry + entry;
  EXPECT_EQ(scan(with_sni_data(bytes_of(two.size(), 2) + two)).status, Status::malformed);
  const std::string other_type = '\x01' + bytes_of(5, 2) + "a.com";
  EXPECT_EQ(scan(with_sni_data(bytes_of(other_type.size(), 2) + other_type)).status,
            Status::malformed);
  EXPECT_EQ(scan(with_sni_data(bytes_of(0, 2))).status, Status::malformed);  // empty list
  EXPECT_EQ(scan(with_sni_data("")).status, Status::malformed);  // as a server would send it
}

TEST(ClientHello, AlpnListsWithEmptyNamesAreRefused) {
  EXPECT_EQ(scan(with_alpn_data(bytes_of(0, 2))).status, Status::malformed);
  EXPECT_EQ(scan(with_alpn_data(bytes_of(4, 2) + "\x02h2" + '\0')).status, Status::malformed);
  EXPECT_EQ(scan(with_alpn_data(bytes_of(1, 2) + '\0')).status, Status::malformed);
  const ClientHelloScan one = scan(with_alpn_data(bytes_of(3, 2) + "\x02h2"));
  EXPECT_EQ(one.status, Status::complete);
  EXPECT_EQ(one.alpn, std::vector<std::string>{"h2"});
}

TEST(ClientHello, AHelloWithoutExtensionsIsComplete) {
  // RFC 5246 §7.4.1.2: a TLS 1.2 client may end the hello after compression_methods.
  const std::string head = layout(fixture("openssl_tls12.bin")).hello.head;
  const std::string bytes = records("\x01" + bytes_of(head.size(), 3) + head);
  const ClientHelloScan s = scan(bytes);
  EXPECT_EQ(s.status, Status::complete);
  EXPECT_EQ(s.server_name, "");
  EXPECT_TRUE(s.alpn.empty());
  EXPECT_EQ(s.hello_bytes, bytes.size());
}

TEST(ClientHello, AHelloLongerThanTheLimitIsRefused) {
  const std::string hello = fixture("openssl_tls13.bin");
  EXPECT_EQ(scan(hello, hello.size() - kRecordHeader).status, Status::complete);
  EXPECT_EQ(scan(hello, hello.size() - kRecordHeader - 1).status, Status::malformed);
  // Refused on the handshake header alone, before the body arrives.
  EXPECT_EQ(scan(hello.substr(0, kRecordHeader + kHandshakeHeader), 100).status, Status::malformed);

  // 17 KB of padding needs two records: over the default limit, within a larger one.
  Hello h = layout(hello).hello;
  h.extensions.emplace_back(kPadding, std::string(17 * 1024, '\0'));
  const std::string message = handshake_message(h);
  const std::string big = records(message, {16 * 1024});
  EXPECT_EQ(scan(big).status, Status::malformed);
  const ClientHelloScan s = scan(big, 32 * 1024);
  EXPECT_EQ(s.status, Status::complete);
  EXPECT_EQ(s.server_name, "a.example.com");
  EXPECT_EQ(s.hello_bytes, big.size());
}

TEST(ClientHello, CipherSuitesAndCompressionMethodsFollowTheirRules) {
  const std::string hello = fixture("openssl_tls12.bin");
  Hello h = layout(hello).hello;
  const std::size_t suites = 2 + 32 + 1 + static_cast<std::uint8_t>(h.head[34]);
  Hello no_suites = h;
  no_suites.head.replace(suites, 2 + number(h.head, suites, 2), bytes_of(0, 2));
  EXPECT_EQ(scan(records(handshake_message(no_suites))).status, Status::malformed);
  Hello odd_suites = h;  // one suite and half of another
  odd_suites.head.replace(suites, 2 + number(h.head, suites, 2), bytes_of(3, 2) + "\x13\x01\x13");
  EXPECT_EQ(scan(records(handshake_message(odd_suites))).status, Status::malformed);
  // Compression methods without null (RFC 5246 §7.4.1.2).
  Hello no_null = h;
  no_null.head.back() = '\x01';
  EXPECT_EQ(scan(records(handshake_message(no_null))).status, Status::malformed);
  // A 33-byte session id.
  Hello long_id = h;
  long_id.head.replace(34, 1 + number(h.head, 34, 1), '\x21' + std::string(33, 'x'));
  EXPECT_EQ(scan(records(handshake_message(long_id))).status, Status::malformed);
}

}  // namespace
}  // namespace sluice::tls
