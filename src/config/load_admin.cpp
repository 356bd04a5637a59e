// The 'admin' block (docs/config.md, "admin"): the admin listener, its
// bearer token, read from a file at load time, and the Host names it answers.
#include <arpa/inet.h>

#include <algorithm>
#include <cassert>
#include <cctype>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <fstream>

#include "config/block_loaders.h"
#include "config/suggest.h"

namespace sluice::config {

namespace {

// A bearer token travels as an RFC 6750 §2.1 b64token: letters, digits,
// "-._~+/", then any number of '='.
bool valid_bearer_token(std::string_view t) {
  const std::size_t end = t.find_last_not_of('=') + 1;
  return end > 0 &&
         std::all_of(t.begin(), t.begin() + static_cast<std::ptrdiff_t>(end), [](char c) {
           return std::isalnum(static_cast<unsigned char>(c)) ||
                  std::string_view("-._~+/").find(c) != std::string_view::npos;
         });
}

constexpr std::size_t kMaxTokenBytes = 1024;

// Reads the token in `path`: one line, its line break (LF or CRLF) dropped.
// False with `why` set when it cannot be read or used.
bool read_token_file(const std::string& path, std::string& token, std::string& why) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    why = "cannot read " + path + ": " + std::strerror(errno);
    return false;
  }
  // Two bytes more than a token may hold, for its line break, and one more
  // to tell a token that is too long.
  std::string text(kMaxTokenBytes + 3, '\0');
  in.read(text.data(), static_cast<std::streamsize>(text.size()));
  text.resize(static_cast<std::size_t>(in.gcount()));
  if (in.bad()) {
    why = "cannot read " + path;
    return false;
  }
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r'))
    text.pop_back();
  if (text.empty()) {
    why = path + " is empty: it must hold the token";
    return false;
  }
  if (text.size() > kMaxTokenBytes) {
    why = path + " holds more than " + std::to_string(kMaxTokenBytes) +
          " bytes; a token that long does not fit in a request head";
    return false;
  }
  if (!valid_bearer_token(text)) {
    why = path +
          " must hold one line of letters, digits and -._~+/ (then any '='), as a bearer "
          "token is sent (RFC 6750); it holds something else (a space, a second line?)";
    return false;
  }
  token = std::move(text);
  return true;
}

// Splits "[v6]" or "[v6]:port" into host (with its brackets) and port; false
// unless the brackets hold an IPv6 address and ':' alone follows them.
bool split_bracketed(std::string_view name, std::string_view& host, std::string_view& port) {
  const auto close = name.find(']');
  if (close == std::string_view::npos) return false;
  if (close + 1 < name.size()) {
    if (name[close + 1] != ':') return false;
    port = name.substr(close + 2);
  }
  const std::string v6(name.substr(1, close - 1));
  in6_addr a{};
  if (inet_pton(AF_INET6, v6.c_str(), &a) != 1) return false;
  host = name.substr(0, close + 1);
  return true;
}

// A Host value as a client writes it: "name", "name:port", "[v6]" or
// "[v6]:port". Lower-cased, trailing dot dropped; false if malformed.
bool normalise_admin_name(std::string& name) {
  for (char& ch : name)
    ch = (ch >= 'A' && ch <= 'Z') ? static_cast<char>(ch - 'A' + 'a') : ch;
  std::string_view host = name;
  std::string_view port;
  if (!host.empty() && host.front() == '[') {
    if (!split_bracketed(name, host, port)) return false;
  } else {
    if (const auto colon = host.find(':'); colon != std::string_view::npos) {
      port = host.substr(colon + 1);
      host = host.substr(0, colon);
    }
    if (!host.empty() && host.back() == '.') host.remove_suffix(1);
    if (!valid_host_name(host)) return false;
  }
  if (name.find(':') != std::string::npos && name.front() != '[' && port.empty()) return false;
  if (!port.empty()) {
    unsigned p = 0;
    auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), p);
    if (ec != std::errc{} || end != port.data() + port.size() || p < 1 || p > 65535) return false;
  }
  name = std::string(host) + (port.empty() ? "" : ":" + std::string(port));
  return true;
}

void load_token(Walker& w, const yaml::Node& a, const Block& ab, std::string_view base_dir,
                Admin& admin) {
  std::string token_file;
  if (!w.string_field(a, "token_file", ab, token_file)) return;
  const yaml::Node n = field(a, "token_file");
  admin.token_file = token_file;
  admin.token_file_where = where(n);
  // Relative to the configuration file, wherever sluice was started.
  const std::string path = resolve_path(base_dir, token_file);
  std::string why;
  if (!read_token_file(path, admin.token, why)) w.error(n, ab.at("token_file") + ": " + why);
}

void load_names(Walker& w, const yaml::Node& a, const Block& ab, std::vector<std::string>& names) {
  std::vector<yaml::Node> nodes;
  w.string_list(a, "names", ab, names, nullptr, &nodes);
  assert(nodes.size() == names.size());  // one node per item read
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    if (!normalise_admin_name(names[i])) {
      w.error(nodes[i], ab.at("names") +
                            ": expected a host name as clients send it in Host (admin.example "
                            "or admin.example:9901), got " +
                            quote(nodes[i].Scalar()));
    }
  }
}

}  // namespace

bool load_admin(Walker& w, const yaml::Node& a, std::string_view base_dir, Admin& admin) {
  const Block ab{"", "admin"};
  if (!w.map_with_keys(
          a, ab,
          {"listen", "token_file", "names", "max_body", "max_connections", "request_timeout"})) {
    return false;
  }
  if (w.string_field(a, "listen", ab, admin.listen, true)) {
    w.address_check(field(a, "listen"), ab.at("listen"), admin.listen, AddressUse::listen);
    admin.listen_where = where(field(a, "listen"));
  }
  load_token(w, a, ab, base_dir, admin);
  load_names(w, a, ab, admin.names);
  if (const yaml::Node n = field(a, "max_body"); n.IsDefined()) {
    std::uint64_t v = 0;
    if (w.size_value(n, ab.at("max_body"), v)) {
      if (v == 0) {
        w.error(n, ab.at("max_body") + ": must be at least 1 byte");
      } else {
        admin.max_body = v;
      }
    }
  }
  w.int_field(a, "max_connections", ab, 1, 100'000, admin.max_connections);
  w.duration_field(a, "request_timeout", ab, admin.request_timeout);
  return true;
}

}  // namespace sluice::config
