#include "proxy/forwarded_request.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <charconv>

#include <spdlog/spdlog.h>

#include "core/address.h"
#include "http/hop_by_hop.h"
#include "http/token.h"
#include "http/trailer_fields.h"
#include "middleware/middleware.h"
#include "observe/request_record.h"
#include "observe/trace_context.h"
#include "proxy/reproxy.h"
#include "proxy/request_identity.h"
#include "proxy/snapshot.h"

namespace sluice::proxy {
namespace {

// client_auth.header's default, removed from every client's request on
// every listener, so that no backend behind any listener can be fooled.
constexpr std::string_view kClientSubjectField = "X-Client-Cert-Subject";

}  // namespace

std::string_view client_ip_text(const SocketAddress& client, char* out, std::size_t size) {
  const sockaddr* sa = client.sa();
  const void* addr = nullptr;
  if (sa->sa_family == AF_INET && size >= INET_ADDRSTRLEN) {
    // Dotted quad by hand: inet_ntop formats through sprintf, a cost paid
    // on every forwarded request.
    const auto* b = reinterpret_cast<const unsigned char*>(
        &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr.s_addr);
    char* p = out;
    for (int i = 0; i < 4; ++i) {
      if (i > 0) *p++ = '.';
      p = std::to_chars(p, out + size, static_cast<unsigned>(b[i])).ptr;
    }
    *p = '\0';
    return {out, static_cast<std::size_t>(p - out)};
  }
  if (sa->sa_family == AF_INET) {
    addr = &reinterpret_cast<const sockaddr_in*>(sa)->sin_addr;
  } else if (sa->sa_family == AF_INET6) {
    addr = &reinterpret_cast<const sockaddr_in6*>(sa)->sin6_addr;
  }
  if (addr == nullptr ||
      inet_ntop(sa->sa_family, addr, out, static_cast<socklen_t>(size)) == nullptr) {
    return "unknown";
  }
  return out;
}

void ForwardedRequest::add(std::string_view name, std::string_view value) {
  if (count_ < kInlineFields) {
    inline_[count_++] = {name, value};
    return;
  }
  if (spill_.empty()) spill_.assign(inline_.begin(), inline_.begin() + count_);
  spill_.push_back({name, value});
  ++count_;
}

bool ForwardedRequest::proxy_states(std::string_view name) const {
  const ListenerSettings& ls = *listener_;
  // Only a backend may ask for a reproxy, and only of us.
  if (is_reproxy_field(name)) return true;
  // Only we say who a client certificate names: a client's own claim
  // would pass for a verified one.
  if (http::iequals(name, kClientSubjectField) ||
      (!ls.client_subject_field.empty() && http::iequals(name, ls.client_subject_field))) {
    return true;
  }
  // The request id and trace context are ours when we assigned them
  // (request_identity.h): a client's copy would contradict them.
  if (states_request_id_ && http::iequals(name, ls.identity->header)) return true;
  if (states_trace_ && (http::iequals_literal<"traceparent">(name) ||
                        (drops_tracestate_ && http::iequals_literal<"tracestate">(name)))) {
    return true;
  }
  const ForwardedPolicy& fwd = *ls.forwarded;
  return add_forwarded_ &&
         ((fwd.x_forwarded_for && http::iequals_literal<"x-forwarded-for">(name)) ||
          (fwd.x_forwarded_proto && http::iequals_literal<"x-forwarded-proto">(name)) ||
          (fwd.x_forwarded_host && http::iequals_literal<"x-forwarded-host">(name)));
}

// CGI and WSGI turn '-' into '_', so X_Forwarded_For would reach them as
// the HTTP_X_FORWARDED_FOR we set (nginx drops these too).
bool ForwardedRequest::drops_underscore_name(std::string_view name) const {
  return name.find('_') != std::string_view::npos && !listener_->keep_underscore_fields;
}

bool ForwardedRequest::forwards_trailer(std::string_view name) const {
  return http::allowed_in_trailers(name) && !proxy_states(name) && !drops_underscore_name(name);
}

// RFC 9110 §7.6.1: connection-specific fields stay on their hop. Framing is
// ours to state (Content-Length / Transfer-Encoding), so a Connection field
// naming Content-Length cannot make us send a body unframed.
ForwardedRequest::ForwardedRequest(const http::RequestHead& head, const Inputs& in)
    : listener_(in.listener),
      add_forwarded_(in.listener->forwarded->applies_to(*in.client)),
      edits_(in.edits),
      record_(in.record) {
  if (record_ != nullptr && in.listener->identity != nullptr) {
    states_request_id_ = !record_->request_id.empty();
    states_trace_ = record_->trace.valid;
    // trace-context §3.3: tracestate belongs to the traceparent it came
    // with; a trace we begin (none came, or an invalid one) has none.
    drops_tracestate_ = states_trace_ && record_->trace.parent_id[0] == '\0';
  }
  const ListenerSettings& ls = *in.listener;
  const ForwardedPolicy& fwd = *ls.forwarded;
  const bool add_forwarded = add_forwarded_;
  const bool add_for = add_forwarded && fwd.x_forwarded_for;
  const http::HopByHopFields hop(head.fields);
  bool had_length = false;
  for (const auto& f : head.fields) {
    if (http::iequals_literal<"host">(f.name)) continue;  // written from `host`
    if (hop.contains(f.name)) {
      if (!(head.upgrade && http::iequals_literal<"upgrade">(f.name))) continue;
    } else if (http::iequals_literal<"content-length">(f.name)) {
      had_length = true;
      continue;
    } else if (http::iequals_literal<"expect">(f.name)) {
      continue;  // 100-continue is answered by us
    } else if (proxy_states(f.name)) {
      continue;
    } else if (drops_underscore_name(f.name)) {
      spdlog::debug("listener '{}': dropped header field '{}' (underscore in its name)", ls.name,
                    f.name);
      continue;
    } else if (edits_ != nullptr && edited_away(f.name)) {
      continue;
    }
    add(f.name, f.value);
  }
  if (!in.client_subject.empty() && !ls.client_subject_field.empty()) {
    add(ls.client_subject_field, in.client_subject);
  }
  add_identity();
  if (add_for) add_forwarded_for(head, *in.client);
  if (add_forwarded && fwd.x_forwarded_proto) {
    add("X-Forwarded-Proto", in.secure ? "https" : "http");
  }
  if (add_forwarded && fwd.x_forwarded_host && !head.host.empty()) {
    add("X-Forwarded-Host", head.host);
  }
  if (edits_ != nullptr) add_edits();
  out_.method = head.method_text;
  out_.target = in.target;
  out_.authority = in.host;
  out_.fields = spill_.empty() ? std::span<const http::HeaderField>(inline_.data(), count_)
                               : std::span<const http::HeaderField>(spill_);
  out_.upgrade = head.upgrade;
  if (head.framing == http::Framing::content_length) {
    out_.body = http::BodyKind::sized;
    out_.length = head.content_length;
  } else if (head.framing == http::Framing::chunked) {
    out_.body = http::BodyKind::streamed;
  } else if (had_length || head.method == http::Method::POST || head.method == http::Method::PUT ||
             head.method == http::Method::PATCH) {
    // RFC 9110 §8.6: a request whose method gives content a meaning says
    // its length even when it is 0; without it some servers answer 411,
    // and some read the next pipelined request as this one's body.
    out_.body = http::BodyKind::sized;
    out_.length = 0;
  }
}

void ForwardedRequest::add_identity() {
  static_assert(sizeof(traceparent_) == observe::kTraceParentLength);
  if (states_request_id_) add(listener_->identity->header, record_->request_id);
  if (states_trace_) {
    traceparent_ = observe::format_traceparent(record_->trace);
    add("traceparent", std::string_view(traceparent_.data(), traceparent_.size()));
  }
}

// A client's field a middleware removes or replaces.
bool ForwardedRequest::edited_away(std::string_view name) const {
  for (const auto& r : edits_->remove) {
    if (http::iequals(name, r)) return true;
  }
  for (const auto& f : edits_->set) {
    if (http::iequals(name, f.name)) return true;
  }
  return false;
}

// A middleware may state any end-to-end field but those the proxy states
// itself: Host and framing (RFC 9112 §6), hop-by-hop fields (RFC 9110
// §7.6.1), and what only we may claim (X-Forwarded-*, a client
// certificate's subject). An auth server's answer copied by a pattern
// cannot smuggle any of them in.
bool ForwardedRequest::editable(std::string_view name) const {
  static constexpr std::string_view kProxyOwned[] = {
      "host", "content-length", "transfer-encoding", "connection", "keep-alive", "upgrade",
      "te",   "trailer",        "proxy-connection",  "expect"};
  for (std::string_view p : kProxyOwned) {
    if (http::iequals(name, p)) return false;
  }
  return !proxy_states(name);
}

void ForwardedRequest::add_edits() {
  const auto& set = edits_->set;
  for (std::size_t i = 0; i < set.size(); ++i) {
    // The last middleware to set a field wins.
    const bool set_again =
        std::any_of(set.begin() + static_cast<std::ptrdiff_t>(i) + 1, set.end(),
                    [&](const auto& later) { return http::iequals(later.name, set[i].name); });
    if (!set_again && editable(set[i].name)) add(set[i].name, set[i].value);
  }
  for (const auto& f : edits_->add) {
    if (editable(f.name)) add(f.name, f.value);
  }
}

// Appended to what earlier proxies wrote, in order (one field, RFC 9110 §5.3).
void ForwardedRequest::add_forwarded_for(const http::RequestHead& head,
                                         const SocketAddress& client) {
  for (const auto& f : head.fields) {
    if (!http::iequals_literal<"x-forwarded-for">(f.name) || f.value.empty()) continue;
    forwarded_for_.append(f.value);
    forwarded_for_.append(", ");
  }
  static_assert(sizeof(client_ip_) >= INET6_ADDRSTRLEN + 1);
  const std::string_view ip = client_ip_text(client, client_ip_.data(), client_ip_.size());
  if (forwarded_for_.empty()) {
    add("X-Forwarded-For", ip);
    return;
  }
  forwarded_for_.append(ip);
  add("X-Forwarded-For", forwarded_for_);
}

}  // namespace sluice::proxy
