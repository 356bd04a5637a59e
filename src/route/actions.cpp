// What routes do to a request besides choosing: rewrite its target before
// forwarding, or redirect it.
#include <algorithm>

#include "route/route_table.h"

namespace sluice::route {
namespace {

// RFC 3986 §3.3: pchar = unreserved / pct-encoded / sub-delims / ":" / "@".
bool is_path_char(unsigned char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  return std::string_view("-._~!$&'()*+,;=:@/%").find(static_cast<char>(c)) !=
         std::string_view::npos;
}

bool is_hex(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// An absolute path of origin-form (RFC 9112 §3.2.1): starts with '/', only
// path characters, every '%' followed by two hex digits.
bool valid_origin_path(std::string_view p) {
  if (p.empty() || p[0] != '/') return false;
  for (std::size_t i = 0; i < p.size(); ++i) {
    const auto c = static_cast<unsigned char>(p[i]);
    if (!is_path_char(c)) return false;
    if (c == '%' && (i + 2 >= p.size() || !is_hex(p[i + 1]) || !is_hex(p[i + 2]))) return false;
  }
  return true;
}

// RFC 3986 §3.4: query = *( pchar / "/" / "?" ).
bool valid_query(std::string_view q) {
  for (std::size_t i = 0; i < q.size(); ++i) {
    const auto c = static_cast<unsigned char>(q[i]);
    if (!is_path_char(c) && c != '?') return false;
    if (c == '%' && (i + 2 >= q.size() || !is_hex(q[i + 1]) || !is_hex(q[i + 2]))) return false;
  }
  return true;
}

}  // namespace

void expand(const Template& t, const Captures& captures, std::string& out) {
  for (const auto& piece : t.pieces) {
    if (piece.group < 0) {
      out += piece.literal;
    } else if (piece.group < captures.count) {
      out += captures.groups[static_cast<std::size_t>(piece.group)];
    }
  }
}

bool rewrite_target(const Rewrite& rw, std::string_view path, std::string_view query,
                    const Captures& captures, PathOptions options, std::string& out) {
  out.clear();
  if (!rw.path.empty()) {
    expand(rw.path, captures, out);
  } else {
    if (!rw.strip_prefix.empty() && path.substr(0, rw.strip_prefix.size()) == rw.strip_prefix) {
      path.remove_prefix(rw.strip_prefix.size());
    }
    out += rw.add_prefix;
    // "/api" stripped from "/api" leaves "": the root. Never "//x" from the join.
    if (!out.empty() && out.back() == '/' && !path.empty() && path.front() == '/') {
      path.remove_prefix(1);
    }
    if (out.empty() && (path.empty() || path.front() != '/')) out += '/';
    out += path;
  }
  // A rewritten path may bring its own query ("/items?id=$1"): the
  // request's query follows it.
  auto q = out.find('?');
  if (!valid_origin_path(std::string_view(out).substr(0, q))) return false;
  if (q != std::string::npos && !valid_query(std::string_view(out).substr(q + 1))) return false;
  // What is forwarded is in normal form too. A capture or a stripped prefix
  // can end mid-segment ("/api" off "/api../admin" leaves "/../admin"), so a
  // dot segment in the result is refused: resolving it would leave the tree
  // the route sends to.
  PathOptions strict = options;
  strict.reject_dot_segments = true;
  std::string normal;
  if (normalize_path(std::string_view(out).substr(0, q), normal, strict) != PathError::none) {
    return false;
  }
  out.replace(0, q == std::string::npos ? out.size() : q, normal);
  if (!query.empty()) {
    out += q == std::string::npos ? '?' : '&';
    out += query;
  }
  return true;
}

std::string redirect_location(const Redirect& rd, std::string_view request_host,
                              std::string_view path, std::string_view query,
                              const Captures& captures, bool secure) {
  const std::string request_scheme = secure ? "https" : "http";
  const std::string scheme = rd.scheme.empty() ? request_scheme : rd.scheme;
  std::string host(rd.host.empty() ? request_host : std::string_view(rd.host));
  // Another scheme, another port: http://a:8080 goes to https://a (the
  // scheme's default port) unless the redirect names one.
  if (!rd.host.empty() || !rd.port.empty() || scheme != request_scheme) {
    // A new host or port replaces the request's port.
    if (host.empty() || host.front() != '[') {
      host = host.substr(0, host.rfind(':') == std::string::npos ? host.size() : host.rfind(':'));
    } else if (auto close = host.find(']'); close != std::string::npos) {
      host.resize(close + 1);
    }
  }
  std::string out = scheme + "://" + host;
  if (!rd.port.empty()) out += ":" + rd.port;
  if (rd.path.empty()) {
    out += path;
  } else {
    expand(rd.path, captures, out);
  }
  if (rd.keep_query && !query.empty()) {
    out += '?';
    out += query;
  }
  return out;
}

}  // namespace sluice::route
