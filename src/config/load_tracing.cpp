// Top-level `tracing` (docs/config.md, "tracing").
#include <algorithm>
#include <charconv>

#include "config/block_loaders.h"
#include "config/suggest.h"

namespace sluice::config {
namespace {

// A probability from 0 to 1 ("0.05", "1").
void load_sample(Walker& w, const yaml::Node& n, const Block& b, double& out) {
  std::string v;
  if (!w.scalar(n, b.at("sample"), v)) return;
  double x = -1;
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
  if (v.empty() || ec != std::errc{} || end != v.data() + v.size() || !(x >= 0.0 && x <= 1.0)) {
    w.error(n,
            b.at("sample") + ": expected a probability from 0 to 1 such as 0.05, got " + quote(v));
    return;
  }
  out = x;
}

// "http://host:port/path": plain HTTP (a collector or agent close by; no
// TLS), the port as URLs have it (80 when none is written), the path as
// written ("/v1/traces" when none is).
void load_endpoint(Walker& w, const yaml::Node& n, const Block& b, Otlp& out) {
  if (!w.string_value(n, b.at("endpoint"), out.endpoint)) return;
  const std::string& e = out.endpoint;
  constexpr std::string_view kScheme = "http://";
  if (!e.starts_with(kScheme)) {
    w.error(n, b.at("endpoint") + ": expected an http:// URL such as " +
                   "http://127.0.0.1:4318/v1/traces, got " + quote(e) +
                   (e.starts_with("https://") ? " (https is not supported: send to a local "
                                                "collector or agent over http)"
                                              : ""));
    return;
  }
  const std::size_t slash = e.find('/', kScheme.size());
  std::string authority = e.substr(kScheme.size(), slash - kScheme.size());
  if (slash != std::string::npos) out.path = e.substr(slash);
  if (out.path.find_first_of("?# \t") != std::string::npos || out.path.empty()) {
    w.error(n, b.at("endpoint") + ": the path " + quote(out.path) + " may not hold a query, " +
                   "a fragment or spaces");
    return;
  }
  const auto colon = authority.rfind(':');
  const bool has_port = colon != std::string::npos &&
                        (authority.front() != '[' || (colon > 0 && authority[colon - 1] == ']'));
  if (!authority.empty() && !has_port) authority += ":80";
  HostPort hp;
  std::string why;
  if (authority.empty() || authority.starts_with(':') ||
      !parse_address(authority, AddressUse::server, hp, why)) {
    w.error(n, b.at("endpoint") + ": expected an http:// URL such as " +
                   "http://127.0.0.1:4318/v1/traces, got " + quote(e) +
                   (why.empty() ? "" : " (" + why + ")"));
    return;
  }
  out.host = hp.host;
  out.port = hp.port;
}

void load_otlp(Walker& w, const yaml::Node& n, const Block& b, Otlp& out) {
  if (!w.map_with_keys(n, b, {"endpoint", "batch", "queue", "flush_interval", "timeout"})) return;
  if (const yaml::Node e = field(n, "endpoint"); e.IsDefined()) {
    load_endpoint(w, e, b, out);
  } else {
    w.missing(n, b, "endpoint", "the collector's URL, e.g. http://127.0.0.1:4318/v1/traces");
  }
  const yaml::Node batch = field(n, "batch");
  const bool batch_read =
      batch.IsDefined() && w.int_value(batch, b.at("batch"), 1, 100'000, out.batch);
  w.int_field(n, "queue", b, 1, 10'000'000, out.queue);
  w.duration_field(n, "flush_interval", b, out.flush_interval);
  w.duration_field(n, "timeout", b, out.timeout);
  if (batch_read && out.batch > out.queue) {
    w.error(batch, b.at("batch") + ": must not exceed queue (" + std::to_string(out.queue) + ")");
  } else if (!batch.IsDefined()) {
    out.batch = std::min(out.batch, out.queue);  // the default, for a small queue
  }
}

}  // namespace

void load_tracing(Walker& w, const yaml::Node& n, Tracing& out) {
  const Block b{"", "tracing"};
  if (!w.map_with_keys(n, b, {"sample", "service_name", "otlp"})) return;
  if (const yaml::Node s = field(n, "sample"); s.IsDefined()) load_sample(w, s, b, out.sample);
  if (w.string_field(n, "service_name", b, out.service_name) && !valid_name(out.service_name)) {
    w.error(field(n, "service_name"),
            b.at("service_name") + ": expected visible characters, got " + quote(out.service_name));
  }
  if (const yaml::Node o = field(n, "otlp"); o.IsDefined()) {
    out.otlp.emplace();
    load_otlp(w, o, b.child("otlp"), *out.otlp);
  }
}

}  // namespace sluice::config
