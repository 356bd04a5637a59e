// The certificates of one TLS listener, found by the server name a client
// asks for: exact names from each certificate's subjectAltName, then
// one-label wildcards, then the listener's default (its first
// certificate). A name may have an EC and an RSA certificate; both are
// offered and OpenSSL gives each client the one its signature algorithms
// allow. Immutable: a change (a reload, the admin API) builds a new store
// and swaps it in, and handshakes under way keep the one they started with.
#pragma once

#include <cstddef>
#include <memory>
#include <string_view>
#include <vector>

#include "tls/certificate.h"
#include "tls/server_name_table.h"

namespace sluice::tls {

class CertificateStore {
 public:
  // `certificates` in the order configured; the first is the default.
  // Listing one twice changes nothing.
  explicit CertificateStore(std::vector<std::shared_ptr<const Certificate>> certificates);

  // What to present: up to one certificate per key kind.
  struct Choice {
    const Certificate* first = nullptr;
    const Certificate* second = nullptr;  // another key kind for the same name, if any
  };
  // For `server_name` (empty: the client sent none): the default when no
  // name matches. Never empty while the store holds a certificate.
  Choice find(std::string_view server_name) const;

  // A copy in which `certificate`'s names answer with it, replacing what
  // they answered with for its key kind; the default too when it names
  // the same host as the default (the admin API's replace and add).
  std::shared_ptr<const CertificateStore> with(
      std::shared_ptr<const Certificate> certificate) const;

  const std::vector<std::shared_ptr<const Certificate>>& certificates() const {
    return certificates_;
  }
  std::size_t names() const { return table_.size(); }

 private:
  struct Entry {
    int kinds[2] = {-1, -1};  // indexes into certificates_
  };
  void index(std::size_t i, bool replace);
  Choice choice_of(const Entry& e) const;

  std::vector<std::shared_ptr<const Certificate>> certificates_;
  ServerNameTable<Entry> table_;
  Entry default_;
};

}  // namespace sluice::tls
