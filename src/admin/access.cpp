#include "admin/access.h"

#include <algorithm>
#include <array>
#include <charconv>

#include "config/address.h"
#include "config/model.h"
#include "core/address.h"
#include "http/message.h"

namespace sluice::admin {
namespace {

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

std::string lowered(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), lower);
  return out;
}

bool equals_ci(std::string_view a, std::string_view b) {
  return a.size() == b.size() && std::equal(a.begin(), a.end(), b.begin(),
                                            [](char x, char y) { return lower(x) == lower(y); });
}

// A header value for the log: attackers choose it, so keep it short.
std::string shown(std::string_view value) {
  constexpr std::size_t kMax = 100;
  return value.size() <= kMax ? std::string(value) : std::string(value.substr(0, kMax)) + "...";
}

// The one field named `name`; `repeated` is set when there are more.
std::optional<std::string_view> single_field(const http::RequestHead& head, std::string_view name,
                                             bool& repeated) {
  std::optional<std::string_view> found;
  repeated = false;
  for (const auto& f : head.fields) {
    if (!equals_ci(f.name, name)) continue;
    if (found) repeated = true;
    found = f.value;
  }
  return found;
}

// host [":" port] (RFC 3986 §3.2.2, §3.2.3): host lower-cased, a trailing
// dot dropped, an IPv6 literal kept in its brackets.
struct Authority {
  std::string host;
  std::optional<std::uint16_t> port;  // absent (or empty) in the text
};

std::optional<Authority> parse_authority(std::string_view text) {
  Authority a;
  std::string_view rest;
  if (!text.empty() && text.front() == '[') {
    const auto close = text.find(']');
    if (close == std::string_view::npos) return std::nullopt;
    a.host = lowered(text.substr(0, close + 1));
    rest = text.substr(close + 1);
  } else {
    const auto colon = text.find(':');
    a.host = lowered(text.substr(0, colon));
    if (colon != std::string_view::npos) rest = text.substr(colon);
    if (!a.host.empty() && a.host.back() == '.') a.host.pop_back();
  }
  if (a.host.empty() || a.host == "[]") return std::nullopt;
  if (rest.empty() || rest == ":") return a;
  if (rest.front() != ':') return std::nullopt;
  rest.remove_prefix(1);
  unsigned port = 0;
  auto [end, ec] = std::from_chars(rest.data(), rest.data() + rest.size(), port);
  if (ec != std::errc{} || end != rest.data() + rest.size() || port > 65535) return std::nullopt;
  a.port = static_cast<std::uint16_t>(port);
  return a;
}

// The connection's own address in the forms a client may write it: a
// listener on [::] reached over IPv4 sees ::ffff:127.0.0.1.
bool is_own_address(const std::string& host, const SocketAddress& local) {
  if (host == "localhost") return true;
  const std::uint16_t port = local.port();
  auto parsed = SocketAddress::parse_numeric(host + ":" + std::to_string(port));
  if (!parsed) return false;
  const std::string mine = local.host_string();
  const std::string theirs = parsed->host_string();
  if (theirs == mine) return true;
  constexpr std::string_view kMapped = "::ffff:";
  return mine.size() > kMapped.size() && equals_ci(mine.substr(0, kMapped.size()), kMapped) &&
         mine.substr(kMapped.size()) == theirs;
}

// Whether `a` names this listener. `port` is the port the client means
// (written, or its scheme's default). A configured name without a port
// matches it written with this listener's port or with none (a proxy in
// front, on its scheme's port); with a port, that port only.
bool names_this_listener(const Authority& a, std::uint16_t port, const AdminPolicy& policy,
                         const SocketAddress& local) {
  if (port == local.port() && is_own_address(a.host, local)) return true;
  for (const auto& name : policy.names) {
    const bool bracketed = !name.empty() && name.front() == '[';
    const auto colon = name.find(':', bracketed ? name.find(']') : 0);
    if (std::string_view(name).substr(0, colon) != a.host) continue;
    if (colon == std::string::npos) {
      if (!a.port || *a.port == local.port()) return true;
    } else if (std::to_string(port) == std::string_view(name).substr(colon + 1)) {
      return true;
    }
  }
  return false;
}

AdminResponse misdirected(const SocketAddress& local) {
  return {421, "text/plain",
          "this is the sluice admin listener at " + local.to_string() + ": send Host: " +
              local.to_string() + " (or localhost:" + std::to_string(local.port()) +
              ", or a name listed in admin.names)\n"};
}

std::optional<Refusal> check_host(const AdminPolicy& policy, const http::RequestHead& head,
                                  const SocketAddress& local) {
  // HTTP/1.0 may leave Host out; no browser does.
  if (head.host.empty() && head.version_minor == 0) return std::nullopt;
  const auto a = parse_authority(head.host);
  if (a && names_this_listener(*a, a->port.value_or(80), policy, local)) return std::nullopt;
  return Refusal{misdirected(local),
                 "Host " + shown(head.host) + " does not name this listener (DNS rebinding?)"};
}

// RFC 6454 §7.1: "null", or scheme "://" host [":" port]; a browser sends it
// with every cross-origin request and every POST.
std::optional<Refusal> check_origin(const AdminPolicy& policy, const http::RequestHead& head,
                                    const SocketAddress& local) {
  bool repeated = false;
  const auto origin = single_field(head, "origin", repeated);
  if (!origin) return std::nullopt;
  std::optional<Authority> a;
  std::uint16_t default_port = 0;
  if (!repeated) {
    for (const auto& [scheme, port] : std::array<std::pair<std::string_view, std::uint16_t>, 2>{
             {{"http://", 80}, {"https://", 443}}}) {
      if (origin->size() > scheme.size() && equals_ci(origin->substr(0, scheme.size()), scheme)) {
        a = parse_authority(origin->substr(scheme.size()));
        default_port = port;
      }
    }
  }
  if (a && names_this_listener(*a, a->port.value_or(default_port), policy, local)) {
    return std::nullopt;
  }
  return Refusal{
      {403, "text/plain",
       "cross-site request refused: Origin " + shown(*origin) + " is not this admin listener\n"},
      "Origin " + shown(*origin) + " is not this listener (a cross-site request?)"};
}

// RFC 6750 §2.1: "Bearer" 1*SP b64token; the scheme's case does not matter
// (RFC 9110 §11.1).
std::optional<Refusal> check_token(const AdminPolicy& policy, const http::RequestHead& head) {
  const bool reads_only = head.method == http::Method::GET || head.method == http::Method::HEAD;
  if (reads_only && policy.loopback) return std::nullopt;
  if (policy.token.empty()) {
    if (policy.loopback) return std::nullopt;
    // The loader refuses this; kept closed in case a path around it appears.
    return Refusal{{403, "text/plain", "admin.token_file is required off loopback\n"},
                   "no admin.token_file on a non-loopback address"};
  }
  bool repeated = false;
  const auto authorization = single_field(head, "authorization", repeated);
  std::string_view given;
  if (authorization && !repeated) {
    const std::string_view v = *authorization;
    const auto space = v.find(' ');
    const auto credentials = v.find_first_not_of(' ', space);
    if (credentials != std::string_view::npos && equals_ci(v.substr(0, space), "bearer")) {
      given = v.substr(credentials);
    }
  }
  if (!given.empty() && tokens_equal(given, policy.token)) return std::nullopt;
  const bool sent = authorization.has_value();
  AdminResponse r{401, "text/plain",
                  sent ? "wrong bearer token\n"
                       : "send the admin token: Authorization: Bearer TOKEN (admin.token_file)\n"};
  // RFC 6750 §3: the challenge; invalid_token when one was sent.
  r.headers.emplace_back("WWW-Authenticate",
                         sent ? "Bearer realm=\"sluice admin\", error=\"invalid_token\""
                              : "Bearer realm=\"sluice admin\"");
  return Refusal{std::move(r), sent ? "wrong bearer token" : "no bearer token"};
}

std::optional<Refusal> check_content_type(const http::RequestHead& head) {
  if (head.method != http::Method::POST) return std::nullopt;
  if (head.target.substr(0, head.target.find('?')) != "/config") return std::nullopt;
  bool repeated = false;
  const auto type = single_field(head, "content-type", repeated);
  if (!type) return std::nullopt;
  // RFC 9110 §8.3.1: type "/" subtype, then parameters after ';'.
  std::string_view media = type->substr(0, type->find(';'));
  while (!media.empty() && (media.back() == ' ' || media.back() == '\t'))
    media.remove_suffix(1);
  constexpr std::array<std::string_view, 5> kConfigTypes = {
      "application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml", "application/json"};
  if (!repeated && std::any_of(kConfigTypes.begin(), kConfigTypes.end(),
                               [&](std::string_view t) { return equals_ci(media, t); })) {
    return std::nullopt;
  }
  return Refusal{{415, "text/plain",
                  "send the configuration as application/yaml or application/json "
                  "(curl -H 'Content-Type: application/yaml' --data-binary @FILE)\n"},
                 "Content-Type " + shown(*type) + " is not YAML or JSON"};
}

// The declared length is refused before a byte of the body is read.
std::optional<Refusal> check_content_length(const AdminPolicy& policy,
                                            const http::RequestHead& head) {
  if (head.framing != http::Framing::content_length || head.content_length <= policy.max_body) {
    return std::nullopt;
  }
  return Refusal{{413, "text/plain", "body too large (admin.max_body)\n"},
                 "Content-Length " + std::to_string(head.content_length) + " over admin.max_body " +
                     std::to_string(policy.max_body)};
}

}  // namespace

AdminPolicy AdminPolicy::from(const config::Admin& admin) {
  AdminPolicy p;
  p.token = admin.token;
  config::HostPort hp;
  std::string why;
  p.loopback = config::parse_address(admin.listen, config::AddressUse::listen, hp, why) &&
               !hp.any_host && config::is_loopback_host(hp.host);
  p.names = admin.names;
  p.max_body = admin.max_body;
  p.max_connections = static_cast<std::size_t>(admin.max_connections);
  p.request_timeout_ms = static_cast<std::uint64_t>(admin.request_timeout.count());
  return p;
}

std::optional<Refusal> check_access(const AdminPolicy& policy, const http::RequestHead& head,
                                    const SocketAddress& local) {
  if (auto r = check_host(policy, head, local)) return r;
  if (auto r = check_origin(policy, head, local)) return r;
  if (auto r = check_token(policy, head)) return r;
  if (auto r = check_content_type(head)) return r;
  return check_content_length(policy, head);
}

bool tokens_equal(std::string_view given, std::string_view expected) {
  unsigned difference = given.size() == expected.size() ? 0 : 1;
  for (std::size_t i = 0; i < expected.size(); ++i) {
    const char g = i < given.size() ? given[i] : '\0';
    difference |= static_cast<unsigned char>(g ^ expected[i]);
  }
  return difference == 0;
}

}  // namespace sluice::admin
