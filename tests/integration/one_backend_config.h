// The configuration most proxy tests need: one HTTP listener 'web' on a
// kernel-chosen port, and one route 'app' sending every request to the
// backend 'app'.
#pragma once

#include <string>

namespace sluice::test {

// `servers`: the inside of the backend's YAML flow list ("127.0.0.1:80,
// {address: ..., max_connections: 2}"); `backend_extra`: more lines under
// the backend (indented four spaces); `top_extra`: more top-level lines.
inline std::string one_backend_config(const std::string& servers,
                                      const std::string& backend_extra = "", int workers = 1,
                                      const std::string& top_extra = "") {
  return "workers: " + std::to_string(workers) + "\n" + top_extra + R"(listeners:
  - name: web
    listen: 127.0.0.1:0
routes:
  - name: app
    backend: app
backends:
  app:
    servers: [)" +
         servers + "]\n" + backend_extra;
}

}  // namespace sluice::test
