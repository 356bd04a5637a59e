#include "tls/certificate_store.h"

#include <algorithm>

namespace sluice::tls {
namespace {

// Two slots: EC-like keys (EC, Ed25519) and RSA, the pairs a client's
// signature algorithms choose between.
int slot_of(const Certificate& c) {
  return c.key_kind() == "RSA" ? 1 : 0;
}

void place(int (&kinds)[2], int slot, int index, bool replace) {
  if (kinds[slot] < 0 || replace) kinds[slot] = index;
}

}  // namespace

CertificateStore::CertificateStore(std::vector<std::shared_ptr<const Certificate>> certificates) {
  for (auto& c : certificates) {
    if (!c) continue;
    const bool seen = std::any_of(certificates_.begin(), certificates_.end(),
                                  [&](const auto& have) { return have.get() == c.get(); });
    if (!seen) certificates_.push_back(std::move(c));
  }
  for (std::size_t i = 0; i < certificates_.size(); ++i)
    index(i, false);
}

void CertificateStore::index(std::size_t i, bool replace) {
  const Certificate& c = *certificates_[i];
  const int slot = slot_of(c);
  const int idx = static_cast<int>(i);
  if (i == 0) place(default_.kinds, slot, idx, true);
  for (const auto& name : c.names()) {
    Entry e;
    if (const Entry* have = table_.entry(name)) e = *have;
    place(e.kinds, slot, idx, replace);
    table_.set(name, e);
  }
}

CertificateStore::Choice CertificateStore::choice_of(const Entry& e) const {
  Choice c;
  for (int k : e.kinds) {
    if (k < 0) continue;
    const Certificate* cert = certificates_[static_cast<std::size_t>(k)].get();
    (c.first == nullptr ? c.first : c.second) = cert;
  }
  return c;
}

CertificateStore::Choice CertificateStore::find(std::string_view server_name) const {
  if (!server_name.empty()) {
    if (const Entry* e = table_.find(server_name)) return choice_of(*e);
  }
  return choice_of(default_);
}

std::shared_ptr<const CertificateStore> CertificateStore::with(
    std::shared_ptr<const Certificate> certificate) const {
  auto next = std::make_shared<CertificateStore>(*this);
  next->certificates_.push_back(std::move(certificate));
  const std::size_t i = next->certificates_.size() - 1;
  const Certificate& added = *next->certificates_[i];
  // Replacing the default's names replaces the default.
  const Certificate* def = choice_of(default_).first;
  const bool replaces_default =
      def != nullptr && std::any_of(added.names().begin(), added.names().end(), [&](const auto& n) {
        return std::find(def->names().begin(), def->names().end(), n) != def->names().end();
      });
  if (replaces_default) place(next->default_.kinds, slot_of(added), static_cast<int>(i), true);
  next->index(i, true);
  return next;
}

}  // namespace sluice::tls
