#include "proxy/reproxy.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>

#include <spdlog/spdlog.h>

#include "config/model.h"
#include "http/token.h"
#include "proxy/destination_table.h"
#include "proxy/snapshot.h"
#include "route/path_normalizer.h"

namespace sluice::proxy {
namespace {

bool starts_with_nocase(std::string_view s, std::string_view prefix) {
  return s.size() >= prefix.size() && http::iequals(s.substr(0, prefix.size()), prefix);
}

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

bool parse_number(std::string_view s, std::uint64_t& out) {
  if (s.empty()) return false;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
  return ec == std::errc{} && end == s.data() + s.size();
}

// One origin's Backend: a single server, the route's backend's timeouts
// and pool settings, no retries (the next URL is the retry).
std::shared_ptr<const Backend> origin_backend(const config::Backend* route_backend,
                                              const config::ReproxyTarget& t,
                                              DestinationTable& destinations, unsigned workers) {
  auto up = std::make_shared<Backend>();
  const bool v6 = t.host.find(':') != std::string::npos;
  const std::string address =
      (v6 ? "[" + t.host + "]" : t.host) + ":" + std::to_string(static_cast<unsigned>(t.port));
  up->name = "reproxy " + t.text;
  BackendServer s;
  s.address = address;
  up->servers.push_back(std::move(s));
  if (route_backend != nullptr) {
    up->connect_timeout_ms = static_cast<std::uint64_t>(route_backend->timeouts.connect.count());
    up->response_timeout_ms = static_cast<std::uint64_t>(route_backend->timeouts.response.count());
    up->idle_timeout_ms = static_cast<std::uint64_t>(route_backend->timeouts.idle.count());
    up->pool.max_idle_per_server =
        static_cast<std::size_t>(std::max(0, route_backend->pool.max_idle_per_server));
    up->pool.idle_timeout_ms = static_cast<std::uint64_t>(route_backend->pool.idle_timeout.count());
  }
  up->retries.attempts = 0;
  up->balancer = std::make_shared<balance::Balancer>(
      balance::Algorithm::round_robin, std::vector<balance::ServerSpec>{{address, 1, false, 0, 0}});
  balance::ServerState& state = up->balancer->state(0);
  const auto found = SocketAddress::look_up(address);
  if (found.outcome == SocketAddress::Lookup::Outcome::found) {
    state.endpoint.store(
        destinations.endpoint_of(found.addresses.front(), up->servers[0].transport),
        std::memory_order_release);
    state.resolved.store(true, std::memory_order_release);
  } else {
    state.resolved.store(false, std::memory_order_release);
    spdlog::error("reproxy target {}: cannot resolve {} ({}); URLs there are not fetched", t.text,
                  address, found.error);
  }
  for (unsigned w = 0; w < workers; ++w)
    up->per_worker.push_back({up->balancer->make_worker_state(w)});
  return up;
}

std::shared_ptr<const ReproxyPlan> build_plan(const config::Config& config, const config::Route& rc,
                                              DestinationTable& destinations, unsigned workers) {
  const config::Reproxy& rp = *rc.reproxy;
  auto plan = std::make_shared<ReproxyPlan>();
  plan->route = rc.name;
  plan->urls = rp.urls;
  plan->accel_redirect = rp.accel_redirect;
  plan->check_size = rp.check_size;
  if (rp.files_root) {
    plan->files_root = *rp.files_root;
    plan->files_root_fd = ::open(rp.files_root->c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC);
    if (plan->files_root_fd < 0) {
      spdlog::error("route '{}': reproxy files.root {} cannot be opened; files are not served",
                    rc.name, *rp.files_root);
    }
  }
  const config::Backend* route_backend = rc.backend ? config.find_backend(*rc.backend) : nullptr;
  if (rp.urls) {
    for (const config::ReproxyTarget& t : rp.allow) {
      ReproxyTarget rt;
      rt.host = t.host;
      rt.port = t.port;
      rt.path_prefix = t.path_prefix;
      rt.text = t.text;
      rt.backend = origin_backend(route_backend, t, destinations, workers);
      plan->allow.push_back(std::move(rt));
    }
  }
  return plan;
}

}  // namespace

ReproxyPlan::~ReproxyPlan() {
  if (files_root_fd >= 0) ::close(files_root_fd);
}

// A name whose first byte is 'x' or 'X' (is_reproxy_field checked).
bool names_reproxy_field(std::string_view name) {
  return starts_with_nocase(name, "x-reproxy-") || starts_with_nocase(name, "x-accel-") ||
         http::iequals_literal<"x-sendfile">(name);
}

std::vector<std::shared_ptr<const ReproxyPlan>> build_reproxy_plans(const config::Config& config,
                                                                    DestinationTable& destinations,
                                                                    unsigned workers) {
  std::vector<std::shared_ptr<const ReproxyPlan>> plans;
  plans.reserve(config.routes.size());
  for (const config::Route& rc : config.routes) {
    plans.push_back(rc.reproxy ? build_plan(config, rc, destinations, workers) : nullptr);
  }
  return plans;
}

const std::shared_ptr<const ReproxyPlan>* reproxy_plan_for(const Snapshot& now,
                                                           std::size_t route_index,
                                                           std::string_view route_name) {
  const auto& plans = now.route_reproxy;
  if (route_index < plans.size() && plans[route_index] && plans[route_index]->route == route_name) {
    return &plans[route_index];
  }
  // A reload moved the route: its name still finds it.
  for (const auto& p : plans) {
    if (p && p->route == route_name) return &p;
  }
  return nullptr;
}

ReproxyAsk reproxy_asked(const ReproxyPlan& plan, std::span<const http::HeaderField> fields) {
  ReproxyAsk ask;
  std::string_view accel, urls, file, size;
  for (const auto& f : fields) {
    if (!is_reproxy_field(f.name)) continue;
    if (http::iequals_literal<"x-accel-redirect">(f.name)) {
      accel = f.value;
    } else if (http::iequals_literal<"x-reproxy-url">(f.name)) {
      urls = f.value;
    } else if (http::iequals_literal<"x-reproxy-file">(f.name) ||
               http::iequals_literal<"x-sendfile">(f.name)) {
      file = f.value;
    } else if (http::iequals_literal<"x-reproxy-expected-size">(f.name)) {
      size = f.value;
    }
  }
  if (plan.accel_redirect && !trim(accel).empty()) {
    ask.kind = ReproxyAsk::Kind::accel_redirect;
    ask.value = trim(accel);
  } else if (plan.urls && !trim(urls).empty()) {
    ask.kind = ReproxyAsk::Kind::urls;
    ask.value = trim(urls);
    std::uint64_t n = 0;
    if (plan.check_size && parse_number(trim(size), n)) ask.expected_size = n;
  } else if (!plan.files_root.empty() && !trim(file).empty()) {
    ask.kind = ReproxyAsk::Kind::file;
    ask.value = trim(file);
  }
  return ask;
}

bool parse_reproxy_url(std::string_view text, ReproxyUrl& out) {
  constexpr std::string_view kHttp = "http://";
  if (!starts_with_nocase(text, kHttp)) return false;
  std::string_view rest = text.substr(kHttp.size());
  const auto end = rest.find_first_of("/?#");
  const std::string_view authority = rest.substr(0, end);
  std::string_view tail = end == std::string_view::npos ? std::string_view() : rest.substr(end);
  if (const auto hash = tail.find('#'); hash != std::string_view::npos) tail = tail.substr(0, hash);
  if (authority.empty() || authority.find('@') != std::string_view::npos) return false;
  std::string_view host = authority;
  std::string_view port;
  if (authority.front() == '[') {
    const auto close = authority.find(']');
    if (close == std::string_view::npos) return false;
    host = authority.substr(1, close - 1);
    const std::string_view after = authority.substr(close + 1);
    if (!after.empty() && after.front() != ':') return false;
    if (!after.empty()) port = after.substr(1);
  } else if (const auto colon = authority.rfind(':'); colon != std::string_view::npos) {
    host = authority.substr(0, colon);
    port = authority.substr(colon + 1);
  }
  if (host.empty()) return false;
  for (const char c : host) {
    const bool ok =
        std::isalnum(static_cast<unsigned char>(c)) || c == '.' || c == '-' || c == ':' || c == '_';
    if (!ok) return false;
  }
  out.host = lower(host);
  out.port = 80;
  if (!port.empty()) {
    std::uint64_t v = 0;
    if (!parse_number(port, v) || v == 0 || v > 65535) return false;
    out.port = static_cast<std::uint16_t>(v);
  }
  out.authority = std::string(authority);
  const auto q = tail.find('?');
  std::string_view path = tail.substr(0, q);
  const std::string_view query = q == std::string_view::npos ? std::string_view() : tail.substr(q);
  if (path.empty()) path = "/";
  // A dot segment could climb out of an allowed prefix: refused, not
  // resolved.
  route::PathOptions options;
  options.reject_dot_segments = true;
  if (route::normalize_path(path, out.path, options) != route::PathError::none) return false;
  for (const char c : query) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) return false;
  }
  out.target = out.path + std::string(query);
  return true;
}

const ReproxyTarget* allowed_target(const ReproxyPlan& plan, const ReproxyUrl& url) {
  for (const ReproxyTarget& t : plan.allow) {
    if (t.host == url.host && t.port == url.port &&
        url.path.compare(0, t.path_prefix.size(), t.path_prefix) == 0) {
      return &t;
    }
  }
  return nullptr;
}

ByteRange parse_byte_range(std::string_view range, std::uint64_t size) {
  ByteRange r;
  range = trim(range);
  if (!starts_with_nocase(range, "bytes=")) return r;
  std::string_view spec = trim(range.substr(6));
  if (spec.find(',') != std::string_view::npos) return r;
  const auto dash = spec.find('-');
  if (dash == std::string_view::npos) return r;
  const std::string_view a = trim(spec.substr(0, dash));
  const std::string_view b = trim(spec.substr(dash + 1));
  std::uint64_t first = 0, last = 0;
  if (a.empty()) {
    // RFC 9110 §14.1.2: a suffix range, the last N bytes.
    if (!parse_number(b, last)) return r;
    if (last == 0 || size == 0) {
      r.kind = ByteRange::Kind::unsatisfiable;
      return r;
    }
    r.kind = ByteRange::Kind::part;
    r.first = size - std::min(size, last);
    r.last = size - 1;
    return r;
  }
  if (!parse_number(a, first)) return r;
  if (b.empty()) {
    last = size == 0 ? 0 : size - 1;
  } else if (!parse_number(b, last) || last < first) {
    return r;  // invalid: ignored (RFC 9110 §14.1.1)
  }
  if (first >= size) {
    r.kind = ByteRange::Kind::unsatisfiable;
    return r;
  }
  r.kind = ByteRange::Kind::part;
  r.first = first;
  r.last = std::min(last, size - 1);
  return r;
}

}  // namespace sluice::proxy
