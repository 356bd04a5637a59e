// A backend's 'health_check' block (docs/config.md, "health_check"): how
// each server is probed, and how many probes mark it up or down.
#include <cassert>
#include <charconv>

#include "config/block_loaders.h"
#include "config/suggest.h"

namespace sluice::config {

namespace {

constexpr std::array<Choice<HealthCheckType>, 2> kCheckTypes{
    {{"http", HealthCheckType::http}, {"tcp", HealthCheckType::tcp}}};

// "204", "200-399": one status or a range, each 100..599.
bool parse_status_range(std::string_view text, StatusRange& out) {
  auto number = [](std::string_view t, int& n) {
    auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), n);
    return !t.empty() && ec == std::errc{} && end == t.data() + t.size() && n >= 100 && n <= 599;
  };
  const auto dash = text.find('-');
  if (dash == std::string_view::npos) {
    if (!number(text, out.first)) return false;
    out.last = out.first;
    return true;
  }
  return number(text.substr(0, dash), out.first) && number(text.substr(dash + 1), out.last) &&
         out.first <= out.last;
}

// expect_status: 200, "200-399", or a list of those. `out` is replaced only
// when every item is good.
void load_expect_status(Walker& w, const yaml::Node& n, const std::string& what,
                        std::vector<StatusRange>& out) {
  std::vector<yaml::Node> items;
  if (n.IsSequence()) {
    if (n.size() == 0) w.error(n, what + ": expected at least one status");
    for (const auto& item : n)
      items.push_back(item);
  } else {
    items.push_back(n);
  }
  std::vector<StatusRange> ranges;
  for (const auto& item : items) {
    std::string text;
    if (!w.scalar(item, what, text)) return;
    StatusRange r;
    if (!parse_status_range(text, r)) {
      w.error(item, what + ": expected a status from 100 to 599 or a range such as 200-399, got " +
                        quote(text));
      return;
    }
    ranges.push_back(r);
  }
  if (!ranges.empty()) out = std::move(ranges);
}

// health_check.host: what a name-based server expects in Host, with an
// optional port ("app.example", "app.example:8080", "[::1]:8080").
bool valid_authority(const std::string& text) {
  HostPort hp;
  std::string why;
  if (valid_host_name(text)) return true;
  assert(!text.empty());  // string_value refuses an empty one
  if (text.front() == '[' && text.back() == ']') {
    return parse_address(text + ":1", AddressUse::server, hp, why);
  }
  return parse_address(text, AddressUse::server, hp, why);
}

// path, host and expect_status: what an http probe sends and accepts.
void load_http_probe(Walker& w, const yaml::Node& h, const Block& hb, HealthCheck& hc) {
  std::optional<std::string> path;
  if (!field(h, "path").IsDefined()) {
    w.missing(h, hb, "path", "or 'type: tcp' for a connect-only check");
  }
  w.path_field(h, "path", hb, path);
  if (path) hc.path = *path;
  if (w.opt_string(h, "host", hb, hc.host) && !valid_authority(*hc.host)) {
    w.error(
        field(h, "host"),
        hb.at("host") + ": expected a host name, optionally with :port, got " + quote(*hc.host));
  }
  if (const yaml::Node e = field(h, "expect_status"); e.IsDefined()) {
    load_expect_status(w, e, hb.at("expect_status"), hc.expect_status);
  }
}

}  // namespace

void load_health_check(Walker& w, const yaml::Node& h, const Block& hb, HealthCheck& hc) {
  if (!w.map_with_keys(h, hb,
                       {"type", "path", "host", "expect_status", "interval", "timeout", "rise",
                        "fall", "slow_start"})) {
    return;
  }
  w.choice_field(h, "type", hb, kCheckTypes, hc.type);
  if (hc.type == HealthCheckType::http) {
    load_http_probe(w, h, hb, hc);
  } else {
    for (const char* key : {"path", "host", "expect_status"}) {
      if (const yaml::Node n = field(h, key); n.IsDefined()) {
        w.error(n, hb.at(key) + ": not used by a tcp health check");
      }
    }
  }
  w.duration_field(h, "interval", hb, hc.interval);
  w.duration_field(h, "timeout", hb, hc.timeout);
  w.int_field(h, "rise", hb, 1, 100, hc.rise);
  w.int_field(h, "fall", hb, 1, 100, hc.fall);
  w.duration_field(h, "slow_start", hb, hc.slow_start);
  if (hc.timeout > hc.interval) {
    w.warning(h, hb.label() + ": timeout is longer than interval, so probes overlap");
  }
}

}  // namespace sluice::config
