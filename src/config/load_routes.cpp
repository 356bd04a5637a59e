// The 'routes' block (docs/config.md, "Routes"): which listeners a route
// serves, what it matches (load_route_match.cpp) and its one action:
// forward to a backend (with an optional rewrite), respond or redirect.
#include <algorithm>
#include <cassert>
#include <cctype>
#include <charconv>

#include "config/block_loaders.h"
#include "config/suggest.h"

namespace sluice::config {

namespace {

// Counts the capture groups of an RE2 pattern without compiling it: every
// unescaped '(' outside a character class that is not "(?" or is a named
// group "(?P<" / "(?<". Good enough to check "$N" references; the router
// compiles the pattern and reports anything this misses.
int count_groups(std::string_view re) {
  int groups = 0;
  bool in_class = false;
  for (std::size_t i = 0; i < re.size(); ++i) {
    const char c = re[i];
    if (c == '\\') {
      if (i + 1 < re.size() && re[i + 1] == 'Q') {  // \Q...\E is literal
        const auto end = re.find("\\E", i + 2);
        if (end == std::string_view::npos) break;
        i = end + 1;
      } else {
        ++i;
      }
    } else if (in_class) {
      if (c == ']') in_class = false;
    } else if (c == '[') {
      in_class = true;
      if (i + 1 < re.size() && re[i + 1] == '^') ++i;
      if (i + 1 < re.size() && re[i + 1] == ']') ++i;  // "[]...]": ']' first is literal
    } else if (c == '(') {
      const std::string_view rest = re.substr(i + 1);
      if (rest.empty() || rest[0] != '?' || rest.substr(0, 3) == "?P<" ||
          (rest.substr(0, 2) == "?<" && rest.substr(0, 3) != "?<=" && rest.substr(0, 3) != "?<!")) {
        ++groups;
      }
    }
  }
  return groups;
}

// What "${...}" in a replacement holds.
struct BracedCapture {
  enum class Kind { name, number, malformed } kind = Kind::malformed;
  int number = 0;  // for Kind::number
};

// `inner` is the text between "${" and "}": a group name, or a capture
// number up to 15 (from_chars lets a sign through, as it always has).
BracedCapture read_braced(std::string_view inner) {
  const bool is_name = !inner.empty() && !std::isdigit(static_cast<unsigned char>(inner[0])) &&
                       std::all_of(inner.begin(), inner.end(), [](char c) {
                         return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
                       });
  if (is_name) return {BracedCapture::Kind::name, 0};
  int n = -1;
  auto [end, ec] = std::from_chars(inner.data(), inner.data() + inner.size(), n);
  if (inner.empty() || ec != std::errc{} || end != inner.data() + inner.size() || n > 15) {
    return {BracedCapture::Kind::malformed, 0};
  }
  return {BracedCapture::Kind::number, n};
}

// Checks "$N", "${N}", "${name}" and "$$" in a replacement. Returns the
// highest N used (0 if none; `$0`, the whole match, also sets `any`) or -1
// with `why` set; names used go to `names`.
int check_template(std::string_view t, std::string& why, bool& any,
                   std::vector<std::string>& names) {
  int highest = 0;
  any = false;
  for (std::size_t i = 0; i < t.size(); ++i) {
    if (t[i] != '$') continue;
    if (i + 1 >= t.size()) {
      why = "'$' at the end; write '$$' for a literal '$'";
      return -1;
    }
    const char next = t[i + 1];
    if (next == '$') {
      ++i;
    } else if (next >= '0' && next <= '9') {
      highest = std::max(highest, next - '0');
      any = true;
      ++i;
    } else if (next == '{') {
      const auto close = t.find('}', i + 2);
      const std::string_view inner =
          close == std::string_view::npos ? std::string_view() : t.substr(i + 2, close - i - 2);
      const BracedCapture c = read_braced(inner);
      if (c.kind == BracedCapture::Kind::name) {
        names.emplace_back(inner);
      } else if (c.kind == BracedCapture::Kind::malformed) {
        why =
            "'${' must be followed by a capture number up to 15 or a group name and '}', as in "
            "${1} or ${id}";
        return -1;
      } else {
        highest = std::max(highest, c.number);
      }
      any = true;
      i = close;
    } else {
      why = "'$' must be followed by a capture number (as in $1 or ${12}), ${name}, or '$'";
      return -1;
    }
  }
  return highest;
}

// "$N" in rewrite.path or redirect.path refers to a capture of path_regex.
void check_captures(Walker& w, const yaml::Node& n, const std::string& what, std::string_view text,
                    const RouteMatch& m) {
  std::string why;
  bool any = false;
  std::vector<std::string> names;
  const int highest = check_template(text, why, any, names);
  if (highest < 0) {
    w.error(n, what + ": " + why);
    return;
  }
  if (any && !m.path_regex) {
    w.error(n, what + ": uses $" + std::to_string(highest) +
                   ", but the route has no match.path_regex to capture from");
    return;
  }
  if (!m.path_regex) return;  // then no capture is used: `any` is false
  const std::string& re = *m.path_regex;
  if (highest > 0) {
    if (const int groups = count_groups(re); highest > groups) {
      w.error(n, what + ": uses $" + std::to_string(highest) + ", but match.path_regex has only " +
                     std::to_string(groups) + " capture group(s)");
      return;
    }
  }
  for (const auto& name : names) {
    if (re.find("(?P<" + name + ">") == std::string::npos &&
        re.find("(?<" + name + ">") == std::string::npos) {
      w.error(n, what + ": uses ${" + name + "}, but match.path_regex has no group named '" + name +
                     "'");
    }
  }
}

// Exactly one of backend, respond and redirect; allow_connect goes with backend.
void load_action(Walker& w, const yaml::Node& n, const Block& b, Route& r) {
  const int actions = (field(n, "backend").IsDefined() ? 1 : 0) +
                      (field(n, "respond").IsDefined() ? 1 : 0) +
                      (field(n, "redirect").IsDefined() ? 1 : 0);
  if (actions == 0 && !w.suggested(n, "backend") && !w.suggested(n, "respond") &&
      !w.suggested(n, "redirect")) {
    w.error(n, b.label() + ": needs one of 'backend', 'respond' or 'redirect'");
  } else if (actions > 1) {
    w.error(n, b.label() + ": use only one of 'backend', 'respond' and 'redirect'");
  }
  w.opt_string(n, "backend", b, r.backend);
  r.backend_where = where(field(n, "backend"));
  w.bool_field(n, "allow_connect", b, r.allow_connect);
  if (r.allow_connect && !field(n, "backend").IsDefined()) {
    w.error(field(n, "allow_connect"),
            b.at("allow_connect") + ": only routes with a 'backend' can tunnel CONNECT requests");
  }
}

// False when `rw` is not a map of rewrite settings.
bool load_rewrite(Walker& w, const yaml::Node& rw, const Block& wb, const RouteMatch& m,
                  Rewrite& rewrite) {
  if (!w.map_with_keys(rw, wb, {"path", "strip_prefix", "add_prefix", "host"})) return false;
  w.path_field(rw, "path", wb, rewrite.path);
  w.path_field(rw, "strip_prefix", wb, rewrite.strip_prefix);
  w.path_field(rw, "add_prefix", wb, rewrite.add_prefix);
  if (w.opt_string(rw, "host", wb, rewrite.host) && !valid_field_value(*rewrite.host)) {
    w.error(field(rw, "host"), wb.at("host") + ": cannot contain a line break");
  }
  if (rewrite.path) check_captures(w, field(rw, "path"), wb.at("path"), *rewrite.path, m);
  if (rewrite.path && (rewrite.strip_prefix || rewrite.add_prefix)) {
    w.error(rw, wb.label() +
                    ": 'path' replaces the whole path; use it or strip_prefix/add_prefix, "
                    "not both");
  }
  return true;
}

// False when `rs` is not a map of respond settings.
bool load_respond(Walker& w, const yaml::Node& rs, const Block& sb, Respond& respond) {
  if (!w.map_with_keys(rs, sb, {"status", "headers", "body"})) return false;
  w.int_field(rs, "status", sb, 100, 599, respond.status);
  if (const yaml::Node h = field(rs, "headers"); h.IsDefined()) {
    w.field_map(h, sb.at("headers"), respond.headers);
  }
  if (const yaml::Node body = field(rs, "body"); body.IsDefined()) {
    w.scalar(body, sb.at("body"), respond.body);
    // RFC 9112 §6.3: a 1xx, 204 or 304 response ends with its head.
    const bool bodiless = respond.status < 200 || respond.status == 204 || respond.status == 304;
    if (bodiless && !respond.body.empty()) {
      w.error(body, sb.at("body") + ": a " + std::to_string(respond.status) +
                        " response never carries a body");
    }
  }
  return true;
}

void load_redirect_status(Walker& w, const yaml::Node& s, const Block& db, int& status) {
  int v = 0;
  if (!w.int_value(s, db.at("status"), 100, 599, v)) return;
  if (v != 301 && v != 302 && v != 303 && v != 307 && v != 308) {
    w.error(s, db.at("status") + ": expected 301, 302, 303, 307 or 308, got " + quote(s.Scalar()));
  } else {
    status = v;
  }
}

void load_redirect_host(Walker& w, const yaml::Node& rd, const Block& db,
                        std::optional<std::string>& host) {
  if (!w.opt_string(rd, "host", db, host) || valid_host_name(*host)) return;
  assert(!host->empty());  // string_value refuses an empty one
  HostPort hp;
  std::string why;
  // "[::1]" is a valid host too; reuse the address parser with a dummy port.
  if (!(host->front() == '[' && parse_address(*host + ":1", AddressUse::server, hp, why))) {
    w.error(field(rd, "host"),
            db.at("host") + ": expected a host name (without a port), got " + quote(*host));
  }
}

// False when `rd` is not a map of redirect settings.
bool load_redirect(Walker& w, const yaml::Node& rd, const Block& db, const RouteMatch& m,
                   Redirect& redirect) {
  if (!w.map_with_keys(rd, db, {"status", "scheme", "host", "port", "path", "keep_query"})) {
    return false;
  }
  if (const yaml::Node s = field(rd, "status"); s.IsDefined()) {
    load_redirect_status(w, s, db, redirect.status);
  }
  if (w.opt_string(rd, "scheme", db, redirect.scheme) && *redirect.scheme != "http" &&
      *redirect.scheme != "https") {
    w.error(field(rd, "scheme"),
            db.at("scheme") + ": expected http or https, got " + quote(*redirect.scheme));
  }
  load_redirect_host(w, rd, db, redirect.host);
  w.opt_int(rd, "port", db, 1, 65535, redirect.port);
  w.path_field(rd, "path", db, redirect.path);
  if (redirect.path) check_captures(w, field(rd, "path"), db.at("path"), *redirect.path, m);
  w.bool_field(rd, "keep_query", db, redirect.keep_query);
  if (!field(rd, "scheme").IsDefined() && !field(rd, "host").IsDefined() &&
      !field(rd, "port").IsDefined() && !field(rd, "path").IsDefined()) {
    w.error(rd, db.label() +
                    ": needs at least one of scheme, host, port or path (otherwise it "
                    "redirects to itself)");
  }
  return true;
}

void load_route(Walker& w, const yaml::Node& n, std::size_t index, Route& r) {
  r.where = where(n);
  r.name_where = r.where;
  r.name = "route-" + std::to_string(index + 1);
  Block b{owner_name(n, "route", index), ""};
  if (!(n.IsMap() && field(n, "name").IsDefined())) b.owner = "route " + quote(r.name);
  if (!w.map_with_keys(n, b,
                       {"name", "listeners", "priority", "match", "rewrite", "backend", "respond",
                        "redirect", "allow_connect", "middlewares", "reproxy", "internal"})) {
    return;
  }
  if (w.name_field(n, b, r.name, false)) r.name_where = where(field(n, "name"));
  b.owner = "route " + quote(r.name);
  w.string_list(n, "listeners", b, r.listeners, &r.listeners_where);
  if (std::vector<std::string> names;
      w.string_list(n, "middlewares", b, names, &r.middlewares_where)) {
    r.middlewares = std::move(names);
  }
  w.int_field(n, "priority", b, -1'000'000, 1'000'000, r.priority);
  if (const yaml::Node m = field(n, "match"); m.IsDefined()) load_match(w, m, b, r.match);
  load_action(w, n, b, r);
  if (const yaml::Node rw = field(n, "rewrite"); rw.IsDefined()) {
    const Block wb = b.child("rewrite");
    if (!field(n, "backend").IsDefined()) {
      w.error(rw, wb.label() + ": only routes with a 'backend' can rewrite");
    }
    Rewrite rewrite;
    if (load_rewrite(w, rw, wb, r.match, rewrite)) r.rewrite = std::move(rewrite);
  }
  if (const yaml::Node rs = field(n, "respond"); rs.IsDefined()) {
    Respond respond;
    if (load_respond(w, rs, b.child("respond"), respond)) r.respond = std::move(respond);
  }
  if (const yaml::Node rd = field(n, "redirect"); rd.IsDefined()) {
    Redirect redirect;
    if (load_redirect(w, rd, b.child("redirect"), r.match, redirect))
      r.redirect = std::move(redirect);
  }
  w.bool_field(n, "internal", b, r.internal);
  if (const yaml::Node rp = field(n, "reproxy"); rp.IsDefined()) {
    if (!field(n, "backend").IsDefined()) {
      w.error(rp, b.at("reproxy") + ": only routes with a 'backend' can reproxy");
    }
    Reproxy reproxy;
    load_reproxy(w, rp, b.child("reproxy"), reproxy);
    r.reproxy = std::move(reproxy);
  }
}

}  // namespace

void load_routes(Walker& w, const yaml::Node& n, std::vector<Route>& routes) {
  if (!n.IsSequence()) {
    w.error(n, "routes: expected a list of routes, got " + describe(n));
    return;
  }
  std::size_t i = 0;
  for (const auto& item : n)
    load_route(w, item, i++, routes.emplace_back());
}

}  // namespace sluice::config
