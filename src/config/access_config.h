// The 'access' middleware's settings (docs/middlewares/access.md): who may
// reach a route by address (allow and deny networks, with the client taken
// from trusted proxies' X-Forwarded-For), basic authentication from an
// htpasswd file, and a limit on the request body.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace sluice::config {

// One user of an htpasswd file: "name:hash", the hash in a scheme libcrypt
// checks slowly on purpose (bcrypt $2y$/$2b$/$2a$, SHA-crypt $5$/$6$).
struct HtpasswdUser {
  std::string name;
  std::string hash;
};

struct BasicAuth {
  std::string htpasswd;              // the file as written (relative to the configuration file)
  std::vector<HtpasswdUser> users;   // read from it at load, in file order
  std::string realm = "sluice";      // sent in WWW-Authenticate (RFC 7617 §2)
  bool strip_authorization = false;  // the backend does not receive Authorization
};

struct Access {
  // Networks as written ("10.0.0.0/8", "::1/128", "192.0.2.7"), checked by
  // valid_cidr(). Deny wins over allow; with `allow`, every client outside
  // it is denied.
  std::vector<std::string> allow;
  std::vector<std::string> deny;
  // Peers whose X-Forwarded-For names the client. Empty: the client is the
  // peer (or the PROXY header's address).
  std::vector<std::string> trusted_proxies;
  std::optional<BasicAuth> basic_auth;
  std::uint64_t max_body_bytes = 0;  // 0: no limit of its own
};

}  // namespace sluice::config
