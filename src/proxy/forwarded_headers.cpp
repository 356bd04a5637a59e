#include "proxy/forwarded_headers.h"

#include "core/address.h"

namespace sluice::proxy {

bool ForwardedPolicy::applies_to(const SocketAddress& client) const {
  middleware::IpAddress address;
  return !middleware::IpAddress::of(client, address) || !except.contains(address);
}

}  // namespace sluice::proxy
