#include "admin/certificates.h"

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <ctime>
#include <memory>
#include <string>

#include "proxy/server.h"
#include "proxy/snapshot.h"
#include "tls/certificate.h"
#include "tls/server_context.h"

namespace sluice::admin {
namespace {

constexpr std::string_view kPrefix = "/tls/certificates/";

std::string iso_time(std::time_t t) {
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char out[32];
  std::strftime(out, sizeof out, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return out;
}

std::string certificate_json(const tls::Certificate& c, bool is_default) {
  std::string names;
  for (const auto& n : c.names())
    names += (names.empty() ? "" : ", ") + json_string(n);
  return fmt::format(
      "{{\"names\": [{}], \"subject\": {}, \"key\": \"{}\", \"not_after\": \"{}\", "
      "\"origin\": {}, \"default\": {}}}",
      names, json_string(c.subject()), c.key_kind(), iso_time(c.not_after()),
      json_string(c.origin()), is_default ? "true" : "false");
}

AdminResponse answer(int status, std::string type, std::string body) {
  return AdminResponse(status, std::move(type), std::move(body));
}

}  // namespace

std::string_view certificate_listener(std::string_view path) {
  if (!path.starts_with(kPrefix)) return {};
  const std::string_view name = path.substr(kPrefix.size());
  return name.find('/') == std::string_view::npos ? name : std::string_view();
}

AdminResponse list_certificates(proxy::Server& server) {
  std::string body = "{\"listeners\": [";
  bool first_listener = true;
  server.visit_listeners([&](const auto& listeners) {
    for (const auto& ls : listeners) {
      if (!ls->tls) continue;
      const auto store = ls->tls->certificates();
      body += fmt::format("{}\n  {{\"name\": {}, \"certificates\": [", first_listener ? "" : ",",
                          json_string(ls->name));
      first_listener = false;
      const tls::Certificate* def = store->find("").first;
      bool first = true;
      for (const auto& c : store->certificates()) {
        body += (first ? "\n    " : ",\n    ") + certificate_json(*c, c.get() == def);
        first = false;
      }
      body += "\n  ]}";
    }
  });
  return answer(200, "application/json", body + "\n]}\n");
}

AdminResponse install_certificate(std::string_view listener, std::string_view pem,
                                  proxy::Server& server) {
  std::string error;
  auto cert = tls::Certificate::parse(pem, error);
  if (!cert) return answer(400, "text/plain", error + "\n");
  const std::time_t now = std::time(nullptr);
  if (cert->not_after() <= now || cert->not_before() > now) {
    return answer(400, "text/plain",
                  "the certificate is not valid now (" + iso_time(cert->not_before()) + " to " +
                      iso_time(cert->not_after()) + ")\n");
  }
  if (cert->names().empty()) {
    return answer(400, "text/plain", "the certificate names no host (no DNS subjectAltName)\n");
  }
  AdminResponse r = answer(404, "text/plain", "no TLS listener '" + std::string(listener) + "'\n");
  server.visit_listeners([&](const auto& listeners) {
    for (const auto& ls : listeners) {
      if (ls->name != listener || !ls->tls) continue;
      ls->tls->replace_certificates(ls->tls->certificates()->with(cert));
      spdlog::warn("listener '{}': certificate for {} ({}) installed by the admin API", ls->name,
                   fmt::join(cert->names(), ", "), cert->subject());
      r = answer(200, "application/json", certificate_json(*cert, false) + "\n");
      return;
    }
  });
  return r;
}

}  // namespace sluice::admin
