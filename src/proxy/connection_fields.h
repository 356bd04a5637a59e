// The Connection fields of a response we send a client. RFC 9112 §9.3:
// HTTP/1.1 is persistent unless told otherwise, so by default we say
// nothing; an HTTP/1.0 client that asked for keep-alive gets it confirmed,
// every closing response says so, and a listener may ask to announce
// keep-alive with its timeout.
#pragma once

#include "http/head_writer.h"
#include "proxy/snapshot.h"

namespace sluice::proxy {

inline void write_connection_fields(http::HeadWriter& out, const ListenerSettings& listener,
                                    bool keep_alive, int client_minor_version) {
  if (!keep_alive) {
    out.put("Connection: close\r\n");
  } else if (listener.keep_alive_header) {
    out.put(listener.keep_alive_fields);
  } else if (client_minor_version == 0) {
    out.put("Connection: keep-alive\r\n");
  }
}

}  // namespace sluice::proxy
