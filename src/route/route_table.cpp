#include "route/route_table.h"

#include <re2/re2.h>
#include <re2/set.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <limits>
#include <unordered_map>

#include "config/model.h"
#include "http/serializer.h"
#include "http/token.h"
#include "route/prefix_tree.h"

namespace sluice::route {

namespace {

constexpr std::uint32_t kNone = std::numeric_limits<std::uint32_t>::max();

// Lets the maps be searched with a string_view, without building a string.
struct TextHash {
  using is_transparent = void;
  std::size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
template <typename V>
using TextMap = std::unordered_map<std::string, V, TextHash, std::equal_to<>>;

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

bool is_wildcard(std::string_view host) {
  return host.size() > 2 && host[0] == '*' && host[1] == '.';
}

// Specificity, most specific first (docs/config.md, "Priority").
int host_rank(const Route& r) {
  if (r.host.empty()) return 0;
  return is_wildcard(r.host) ? 1 : 2;
}

bool outranks(const Route& a, const Route& b) {
  if (a.priority != b.priority) return a.priority > b.priority;
  if (host_rank(a) != host_rank(b)) return host_rank(a) > host_rank(b);
  if (is_wildcard(a.host) && a.host.size() != b.host.size()) return a.host.size() > b.host.size();
  if (a.path_kind != b.path_kind) return a.path_kind > b.path_kind;
  if (a.path_kind == Route::PathKind::prefix && a.path.size() != b.path.size()) {
    return a.path.size() > b.path.size();
  }
  return a.file_index < b.file_index;
}

// "$1", "${2}", "${name}", "$$" -> pieces. Names resolve through the regex.
Template compile_template(const std::string& text, const re2::RE2* regex) {
  Template t;
  std::string literal;
  auto flush = [&] {
    if (!literal.empty()) t.pieces.push_back({std::move(literal), -1});
    literal.clear();
  };
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '$' || i + 1 >= text.size()) {
      literal.push_back(text[i]);
      continue;
    }
    const char next = text[i + 1];
    if (next == '$') {
      literal.push_back('$');
      ++i;
    } else if (next >= '0' && next <= '9') {
      flush();
      t.pieces.push_back({"", next - '0'});
      ++i;
    } else if (next == '{') {
      const auto close = text.find('}', i + 2);
      const std::string inner = text.substr(i + 2, close - i - 2);
      int group = -1;
      if (!inner.empty() && std::isdigit(static_cast<unsigned char>(inner[0]))) {
        group = std::stoi(inner);
      } else if (regex != nullptr) {
        const auto& names = regex->NamedCapturingGroups();
        if (auto it = names.find(inner); it != names.end()) group = it->second;
      }
      flush();
      t.pieces.push_back({"", group});
      i = close;
    } else {
      literal.push_back('$');
    }
  }
  flush();
  return t;
}

}  // namespace

// Compiling is most of the cost of building a large table, and operators
// repeat patterns across hosts: each distinct pattern is compiled once and
// shared, within a build and, through a RegexCache, across reloads.
struct RegexCache::Entries {
  TextMap<std::shared_ptr<const re2::RE2>> regexes;    // null: the pattern is invalid
  TextMap<std::shared_ptr<const re2::RE2::Set>> sets;  // key: patterns joined by '\n'
};

namespace {

struct BuildContext {
  std::vector<RouteFinding>* errors = nullptr;
  RegexCache::Entries& cache;
  // Each backend's index by name (the last of a name, as a scan found it).
  std::unordered_map<std::string_view, std::size_t> backend_index;
};

std::shared_ptr<const re2::RE2> compile_regex(const std::string& pattern, const std::string& what,
                                              std::size_t route, BuildContext& ctx) {
  auto& regexes = ctx.cache.regexes;
  if (auto it = regexes.find(pattern); it != regexes.end()) {
    if (!it->second && ctx.errors != nullptr) ctx.errors->push_back({route, what + ": invalid"});
    return it->second;
  }
  re2::RE2::Options options;
  options.set_log_errors(false);
  auto re = std::make_shared<re2::RE2>(pattern, options);
  if (!re->ok()) {
    if (ctx.errors != nullptr) ctx.errors->push_back({route, what + ": " + re->error()});
    regexes.emplace(pattern, nullptr);
    return nullptr;
  }
  regexes.emplace(pattern, re);
  return re;
}

void set_path(Route& r, const config::RouteMatch& m, BuildContext& ctx) {
  if (m.path_exact) {
    r.path_kind = Route::PathKind::exact;
    r.path = *m.path_exact;
  } else if (m.path) {
    r.path_kind = Route::PathKind::prefix;
    r.path = *m.path;
  } else if (m.path_regex) {
    r.path_kind = Route::PathKind::regex;
    r.path = *m.path_regex;
    r.path_regex =
        compile_regex(r.path, "route '" + r.name + "': match.path_regex", r.file_index, ctx);
    if (!r.path_regex) r.path_kind = Route::PathKind::any;  // reported; never matches below
  }
}

void set_conditions(Route& r, const config::RouteMatch& m, BuildContext& ctx) {
  r.methods = m.methods;
  for (const auto& h : m.headers) {
    HeaderCondition c;
    c.name = h.name;
    c.value = h.value;
    c.kind = h.kind == config::HeaderMatch::Kind::exact   ? HeaderCondition::Kind::exact
             : h.kind == config::HeaderMatch::Kind::regex ? HeaderCondition::Kind::regex
                                                          : HeaderCondition::Kind::present;
    if (c.kind == HeaderCondition::Kind::regex) {
      c.regex = compile_regex(h.value, "route '" + r.name + "': match.headers." + h.name,
                              r.file_index, ctx);
    }
    r.headers.push_back(std::move(c));
  }
  for (const auto& q : m.query) {
    r.query.push_back({q.name, q.kind == config::QueryMatch::Kind::present, q.value});
  }
}

}  // namespace

const PreparedResponse& Route::respond() const {
  static const PreparedResponse none;
  return respond_ ? *respond_ : none;
}

const Redirect& Route::redirect() const {
  static const Redirect none;
  return redirect_ ? *redirect_ : none;
}

const Rewrite& Route::rewrite() const {
  static const Rewrite none;
  return rewrite_ ? *rewrite_ : none;
}

namespace {

void set_action(Route& r, const config::Route& rc, BuildContext& ctx) {
  if (rc.respond) {
    r.action = ActionKind::respond;
    std::vector<std::pair<std::string, std::string>> fields(rc.respond->headers.begin(),
                                                            rc.respond->headers.end());
    r.respond_ = std::make_unique<const PreparedResponse>(
        prepare_response(rc.respond->status, fields, rc.respond->body));
  } else if (rc.redirect) {
    r.action = ActionKind::redirect;
    const auto& rd = *rc.redirect;
    Redirect redirect;
    redirect.status = rd.status;
    redirect.scheme = rd.scheme.value_or("");
    redirect.host = rd.host.value_or("");
    redirect.port = rd.port ? std::to_string(*rd.port) : "";
    if (rd.path) redirect.path = compile_template(*rd.path, r.path_regex.get());
    redirect.keep_query = rd.keep_query;
    r.redirect_ = std::make_unique<const Redirect>(std::move(redirect));
  } else {
    r.action = ActionKind::backend;
    r.backend = rc.backend.value_or("");
    r.allow_connect = rc.allow_connect;
    if (const auto it = ctx.backend_index.find(r.backend); it != ctx.backend_index.end())
      r.backend_index = it->second;
    if (rc.rewrite) {
      const auto& rw = *rc.rewrite;
      Rewrite rewrite;
      if (rw.path) rewrite.path = compile_template(*rw.path, r.path_regex.get());
      rewrite.strip_prefix = rw.strip_prefix.value_or("");
      rewrite.add_prefix = rw.add_prefix.value_or("");
      rewrite.host = rw.host.value_or("");
      r.rewrite_ = std::make_unique<const Rewrite>(std::move(rewrite));
    }
  }
}

Route build_route(const config::Route& rc, std::size_t index, const config::Config& config,
                  BuildContext& ctx) {
  Route r;
  r.name = rc.name;
  r.file_index = index;
  r.priority = rc.priority;
  r.internal = rc.internal;
  r.reproxy = rc.reproxy.has_value();
  const std::size_t listener_count = config.listeners.size();
  r.on_listener.assign(listener_count, false);
  for (std::size_t i = 0; i < listener_count; ++i) {
    const auto& l = config.listeners[i];
    const bool named =
        std::find(rc.listeners.begin(), rc.listeners.end(), l.name) != rc.listeners.end();
    r.on_listener[i] = rc.listeners.empty() ? l.protocol == config::Protocol::http : named;
  }
  r.host = lower(rc.match.host.value_or(""));
  set_path(r, rc.match, ctx);
  set_conditions(r, rc.match, ctx);
  set_action(r, rc, ctx);
  return r;
}

// The value of query parameter `name` in "a=1&b=2" (raw, not decoded).
bool find_query(std::string_view query, std::string_view name, std::string_view& value) {
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    const auto eq = pair.find('=');
    if (pair.substr(0, eq) == name) {
      value = eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1);
      return true;
    }
    if (amp == std::string_view::npos) break;
    query.remove_prefix(amp + 1);
  }
  return false;
}

// One RE2::Set over the path regexes of `ranks`, in that order; buckets
// with the same patterns share it.
std::shared_ptr<const re2::RE2::Set> compile_set(const std::vector<std::shared_ptr<Route>>& routes,
                                                 const std::vector<std::uint32_t>& ranks,
                                                 BuildContext& ctx) {
  std::string key;
  for (std::uint32_t rank : ranks) {
    key += routes[rank]->path;
    key += '\n';
  }
  auto& sets = ctx.cache.sets;
  if (auto it = sets.find(key); it != sets.end()) return it->second;
  re2::RE2::Options options;
  options.set_log_errors(false);
  auto set = std::make_shared<re2::RE2::Set>(options, re2::RE2::UNANCHORED);
  for (std::uint32_t rank : ranks)
    set->Add(routes[rank]->path, nullptr);
  if (!set->Compile() && ctx.errors != nullptr) {
    ctx.errors->push_back(
        {routes[ranks[0]]->file_index, "path regexes could not be compiled together (RE2 limit)"});
  }
  sets.emplace(std::move(key), set);
  return set;
}

}  // namespace

// Routes of one host (or of "any host"), split by how they match the path.
struct RouteTable::HostBucket {
  TextMap<std::vector<std::uint32_t>> exact_paths;
  PrefixTree prefixes;
  std::vector<std::uint32_t> any_path;
  std::shared_ptr<const re2::RE2::Set> regexes;  // shared by buckets with the same patterns
  std::vector<std::uint32_t> regex_routes;       // RE2::Set index -> route
  std::uint32_t best_regex_rank = kNone;         // skip the set when a better route won
};

struct RouteTable::ListenerIndex {
  TextMap<HostBucket> exact_hosts;
  TextMap<HostBucket> wildcard_hosts;  // key: ".example.com"
  HostBucket any_host;
  std::size_t longest_wildcard = 0;  // characters of the longest suffix
};

RouteTable::RouteTable() = default;
RouteTable::~RouteTable() = default;

RegexCache::RegexCache() : entries_(std::make_unique<Entries>()) {}
RegexCache::~RegexCache() = default;

void RegexCache::forget_unused() {
  // In use = held by a route or a table besides this cache.
  std::erase_if(entries_->regexes, [](const auto& kv) { return kv.second.use_count() <= 1; });
  std::erase_if(entries_->sets, [](const auto& kv) { return kv.second.use_count() <= 1; });
}

std::size_t RegexCache::compiled() const {
  return entries_->regexes.size() + entries_->sets.size();
}

std::shared_ptr<const RouteTable> RouteTable::build(
    const config::Config& config, std::vector<RouteFinding>* errors, RegexCache* cache,
    const std::vector<std::uint32_t>* metrics_slots) {
  auto table = std::make_shared<RouteTable>();
  RegexCache local;
  BuildContext ctx{errors, cache != nullptr ? *cache->entries_ : *local.entries_, {}};
  for (std::size_t i = 0; i < config.backends.size(); ++i)
    ctx.backend_index.insert_or_assign(config.backends[i].name, i);
  std::vector<std::shared_ptr<Route>> routes;
  routes.reserve(config.routes.size());
  for (std::size_t i = 0; i < config.routes.size(); ++i) {
    routes.push_back(std::make_shared<Route>(build_route(config.routes[i], i, config, ctx)));
    if (metrics_slots != nullptr && i < metrics_slots->size())
      routes.back()->metrics_slot = (*metrics_slots)[i];
  }
  std::stable_sort(routes.begin(), routes.end(),
                   [](const auto& a, const auto& b) { return outranks(*a, *b); });
  for (std::size_t rank = 0; rank < routes.size(); ++rank)
    routes[rank]->rank = static_cast<std::uint32_t>(rank);

  for (std::size_t li = 0; li < config.listeners.size(); ++li) {
    auto index = std::make_unique<ListenerIndex>();
    std::vector<HostBucket*> with_regexes;
    for (std::uint32_t rank = 0; rank < routes.size(); ++rank) {
      const Route& r = *routes[rank];
      if (!r.on_listener[li]) continue;
      if (r.path_kind == Route::PathKind::any && !r.path.empty()) continue;  // broken regex
      HostBucket* b = &index->any_host;
      if (is_wildcard(r.host)) {
        b = &index->wildcard_hosts[r.host.substr(1)];
        index->longest_wildcard = std::max(index->longest_wildcard, r.host.size() - 1);
      } else if (!r.host.empty()) {
        b = &index->exact_hosts[r.host];
      }
      switch (r.path_kind) {
        case Route::PathKind::exact:
          b->exact_paths[r.path].push_back(rank);
          break;
        case Route::PathKind::prefix:
          b->prefixes.add(r.path, rank);
          break;
        case Route::PathKind::regex:
          if (b->regex_routes.empty()) with_regexes.push_back(b);
          b->regex_routes.push_back(rank);
          b->best_regex_rank = std::min(b->best_regex_rank, rank);
          break;
        case Route::PathKind::any:
          b->any_path.push_back(rank);
          break;
      }
    }
    for (HostBucket* b : with_regexes) {
      b->regexes = compile_set(routes, b->regex_routes, ctx);
    }
    table->listeners_.push_back(std::move(index));
  }
  table->routes_.assign(routes.begin(), routes.end());
  return table;
}

namespace {

// The checks conditions_hold() makes, one by one, so that explain() gives
// the reasons of the very rules a request meets.
inline bool method_allowed(const Route& r, std::string_view method) {
  return r.methods.empty() ||
         std::find(r.methods.begin(), r.methods.end(), method) != r.methods.end();
}

inline bool header_holds(const HeaderCondition& c, std::span<const http::HeaderField> fields) {
  for (const auto& f : fields) {
    if (!http::iequals(f.name, c.name)) continue;
    if (c.kind == HeaderCondition::Kind::present ||
        (c.kind == HeaderCondition::Kind::exact && f.value == c.value) ||
        (c.kind == HeaderCondition::Kind::regex && c.regex &&
         re2::RE2::PartialMatch(re2::StringPiece(f.value.data(), f.value.size()), *c.regex))) {
      return true;
    }
  }
  return false;
}

inline bool query_holds(const QueryCondition& q, std::string_view query) {
  std::string_view value;
  if (!find_query(query, q.name, value)) return false;
  return q.present_only || value == q.value;
}

}  // namespace

bool RouteTable::conditions_hold(const Route& r, const RequestView& req) const {
  // An internal route is invisible to clients; a lower-ranked route may
  // still answer them.
  if (r.internal && !req.internal) return false;
  if (!method_allowed(r, req.method)) return false;
  for (const auto& c : r.headers) {
    if (!header_holds(c, req.fields)) return false;
  }
  for (const auto& q : r.query) {
    if (!query_holds(q, req.query)) return false;
  }
  return true;
}

// The best (lowest) rank in this bucket whose path and conditions match,
// if better than `best`.
std::uint32_t RouteTable::best_in(const HostBucket& b, const RequestView& req,
                                  std::uint32_t best) const {
  auto consider = [&](const std::vector<std::uint32_t>& ranks) {
    for (std::uint32_t rank : ranks) {
      if (rank >= best) return;  // sorted: the rest rank lower still
      if (conditions_hold(*routes_[rank], req)) {
        best = rank;
        return;
      }
    }
  };
  if (!b.exact_paths.empty()) {
    if (auto it = b.exact_paths.find(req.path); it != b.exact_paths.end()) {
      consider(it->second);
    }
  }
  b.prefixes.for_each_prefix_of(req.path, consider);
  if (b.regexes && b.best_regex_rank < best) {
    thread_local std::vector<int> hits;
    hits.clear();
    if (b.regexes->Match(re2::StringPiece(req.path.data(), req.path.size()), &hits)) {
      for (int i : hits) {
        const std::uint32_t rank = b.regex_routes[static_cast<std::size_t>(i)];
        if (rank < best && conditions_hold(*routes_[rank], req)) best = rank;
      }
    }
  }
  consider(b.any_path);
  return best;
}

const Route* RouteTable::match(const RequestView& req, Captures* captures) const {
  if (req.listener >= listeners_.size()) return nullptr;
  const ListenerIndex& index = *listeners_[req.listener];
  std::uint32_t best = kNone;
  if (!index.exact_hosts.empty()) {
    if (auto it = index.exact_hosts.find(req.host); it != index.exact_hosts.end()) {
      best = best_in(it->second, req, best);
    }
  }
  if (!index.wildcard_hosts.empty()) {
    // ".b.example.com", ".example.com", ".com": each suffix after a dot.
    for (std::size_t dot = req.host.find('.'); dot != std::string_view::npos;
         dot = req.host.find('.', dot + 1)) {
      if (req.host.size() - dot > index.longest_wildcard || dot == 0) continue;
      auto it = index.wildcard_hosts.find(req.host.substr(dot));
      if (it != index.wildcard_hosts.end()) best = best_in(it->second, req, best);
    }
  }
  best = best_in(index.any_host, req, best);
  if (best == kNone) return nullptr;
  const Route& winner = *routes_[best];
  if (captures != nullptr && winner.path_regex) {
    // Captures for the winner only: one more RE2 pass, on one regex.
    const re2::RE2& re = *winner.path_regex;
    const int n = std::min(re.NumberOfCapturingGroups() + 1, Captures::kMax);
    std::array<re2::StringPiece, Captures::kMax> groups;
    if (re.Match(re2::StringPiece(req.path.data(), req.path.size()), 0, req.path.size(),
                 re2::RE2::UNANCHORED, groups.data(), n)) {
      for (int i = 0; i < n; ++i)
        captures->groups[static_cast<std::size_t>(i)] = std::string_view(
            groups[static_cast<std::size_t>(i)].data(), groups[static_cast<std::size_t>(i)].size());
      captures->count = n;
    }
  }
  return &winner;
}

RouteVerdict RouteTable::judge(const Route& r, const RequestView& req) const {
  RouteVerdict v;
  v.route = &r;
  // Host: as the index files it (exact, "*.suffix" for a host longer than
  // the suffix, or any).
  if (is_wildcard(r.host)) {
    const std::string_view suffix = std::string_view(r.host).substr(1);
    v.host = req.host.size() > suffix.size() && req.host.ends_with(suffix);
  } else {
    v.host = r.host.empty() || r.host == req.host;
  }
  switch (r.path_kind) {
    case Route::PathKind::exact:
      v.path = req.path == r.path;
      break;
    case Route::PathKind::prefix:
      v.path = req.path.starts_with(r.path);
      break;
    case Route::PathKind::regex:
      // The index's RE2::Set is unanchored too.
      v.path =
          r.path_regex &&
          re2::RE2::PartialMatch(re2::StringPiece(req.path.data(), req.path.size()), *r.path_regex);
      break;
    case Route::PathKind::any:
      v.path = r.path.empty();  // else a regex RE2 refused: never indexed
      break;
  }
  v.internal = !r.internal || req.internal;
  v.method = method_allowed(r, req.method);
  for (const auto& c : r.headers) {
    if (!header_holds(c, req.fields)) {
      v.header = &c;
      break;
    }
  }
  for (const auto& q : r.query) {
    if (!query_holds(q, req.query)) {
      v.query = &q;
      break;
    }
  }
  return v;
}

Explanation RouteTable::explain(const RequestView& req, std::size_t near_miss_limit) const {
  Explanation e;
  e.winner = match(req);
  if (e.winner != nullptr && judge(*e.winner, req).failures() != 0) e.consistent = false;
  std::vector<RouteVerdict> losers;
  for (const auto& entry : routes_) {
    const Route& r = *entry;
    if (req.listener >= r.on_listener.size() || !r.on_listener[req.listener]) continue;
    ++e.considered;
    if (&r == e.winner) continue;
    const RouteVerdict v = judge(r, req);
    if (!v.host) {
      ++e.lost.host;
    } else if (!v.path) {
      ++e.lost.path;
    } else if (!v.internal) {
      ++e.lost.internal;
    } else if (!v.method) {
      ++e.lost.method;
    } else if (v.header != nullptr) {
      ++e.lost.header;
    } else if (v.query != nullptr) {
      ++e.lost.query;
    } else {
      ++e.lost.outranked;
      if (e.winner == nullptr || r.rank < e.winner->rank) e.consistent = false;
    }
    losers.push_back(v);
  }
  // routes_ is in rank order, and the sort is stable: ties stay by rank.
  std::stable_sort(losers.begin(), losers.end(), [](const RouteVerdict& a, const RouteVerdict& b) {
    return a.failures() < b.failures();
  });
  if (losers.size() > near_miss_limit) {
    e.more = losers.size() - near_miss_limit;
    losers.resize(near_miss_limit);
  }
  e.near_misses = std::move(losers);
  return e;
}

std::vector<RouteFinding> RouteTable::shadowed() const {
  // A covers B when every request B matches, A matches too, and A ranks
  // higher. Only conditions we can compare are considered: A must have no
  // method, header or query conditions (or the same methods), and cover B's
  // host and path.
  auto covers_host = [](const Route& a, const Route& b) {
    if (a.host.empty()) return true;
    if (a.host == b.host) return true;
    if (is_wildcard(a.host) && !b.host.empty()) {
      const std::string_view suffix = std::string_view(a.host).substr(1);
      const std::string_view bh =
          is_wildcard(b.host) ? std::string_view(b.host).substr(1) : std::string_view(b.host);
      return bh.size() > suffix.size() && bh.substr(bh.size() - suffix.size()) == suffix;
    }
    return false;
  };
  auto covers_path = [](const Route& a, const Route& b) {
    switch (a.path_kind) {
      case Route::PathKind::any:
        return a.path.empty();
      case Route::PathKind::prefix:
        // "/" is a prefix of every path a regex can match.
        if (a.path == "/" && b.path_kind == Route::PathKind::regex) return true;
        return (b.path_kind == Route::PathKind::prefix || b.path_kind == Route::PathKind::exact) &&
               b.path.compare(0, a.path.size(), a.path) == 0;
      case Route::PathKind::exact:
        return b.path_kind == Route::PathKind::exact && b.path == a.path;
      case Route::PathKind::regex:
        return false;
    }
    return false;
  };
  auto covers_conditions = [](const Route& a, const Route& b) {
    if (!a.headers.empty() || !a.query.empty()) return false;
    if (a.methods.empty()) return true;
    if (b.methods.empty()) return false;
    return std::all_of(b.methods.begin(), b.methods.end(), [&](const std::string& m) {
      return std::find(a.methods.begin(), a.methods.end(), m) != a.methods.end();
    });
  };
  auto covers_listeners = [](const Route& a, const Route& b) {
    for (std::size_t i = 0; i < b.on_listener.size(); ++i) {
      if (b.on_listener[i] && !a.on_listener[i]) return false;
    }
    return true;
  };
  // Candidates for A by host: the same host, its wildcards, any host.
  std::unordered_map<std::string_view, std::vector<std::uint32_t>> by_host;
  for (std::uint32_t rank = 0; rank < routes_.size(); ++rank)
    by_host[routes_[rank]->host].push_back(rank);
  // Looked at for every route: collected once (thousands of routes over
  // hundreds of hosts made a scan of every host per route most of a check).
  std::vector<const std::vector<std::uint32_t>*> any_or_wildcard;
  for (const auto& [host, ranks] : by_host) {
    if (host.empty() || is_wildcard(host)) any_or_wildcard.push_back(&ranks);
  }
  std::vector<std::pair<std::size_t, std::string>> found_in_file_order;
  std::vector<const std::vector<std::uint32_t>*> groups;
  for (std::uint32_t b = 0; b < routes_.size(); ++b) {
    const Route& rb = *routes_[b];
    groups.clear();
    if (!rb.host.empty() && !is_wildcard(rb.host)) groups.push_back(&by_host.find(rb.host)->second);
    groups.insert(groups.end(), any_or_wildcard.begin(), any_or_wildcard.end());
    for (const auto* ranks : groups) {
      bool found = false;
      for (std::uint32_t a : *ranks) {
        if (a >= b) break;
        const Route& ra = *routes_[a];
        if (ra.internal && !rb.internal) continue;  // clients never meet it
        if (covers_host(ra, rb) && covers_path(ra, rb) && covers_conditions(ra, rb) &&
            covers_listeners(ra, rb)) {
          found_in_file_order.emplace_back(
              rb.file_index, "route '" + rb.name + "' can never match: route '" + ra.name +
                                 "' matches every request it would, and ranks higher");
          found = true;
          break;
        }
      }
      if (found) break;
    }
  }
  std::sort(found_in_file_order.begin(), found_in_file_order.end());
  std::vector<RouteFinding> out;
  for (auto& [index, text] : found_in_file_order)
    out.push_back({index, std::move(text)});
  return out;
}

PreparedResponse prepare_response(int status,
                                  const std::vector<std::pair<std::string, std::string>>& fields,
                                  std::string body) {
  PreparedResponse r;
  r.status = status;
  r.fields = fields;
  // RFC 9110 §8.6: no Content-Length in 1xx and 204 responses; a 304 would
  // describe the selected representation, which a fixed response has not.
  r.has_content = status >= 200 && status != 204 && status != 304;
  if (!r.has_content) body.clear();
  r.body = std::move(body);
  return r;
}

}  // namespace sluice::route
