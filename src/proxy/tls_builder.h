// The configuration's TLS, compiled: a listener's tls block becomes a
// tls::ServerContext (its certificates loaded once through the process's
// certificate cache), a backend's a tls::ClientContext. Problems come back
// positioned at the configuration (FILE:LINE:COL: error: ...), as route
// errors do: a certificate that cannot be read, a key that does not match,
// an expired certificate, a cipher list OpenSSL refuses. A certificate
// expiring within 14 days is a warning.
#pragma once

#include <ctime>
#include <memory>
#include <string>
#include <vector>

#include "tls/certificate_cache.h"
#include "tls/client_context.h"
#include "tls/server_context.h"
#include "tls/ticket_keys.h"

namespace sluice::config {
struct Config;
struct Listener;
struct Backend;
}  // namespace sluice::config

namespace sluice::proxy {

// What TLS keeps for the life of the process, across reloads: the session
// ticket keys (so a reload does not end resumption), the loaded
// certificates, and the sessions backends gave us.
struct TlsAssets {
  tls::TicketKeys tickets;
  tls::CertificateCache certificates;  // used by one build at a time
  tls::ResumptionSlots resumption;
};

// Messages about the configuration's TLS, formatted as `sluice check`
// prints them.
struct TlsFindings {
  std::vector<std::string> errors;
  std::vector<std::string> warnings;
};

// Null when the listener has no tls block, or on an error (in `findings`).
std::shared_ptr<tls::ServerContext> build_listener_tls(const config::Config& config,
                                                       const config::Listener& listener,
                                                       TlsAssets& assets, TlsFindings& findings,
                                                       std::time_t now);
// Null when the backend has no tls block, or on an error.
std::shared_ptr<const tls::ClientContext> build_backend_tls(const config::Config& config,
                                                            const config::Backend& backend,
                                                            TlsFindings& findings);
// Every listener's and backend's TLS, built and dropped: what `sluice
// check` and start-up run before anything listens. False on any error.
bool check_tls(const config::Config& config, TlsAssets& assets, TlsFindings& findings);

// Every certificate, key and CA file the configuration names, and each
// certificate directory (with a trailing '/'): what `watch: true` watches.
std::vector<std::string> certificate_paths(const config::Config& config);

// The Strict-Transport-Security value for `listener` ("max-age=N[;
// includeSubDomains][; preload]"); empty when it sends none.
std::string hsts_value(const config::Listener& listener);

}  // namespace sluice::proxy
