// What the service tests share (service_notify_test.cpp,
// socket_activation_test.cpp): a configuration whose one route answers
// by itself, and a GET.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "support/http_client.h"

namespace sluice::test {

// Two workers, an admin listener, and a listener 'web' whose route
// answers 200 with `body`.
inline std::string hello_config(const std::string& body, const std::string& web = "127.0.0.1:0",
                                const std::string& admin = "127.0.0.1:0") {
  return "workers: 2\nadmin: {listen: " + admin +
         "}\nlisteners:\n  - name: web\n    listen: " + web +
         "\nroutes:\n  - name: hello\n    match: {path: /}\n    respond: {status: 200, body: \"" +
         body + "\"}\n";
}

inline std::optional<HttpResponse> get(std::uint16_t port, const std::string& path) {
  RawConnection c(port);
  if (!c.send("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) + "\r\n\r\n"))
    return std::nullopt;
  return c.read_response();
}

}  // namespace sluice::test
