// A route's 'match' block (docs/config.md, "match"): host, one kind of path,
// methods, header fields and query parameters, all of which must match.
#include <algorithm>
#include <cassert>

#include "config/block_loaders.h"
#include "config/suggest.h"

namespace sluice::config {

namespace {

void load_host(Walker& w, const yaml::Node& n, const Block& mb, std::optional<std::string>& host) {
  if (!w.opt_string(n, "host", mb, host)) return;
  const std::string_view h = *host;
  const bool wildcard = h.size() > 2 && h.substr(0, 2) == "*.";
  if (!valid_host_name(wildcard ? h.substr(2) : h)) {
    w.error(field(n, "host"), mb.at("host") +
                                  ": expected a host name such as api.example.com or "
                                  "*.example.com (without a port), got " +
                                  quote(h));
  }
}

void load_paths(Walker& w, const yaml::Node& n, const Block& mb, RouteMatch& m) {
  w.path_field(n, "path", mb, m.path);
  w.path_field(n, "path_exact", mb, m.path_exact);
  w.opt_string(n, "path_regex", mb, m.path_regex);
  const int paths = (m.path ? 1 : 0) + (m.path_exact ? 1 : 0) + (m.path_regex ? 1 : 0);
  if (paths > 1) {
    w.error(n, mb.label() + ": use only one of path, path_exact and path_regex");
  }
}

// Methods are tokens compared case-sensitively (RFC 9110 §9.1), so "get"
// would never match a GET: refuse it with the spelling that would.
void load_methods(Walker& w, const yaml::Node& n, const Block& mb,
                  std::vector<std::string>& methods) {
  std::vector<yaml::Node> nodes;
  w.string_list(n, "methods", mb, methods, nullptr, &nodes);
  assert(nodes.size() == methods.size());  // one node per item read
  for (std::size_t i = 0; i < methods.size(); ++i) {
    const std::string& method = methods[i];
    if (!is_token(method)) {
      w.error(nodes[i], mb.at("methods") + ": " + quote(method) + " is not a method name");
    } else if (std::any_of(method.begin(), method.end(),
                           [](char c) { return c >= 'a' && c <= 'z'; })) {
      std::string upper = method;
      std::transform(upper.begin(), upper.end(), upper.begin(),
                     [](char c) { return c >= 'a' && c <= 'z' ? static_cast<char>(c - 32) : c; });
      w.error(nodes[i], mb.at("methods") + ": methods are case-sensitive: write '" + upper +
                            "', not " + quote(method));
    }
  }
}

// {regex: ...} or {present: true}. False, reported, when it is neither.
bool load_header_condition(Walker& w, const yaml::Node& c, const Block& fb, HeaderMatch& hm) {
  if (!w.map_with_keys(c, fb, {"regex", "present"})) return false;
  if (c.size() != 1) {
    w.error(c, fb.label() + ": use either {regex: ...} or {present: true}");
    return false;
  }
  if (field(c, "regex").IsDefined()) {
    hm.kind = HeaderMatch::Kind::regex;
    return w.string_field(c, "regex", fb, hm.value);
  }
  if (!field(c, "present").IsDefined()) return false;  // the unknown key was reported
  hm.kind = HeaderMatch::Kind::present;
  bool present = false;
  if (!w.bool_value(field(c, "present"), fb.at("present"), present)) return false;
  if (!present) {
    w.error(field(c, "present"), fb.at("present") + ": only 'present: true' is supported");
    return false;
  }
  return true;
}

void load_header_matches(Walker& w, const yaml::Node& h, const Block& hb,
                         std::vector<HeaderMatch>& headers) {
  if (!h.IsMap()) {
    w.error(h, hb.label() + ": expected a map of field name to value, got " + describe(h));
    return;
  }
  for (const auto& kv : h) {
    HeaderMatch hm;
    if (!w.scalar(kv.first, hb.label(), hm.name)) continue;
    if (!is_token(hm.name)) {
      w.error(kv.first, hb.label() + ": " + quote(hm.name) + " is not a valid field name");
      continue;
    }
    const Block fb = hb.child(hm.name);
    if (kv.second.IsScalar()) {
      hm.value = kv.second.Scalar();
    } else if (kv.second.IsMap()) {
      if (!load_header_condition(w, kv.second, fb, hm)) continue;
    } else {
      w.error(kv.second, fb.label() + ": expected a value, {regex: ...} or {present: true}, got " +
                             describe(kv.second));
      continue;
    }
    headers.push_back(std::move(hm));
  }
}

// {present: true}. False, reported, when it is anything else.
bool load_query_condition(Walker& w, const yaml::Node& c, const Block& fb, QueryMatch& qm) {
  if (!w.map_with_keys(c, fb, {"present"})) return false;
  const yaml::Node p = field(c, "present");
  bool present = false;
  if (!p.IsDefined() || !w.bool_value(p, fb.at("present"), present)) return false;
  if (!present) {
    w.error(p, fb.at("present") + ": only 'present: true' is supported");
    return false;
  }
  qm.kind = QueryMatch::Kind::present;
  return true;
}

void load_query_matches(Walker& w, const yaml::Node& q, const Block& qb,
                        std::vector<QueryMatch>& query) {
  if (!q.IsMap()) {
    w.error(q, qb.label() + ": expected a map of parameter name to value, got " + describe(q));
    return;
  }
  for (const auto& kv : q) {
    QueryMatch qm;
    if (!w.string_value(kv.first, qb.label(), qm.name)) continue;
    const Block fb = qb.child(qm.name);
    if (kv.second.IsScalar()) {
      qm.value = kv.second.Scalar();
    } else if (kv.second.IsMap()) {
      if (!load_query_condition(w, kv.second, fb, qm)) continue;
    } else {
      w.error(kv.second,
              fb.label() + ": expected a value or {present: true}, got " + describe(kv.second));
      continue;
    }
    query.push_back(std::move(qm));
  }
}

}  // namespace

void load_match(Walker& w, const yaml::Node& n, const Block& rb, RouteMatch& m) {
  const Block mb = rb.child("match");
  if (!w.map_with_keys(
          n, mb, {"host", "path", "path_exact", "path_regex", "methods", "headers", "query"})) {
    return;
  }
  load_host(w, n, mb, m.host);
  load_paths(w, n, mb, m);
  load_methods(w, n, mb, m.methods);
  if (const yaml::Node h = field(n, "headers"); h.IsDefined()) {
    load_header_matches(w, h, mb.child("headers"), m.headers);
  }
  if (const yaml::Node q = field(n, "query"); q.IsDefined()) {
    load_query_matches(w, q, mb.child("query"), m.query);
  }
}

}  // namespace sluice::config
