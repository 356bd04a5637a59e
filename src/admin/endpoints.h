// What the admin listener answers, apart from how bytes move (admin_server.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

namespace sluice::proxy {
class Reloader;
class Server;
}  // namespace sluice::proxy

namespace sluice::admin {

struct AdminResponse {
  AdminResponse() = default;
  AdminResponse(int status_code, std::string type, std::string text)
      : status(status_code), content_type(std::move(type)), body(std::move(text)) {}

  int status = 200;
  std::string content_type = "text/plain";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // more fields, in order
};

// RFC 9110 §15.5.6: a 405 names the methods the resource supports.
AdminResponse method_not_allowed(std::string allow, std::string text);

// `s` as a JSON string, quotes included.
std::string json_string(std::string_view s);

// The target without its query.
inline std::string_view path_of(std::string_view target) {
  return target.substr(0, target.find('?'));
}

enum class Endpoint : std::uint8_t {
  memory,        // GET, HEAD /debug/memory
  config,        // POST /config
  backends,      // GET, HEAD /backends
  server_state,  // POST, PUT /backends/NAME/servers/ADDRESS/state
  certificates,  // GET, HEAD /tls/certificates
  certificate,   // PUT /tls/certificates/LISTENER
  dashboard,     // GET, HEAD / and /dashboard, its files under /dashboard/ (dashboard.h)
  status,        // GET, HEAD /status (status_endpoint.h)
  routes,        // GET, HEAD /routes?search=&offset=&limit= (route_list.h)
  weight,        // PUT, POST /backends/NAME/servers/ADDRESS/weight
  config_text,   // GET, HEAD /config
  explain,       // GET, HEAD /routes/explain?host=&path=&method=
  metrics,       // GET, HEAD /metrics
};

// Which endpoint a request is for, from its method and target alone; or
// what it gets instead: 404 for a path that is none, 405 naming the
// methods the endpoint takes.
std::variant<Endpoint, AdminResponse> route(std::string_view method, std::string_view target);

// Routes the request and runs its endpoint.
AdminResponse handle_request(std::string_view method, std::string_view target,
                             std::string_view body, proxy::Server& server,
                             proxy::Reloader& reloader);

// /debug/memory as JSON (exposed for tests of its shape).
std::string memory_json(proxy::Server& server);

}  // namespace sluice::admin
