// Failed TLS handshakes, counted by cause ("no shared cipher", "http
// request" for plain HTTP sent to a TLS port, "timed out") over the whole
// process, and logged at most once a second per cause with how many
// happened since the last line: a scanner or a broken client must not
// flood the log, and an operator still sees each kind of failure.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::tls {

// Counts one failure; logs it (warn) unless this cause was logged less
// than a second ago. `where` names the listener or backend and the peer.
void report_handshake_failure(std::string_view where, std::string_view cause, std::uint64_t now_ms);
// Failures so far, by cause.
std::vector<std::pair<std::string, std::uint64_t>> handshake_failure_counts();

}  // namespace sluice::tls
