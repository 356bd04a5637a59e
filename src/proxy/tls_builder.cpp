#include "proxy/tls_builder.h"

#include <ctime>

#include "config/model.h"

namespace sluice::proxy {
namespace {

constexpr std::time_t kExpiryWarning = 14 * 24 * 3600;  // issue 16: warn 14 days ahead

std::string at(const config::Config& config, const config::SourceLocation& where,
               const char* severity, const std::string& message) {
  return config.file + ":" + std::to_string(where.line) + ":" + std::to_string(where.column) +
         ": " + severity + ": " + message;
}

std::string date_of(std::time_t t) {
  std::tm tm{};
  ::gmtime_r(&t, &tm);
  char out[32];
  std::strftime(out, sizeof out, "%Y-%m-%d %H:%M UTC", &tm);
  return out;
}

// Expired or not yet valid: an error (clients would refuse it); expiring
// soon: a warning, while there is time to renew.
bool check_validity(const config::Config& config, const config::SourceLocation& where,
                    const tls::Certificate& c, std::time_t now, TlsFindings& findings) {
  const std::string what = "certificate " + c.origin() + " (" + c.subject() + ")";
  if (c.not_after() <= now) {
    findings.errors.push_back(
        at(config, where, "error", what + " expired on " + date_of(c.not_after())));
    return false;
  }
  if (c.not_before() > now) {
    findings.errors.push_back(
        at(config, where, "error", what + " is not valid before " + date_of(c.not_before())));
    return false;
  }
  if (c.not_after() - now < kExpiryWarning) {
    findings.warnings.push_back(
        at(config, where, "warning", what + " expires on " + date_of(c.not_after())));
  }
  return true;
}

tls::ServerSettings server_settings(const config::Listener& l) {
  const config::Tls& t = *l.tls;
  tls::ServerSettings s;
  s.name = l.name;
  s.tls13_only = t.min_version == config::TlsVersion::tls1_3;
  s.ciphers = t.ciphers;
  s.ciphersuites = t.ciphersuites;
  s.curves = t.curves;
  s.alpn = t.alpn;
  if (s.alpn.empty() && l.protocol == config::Protocol::http) {
    s.alpn = l.http2.enabled ? std::vector<std::string>{"h2", "http/1.1"}
                             : std::vector<std::string>{"http/1.1"};
  }
  if (t.client_auth) {
    s.client_ca = t.client_auth->ca;
    s.client_cert_required = t.client_auth->mode == config::ClientAuthMode::required;
  }
  s.session_tickets = t.session_tickets;
  s.session_cache_size = static_cast<std::size_t>(t.session_cache_size);
  s.session_timeout_s = static_cast<std::uint64_t>(t.session_timeout.count() / 1000);
  if (s.session_timeout_s == 0) s.session_timeout_s = 1;
  s.ktls = t.ktls;
  return s;
}

}  // namespace

std::shared_ptr<tls::ServerContext> build_listener_tls(const config::Config& config,
                                                       const config::Listener& listener,
                                                       TlsAssets& assets, TlsFindings& findings,
                                                       std::time_t now) {
  if (!listener.tls) return nullptr;
  const std::size_t errors_before = findings.errors.size();
  for (const auto& p : listener.tls->alpn) {
    // RFC 9113 §3.3: "h2c" names cleartext HTTP/2, never agreed over TLS.
    if (listener.protocol == config::Protocol::http && p == "h2c") {
      findings.errors.push_back(
          at(config, listener.tls->where, "error",
             "listener '" + listener.name + "': alpn 'h2c' names HTTP/2 without TLS; use 'h2'"));
    }
  }
  std::vector<std::shared_ptr<const tls::Certificate>> loaded;
  for (const auto& entry : listener.tls->certificates) {
    std::vector<std::shared_ptr<const tls::Certificate>> found;
    if (!entry.directory.empty()) {
      std::vector<std::string> problems;
      found = assets.certificates.load_directory(entry.directory, problems);
      for (const auto& p : problems)
        findings.errors.push_back(at(config, entry.where, "error", p));
    } else {
      std::string error;
      if (auto c = assets.certificates.load(entry.cert, entry.key, error)) {
        found.push_back(std::move(c));
      } else {
        findings.errors.push_back(at(config, entry.where, "error", error));
      }
    }
    for (auto& c : found) {
      if (check_validity(config, entry.where, *c, now, findings)) loaded.push_back(std::move(c));
    }
  }
  if (findings.errors.size() != errors_before) return nullptr;
  auto store = std::make_shared<const tls::CertificateStore>(std::move(loaded));
  std::string error;
  auto ctx = tls::ServerContext::create(server_settings(listener), std::move(store),
                                        &assets.tickets, error);
  if (!ctx) {
    findings.errors.push_back(
        at(config, listener.tls->where, "error", "listener '" + listener.name + "': " + error));
  }
  return ctx;
}

std::shared_ptr<const tls::ClientContext> build_backend_tls(const config::Config& config,
                                                            const config::Backend& backend,
                                                            TlsFindings& findings) {
  if (!backend.tls) return nullptr;
  const config::BackendTls& t = *backend.tls;
  tls::ClientSettings s;
  s.verify = t.verify;
  s.ca = t.ca;
  s.alpn = t.alpn;
  s.certificate = t.certificate;
  s.key = t.key.empty() ? t.certificate : t.key;
  std::string error;
  auto ctx = tls::ClientContext::create(s, error);
  if (!ctx) {
    findings.errors.push_back(
        at(config, t.where, "error", "backend '" + backend.name + "': " + error));
  }
  return ctx;
}

bool check_tls(const config::Config& config, TlsAssets& assets, TlsFindings& findings) {
  const std::time_t now = std::time(nullptr);
  for (const auto& l : config.listeners)
    build_listener_tls(config, l, assets, findings, now);
  for (const auto& b : config.backends)
    build_backend_tls(config, b, findings);
  return findings.errors.empty();
}

std::vector<std::string> certificate_paths(const config::Config& config) {
  std::vector<std::string> out;
  auto add = [&out](const std::string& p) {
    if (!p.empty()) out.push_back(p);
  };
  for (const auto& l : config.listeners) {
    if (!l.tls) continue;
    for (const auto& c : l.tls->certificates) {
      add(c.cert);
      add(c.key);
      if (!c.directory.empty())
        out.push_back(c.directory.ends_with('/') ? c.directory : c.directory + "/");
    }
    if (l.tls->client_auth) add(l.tls->client_auth->ca);
  }
  for (const auto& b : config.backends) {
    if (!b.tls) continue;
    add(b.tls->ca);
    add(b.tls->certificate);
    add(b.tls->key);
  }
  return out;
}

std::string hsts_value(const config::Listener& listener) {
  if (!listener.tls || !listener.tls->hsts || listener.protocol != config::Protocol::http) {
    return {};
  }
  const config::Hsts& h = *listener.tls->hsts;
  std::string v = "max-age=" + std::to_string(h.max_age.count() / 1000);
  if (h.include_subdomains) v += "; includeSubDomains";
  if (h.preload) v += "; preload";
  return v;
}

}  // namespace sluice::proxy
