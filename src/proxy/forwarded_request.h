// The request as a server receives it: the client's end-to-end fields in
// their order, Host chosen (the route's rewrite, else the client's), framing
// stated afresh, and the X-Forwarded-* fields of the listener's policy.
// Version-neutral (http::OutgoingRequest): the upstream codec writes it.
#pragma once

#include <array>
#include <string>
#include <string_view>
#include <vector>

#include "core/uninitialized_array.h"
#include "http/message.h"
#include "http/outgoing.h"

namespace sluice {
class SocketAddress;
}
namespace sluice::middleware {
struct RequestEdits;
}
namespace sluice::observe {
struct RequestRecord;
}

namespace sluice::proxy {

struct ListenerSettings;

class ForwardedRequest {
 public:
  struct Inputs {
    std::string_view target;  // normalised or rewritten
    std::string_view host;    // Host to send
    const ListenerSettings* listener = nullptr;
    const SocketAddress* client = nullptr;  // as the PROXY header named it, if any
    bool secure = false;                    // the client's connection is encrypted
    std::string_view client_subject;        // its verified client certificate's subject, if any
    // The route's middlewares' changes (null: none); outlives this object.
    const middleware::RequestEdits* edits = nullptr;
    // The request's id and trace (request_identity.h): sent on in place
    // of the client's fields. Null: the client's pass through.
    const observe::RequestRecord* record = nullptr;
  };
  // Builds from `head` (whose views must outlive this object).
  ForwardedRequest(const http::RequestHead& head, const Inputs& in);
  ForwardedRequest(const ForwardedRequest&) = delete;
  ForwardedRequest& operator=(const ForwardedRequest&) = delete;

  const http::OutgoingRequest& request() const { return out_; }
  // A trailer field of the client's request goes on to the server: one
  // that may travel in a trailer section (http/trailer_fields.h), and none
  // the proxy states itself or drops from the head (a client certificate's
  // subject, the X-Forwarded-* fields it adds, underscore names): a server
  // that merges trailers into the header section must not take a client's
  // claim for ours.
  bool forwards_trailer(std::string_view name) const;

 private:
  void add(std::string_view name, std::string_view value);
  // Only the proxy states this field to the server; a client's is dropped.
  bool proxy_states(std::string_view name) const;
  bool drops_underscore_name(std::string_view name) const;
  void add_forwarded_for(const http::RequestHead& head, const SocketAddress& client);
  bool edited_away(std::string_view name) const;
  void add_edits();
  bool editable(std::string_view name) const;
  void add_identity();

  http::OutgoingRequest out_;
  // Fields: inline for the usual few dozen, on the heap beyond.
  static constexpr std::size_t kInlineFields = 48;
  UninitializedArray<http::HeaderField, kInlineFields> inline_;
  std::vector<http::HeaderField> spill_;
  std::size_t count_ = 0;
  std::string forwarded_for_;  // the X-Forwarded-For value we send, when a client sent one
  // The client's address as text: the whole X-Forwarded-For value when the
  // client sent none (the usual case: no string to build).
  std::array<char, 47> client_ip_;  // INET6_ADDRSTRLEN and a NUL
  const ListenerSettings* listener_;
  bool add_forwarded_;  // this client's requests get the X-Forwarded-* fields
  const middleware::RequestEdits* edits_;
  const observe::RequestRecord* record_;
  bool states_request_id_ = false;    // the record's id replaces the client's
  bool states_trace_ = false;         // our traceparent replaces the client's
  bool drops_tracestate_ = false;     // the trace began here: the client's state is not its
  std::array<char, 55> traceparent_;  // the value we send
};

// The text form of a client's IP address ("unknown" for other families).
std::string_view client_ip_text(const SocketAddress& client, char* out, std::size_t size);

}  // namespace sluice::proxy
