// Who a client is and where it reached us: the socket's peer and local
// addresses, or what a PROXY header said they were. A PROXY header we send
// a server repeats them.
#pragma once

#include "core/address.h"

namespace sluice::proxy {

struct ClientAddresses {
  SocketAddress source;       // the client
  SocketAddress destination;  // the address it connected to
};

}  // namespace sluice::proxy
