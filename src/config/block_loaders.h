// The loaders of the configuration's blocks, one file each, called by the
// top-level walk in loader.cpp. Each takes a block's node as written (the
// caller has seen that it is there), reports every problem through the
// Walker and fills its part of the model with what it could read. Internal
// to config/: loader.h is the API.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "config/model.h"
#include "config/walker.h"

namespace sluice::config {

// load_top_level.cpp: workers, forwarded, shutdown, log.
void load_busy_poll(Walker& w, const yaml::Node& n, std::chrono::microseconds& busy_poll);
void load_workers(Walker& w, const yaml::Node& n, int& workers);
void load_forwarded(Walker& w, const yaml::Node& n, Forwarded& forwarded);
void load_shutdown(Walker& w, const yaml::Node& n, Shutdown& shutdown);
void load_log(Walker& w, const yaml::Node& n, Log& log);
// load_provider.cpp: the 'provider' block; relative paths are relative to
// `base_dir`.
void load_provider(Walker& w, const yaml::Node& n, std::string_view base_dir, Provider& provider);
// load_metrics.cpp.
void load_metrics(Walker& w, const yaml::Node& n, Metrics& metrics);

// load_access_log.cpp: the top-level 'access_log' block ('true' is '{}'),
// and a listener's ('false' turns it off there), at `b`.
void load_access_log(Walker& w, const yaml::Node& n, std::string_view base_dir,
                     std::optional<AccessLogSettings>& out);
void load_listener_access_log(Walker& w, const yaml::Node& n, const Block& b,
                              std::string_view base_dir, ListenerAccessLog& out);
// load_request_id.cpp, load_tracing.cpp: the top-level blocks of the same
// names.
void load_request_id(Walker& w, const yaml::Node& n, RequestId& out);
void load_tracing(Walker& w, const yaml::Node& n, Tracing& out);

// load_admin.cpp. False when `n` is not a map of admin settings, and there
// is no admin listener to speak of. Relative paths are relative to `base_dir`.
bool load_admin(Walker& w, const yaml::Node& n, std::string_view base_dir, Admin& admin);

// A path as written in the file, relative to `base_dir` unless absolute
// ("" for `base_dir`: the working directory).
std::string resolve_path(std::string_view base_dir, std::string path);

// load_listeners.cpp: `n` is the 'listeners' list, which must not be empty.
void load_listeners(Walker& w, const yaml::Node& n, std::string_view base_dir,
                    std::vector<Listener>& listeners);
// load_tls.cpp: a listener's 'tls' block, at `tb`; false when it is not a
// map of TLS settings. `protocol` is the listener's (hsts is http only).
bool load_listener_tls(Walker& w, const yaml::Node& n, const Block& tb, Protocol protocol,
                       std::string_view base_dir, Tls& tls);
// load_tls.cpp: a tcp listener's 'sni_routes' list, at `sb`.
void load_sni_routes(Walker& w, const yaml::Node& n, const Block& sb,
                     std::vector<SniRoute>& routes);

// load_routes.cpp: `n` is the 'routes' list.
void load_routes(Walker& w, const yaml::Node& n, std::vector<Route>& routes);
// load_route_match.cpp: a route's 'match' block; `rb` is the route's block.
void load_match(Walker& w, const yaml::Node& n, const Block& rb, RouteMatch& match);
// load_reproxy.cpp: a route's 'reproxy' block, at `b` ("route 'x': reproxy").
void load_reproxy(Walker& w, const yaml::Node& n, const Block& b, Reproxy& out);

// load_backends.cpp: `n` is the 'backends' map, backend name to settings.
void load_backends(Walker& w, const yaml::Node& n, std::string_view base_dir,
                   std::vector<Backend>& backends);
// load_tls.cpp: a backend's 'tls' block, at `tb` ('true' is '{}'); false
// when the backend speaks plain TCP ('false', or not a map of settings).
bool load_backend_tls(Walker& w, const yaml::Node& n, const Block& tb, std::string_view base_dir,
                      BackendTls& tls);
// load_health_check.cpp: a backend's 'health_check' block, at `hb`.
void load_health_check(Walker& w, const yaml::Node& n, const Block& hb, HealthCheck& hc);

// load_middlewares.cpp: `n` is the 'middlewares' map, name to definition.
void load_middlewares(Walker& w, const yaml::Node& n, std::string_view base_dir,
                      std::vector<Middleware>& middlewares);
// One loader per kind, each in load_<kind>.cpp: `n` is the kind's block
// (`b` names it: "middleware 'auth': forward_auth"). A loader may append
// to `fingerprint` what the definition depends on beyond its text (a
// file's content).
void load_headers_middleware(Walker& w, const yaml::Node& n, const Block& b, Headers& out);
void load_forward_auth(Walker& w, const yaml::Node& n, const Block& b, std::string_view base_dir,
                       ForwardAuth& out, std::string& fingerprint);
void load_access(Walker& w, const yaml::Node& n, const Block& b, std::string_view base_dir,
                 Access& out, std::string& fingerprint);
void load_rate_limit(Walker& w, const yaml::Node& n, const Block& b, RateLimit& out);
void load_compress(Walker& w, const yaml::Node& n, const Block& b, Compress& out);

}  // namespace sluice::config
