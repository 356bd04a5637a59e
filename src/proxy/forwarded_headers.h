// Which X-Forwarded-* fields a forwarded request gets (config `forwarded`),
// and for which clients: the `except` networks get none added.
#pragma once

#include "middleware/cidr_set.h"

namespace sluice {
class SocketAddress;
}

namespace sluice::proxy {

struct ForwardedPolicy {
  bool x_forwarded_for = true;
  bool x_forwarded_proto = true;
  bool x_forwarded_host = true;
  // Clients in these get no X-Forwarded-* added. An IPv4 client on a
  // dual-stack listener (::ffff:a.b.c.d) is matched by IPv4 networks.
  middleware::CidrSet except;

  // True if this client's requests get the configured fields.
  bool applies_to(const SocketAddress& client) const;
};

}  // namespace sluice::proxy
