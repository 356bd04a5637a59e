// The admin API's view of TLS certificates: what each TLS listener
// presents (GET /tls/certificates), and one certificate installed or
// replaced without a reload (PUT /tls/certificates/LISTENER with the PEM
// chain and key as the body). An installed certificate answers for the
// names in its subjectAltName from the next handshake on, on that
// listener, until the next reload or restart: the configuration's files
// stay the source of truth (write the file too, and a reload keeps it).
#pragma once

#include <string_view>

#include "admin/endpoints.h"

namespace sluice::proxy {
class Server;
}

namespace sluice::admin {

// /tls/certificates/LISTENER: the listener's name, or empty.
std::string_view certificate_listener(std::string_view path);

AdminResponse list_certificates(proxy::Server& server);
AdminResponse install_certificate(std::string_view listener, std::string_view pem,
                                  proxy::Server& server);

}  // namespace sluice::admin
