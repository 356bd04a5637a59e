// Socket activation (systemd's sd_listen_fds(3) protocol, without
// libsystemd): the service manager binds the listening sockets, starts us
// with them as descriptors 3, 4, ... and says so in LISTEN_PID (ours),
// LISTEN_FDS (how many) and LISTEN_FDNAMES (their FileDescriptorName=,
// colon-separated). A listener whose address matches a socket's bound
// address adopts it instead of binding, through the same path as sockets a
// predecessor hands over (process_handover.h).
#pragma once

#include "core/process_handover.h"

namespace sluice {

// The sockets the service manager passed, by bound address as
// SocketAddress::to_string() writes it ("127.0.0.1:8080", "[::]:443").
// Each is made non-blocking and close-on-exec; one that is not a listening
// TCP socket is logged and closed. The variables are removed from the
// environment whatever they held, so no child of ours mistakes them for
// its own. Empty when not socket-activated (or LISTEN_PID is not ours).
HandedSockets take_activated_sockets();

}  // namespace sluice
