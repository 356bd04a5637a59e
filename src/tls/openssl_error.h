// OpenSSL reports failures on a per-thread error queue; this turns what is
// queued into one line for a log or a configuration error, and empties it,
// so a stale entry never lands in a later, unrelated message.
#pragma once

#include <string>

namespace sluice::tls {

// The queued errors, most recent last, each as OpenSSL's reason text
// ("key values mismatch"), joined by "; ". Empty when nothing is queued.
std::string take_openssl_errors();

}  // namespace sluice::tls
