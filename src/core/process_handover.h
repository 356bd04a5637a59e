// Zero-downtime binary upgrade: a running process starts its successor
// (the binary now at its own path) and hands it its listening sockets, the
// very same ones, so no connection waiting in an accept queue is lost. The
// successor says when it serves; the predecessor then stops accepting and
// drains.
//
// The sockets travel as inherited descriptors named in the environment
// (SLUICE_LISTEN_FDS="127.0.0.1:8080=5,6;admin=7"), the readiness signal
// as one byte on an inherited pipe (SLUICE_READY_FD).
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace sluice {

// Listening sockets by name (a listener's configured address, or "admin").
using HandedSockets = std::map<std::string, std::vector<int>>;

// In a successor: the sockets its predecessor handed over (empty when
// started normally). Clears the variable so that our own successor does
// not see stale numbers.
HandedSockets take_handed_sockets();

// In a successor, once it serves: tells the predecessor (no-op otherwise).
void tell_predecessor_ready();

// In the predecessor: starts `argv` (argv[0] is the binary) with
// `sockets` handed over and waits up to `timeout_ms` for it to say it is
// ready. Its pid, or -1 with `error` set (it failed to start, exited, or
// was not ready in time: it is then stopped, and we carry on serving).
pid_t start_successor(const std::vector<std::string>& argv, const HandedSockets& sockets,
                      std::uint64_t timeout_ms, std::string& error);

// The absolute path of the running binary, as found at start-up: the path
// a replaced binary will be at.
std::string own_binary_path();

}  // namespace sluice
