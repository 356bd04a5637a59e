#include "proxy/request_identity.h"

#include <cstring>

#include "config/model.h"
#include "http/message.h"
#include "http/token.h"
#include "observe/request_record.h"
#include "observe/trace_context.h"
#include "proxy/forwarded_response.h"
#include "proxy/snapshot.h"

namespace sluice::proxy {
namespace {

void assign_request_id(const IdentityPolicy& p, std::string_view incoming, bool single,
                       const SocketAddress* client, observe::RequestRecord& r) {
  char* buf = r.request_id_buf.data();
  middleware::IpAddress ip;
  // A client's id is a claim: kept only from the networks the operator
  // trusts (another proxy of theirs), one field, and only if it is safe to
  // log and to send on.
  if (single && !p.trust_from.empty() &&
      observe::acceptable_request_id(incoming, r.request_id_buf.size()) && client != nullptr &&
      middleware::IpAddress::of(*client, ip) && p.trust_from.contains(ip)) {
    std::memcpy(buf, incoming.data(), incoming.size());
    r.request_id = {buf, incoming.size()};
    return;
  }
  observe::random_uuid(buf);
  r.request_id = {buf, observe::kUuidLength};
}

// §4.2 and §4.3 of trace-context: a valid traceparent is continued (its
// trace, its span as our parent, its sampling decision: the caller
// decided for the whole trace); none, two, or an invalid one starts a new
// trace, sampled at the configured rate.
void assign_trace(const IdentityPolicy& p, std::string_view incoming, bool single,
                  observe::RequestRecord& r) {
  observe::TraceContext& t = r.trace;
  const auto parent = single ? observe::parse_traceparent(incoming) : std::nullopt;
  if (parent) {
    t.trace_id = parent->trace_id;
    t.parent_id = parent->parent_id;
    t.sampled = parent->sampled();
  } else {
    observe::random_hex_id(t.trace_id.data(), t.trace_id.size());
    t.parent_id.fill('\0');
    t.sampled = observe::pick_sampled(p.sample_threshold);
  }
  observe::random_hex_id(t.span_id.data(), t.span_id.size());
  t.valid = true;
}

}  // namespace

IdentityPolicy build_identity_policy(const config::Config& config) {
  IdentityPolicy p;
  p.request_id = config.request_id.enabled;
  p.header = config.request_id.header;
  for (const auto& net : config.request_id.trust_from) {
    p.trust_from.add(net);  // checked at load
  }
  p.echo = config.request_id.enabled && config.request_id.response;
  if (config.tracing) {
    p.tracing = true;
    p.sample_threshold = observe::sample_threshold(config.tracing->sample);
    p.service_name = config.tracing->service_name;
    p.otlp = config.tracing->otlp;
  }
  return p;
}

bool identity_needs_client(const ListenerSettings& listener) {
  const IdentityPolicy* p = listener.identity.get();
  return p != nullptr && p->request_id && !p->trust_from.empty();
}

void assign_identity(WorkerContext& ctx, const ListenerSettings& listener,
                     const http::RequestHead& head, const SocketAddress* client,
                     observe::RequestRecord& record) {
  (void)ctx;  // each worker's random ids come from its own thread's generator
  const IdentityPolicy* p = listener.identity.get();
  if (p == nullptr || (!p->request_id && !p->tracing)) return;
  std::string_view id;
  std::string_view traceparent;
  int ids = 0;
  int traceparents = 0;
  for (const auto& f : head.fields) {
    if (p->request_id && http::iequals(f.name, p->header)) {
      id = f.value;
      ++ids;
    } else if (p->tracing && http::iequals(f.name, "traceparent")) {
      traceparent = f.value;
      ++traceparents;
    }
  }
  if (p->request_id) assign_request_id(*p, id, ids == 1, client, record);
  if (p->tracing) assign_trace(*p, traceparent, traceparents == 1, record);
}

std::span<const http::HeaderField> listener_response_fields(
    const ListenerSettings& listener, bool secure, const observe::RequestRecord* record,
    std::span<const http::HeaderField> fields, std::array<http::HeaderField, 2>& storage) {
  const std::size_t n = hsts_field(listener.hsts, secure, fields, storage[0]).size();
  const IdentityPolicy* p = listener.identity.get();
  if (p == nullptr || !p->echo || record == nullptr || record->request_id.empty()) {
    return {storage.data(), n};
  }
  for (const auto& f : fields) {
    if (http::iequals(f.name, p->header)) return {storage.data(), n};
  }
  storage[n] = {p->header, record->request_id};
  return {storage.data(), n + 1};
}

}  // namespace sluice::proxy
