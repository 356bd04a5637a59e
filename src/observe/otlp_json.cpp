#include "observe/otlp_json.h"

#include <charconv>

#include "observe/json_text.h"
#include "observe/request_record.h"

namespace sluice::observe {
namespace {

// opentelemetry.proto.trace.v1.Span.SpanKind and Status.StatusCode.
constexpr int kSpanKindServer = 2;
constexpr int kStatusError = 2;

void append_u64(std::string& out, std::uint64_t v) {
  char buf[24];
  const auto end = std::to_chars(buf, buf + sizeof buf, v).ptr;
  out.append(buf, end);
}

void append_string(std::string& out, std::string_view s) {
  out += '"';
  append_json_escaped_utf8(out, s);
  out += '"';
}

// Attributes after the first are preceded by a comma.
class Attributes {
 public:
  explicit Attributes(std::string& out) : out_(out) { out_ += "\"attributes\":["; }
  void text(std::string_view key, std::string_view value) {
    begin(key);
    out_ += "{\"stringValue\":";
    append_string(out_, value);
    out_ += "}}";
  }
  // int64 values are JSON strings in the protobuf mapping.
  void integer(std::string_view key, std::uint64_t value) {
    begin(key);
    out_ += "{\"intValue\":\"";
    append_u64(out_, value);
    out_ += "\"}}";
  }
  void end() { out_ += ']'; }

 private:
  void begin(std::string_view key) {
    if (any_) out_ += ',';
    any_ = true;
    out_ += "{\"key\":";
    append_string(out_, key);
    out_ += ",\"value\":";
  }
  std::string& out_;
  bool any_ = false;
};

// The Host field without its port (server.address and server.port are
// two attributes): "example.com:8080", "[::1]:8080".
void split_host(std::string_view host, std::string_view& name, std::string_view& port) {
  name = host;
  port = {};
  const auto colon = host.rfind(':');
  if (colon == std::string_view::npos) return;
  const bool bracketed = !host.empty() && host.front() == '[';
  if (bracketed ? colon > 0 && host[colon - 1] == ']' : host.find(':') == colon) {
    name = host.substr(0, colon);
    port = host.substr(colon + 1);
  }
}

}  // namespace

OtlpJsonWriter::OtlpJsonWriter(std::string& out, std::string_view service_name) : out_(out) {
  out_.clear();
  out_ += "{\"resourceSpans\":[{\"resource\":{";
  Attributes resource(out_);
  resource.text("service.name", service_name);
  resource.end();
  out_ += "},\"scopeSpans\":[{\"scope\":{\"name\":\"sluice\"},\"spans\":[";
}

void OtlpJsonWriter::append(const Span& s) {
  if (spans_++ > 0) out_ += ',';
  out_ += "{\"traceId\":\"";
  out_.append(s.trace_id.data(), s.trace_id.size());
  out_ += "\",\"spanId\":\"";
  out_.append(s.span_id.data(), s.span_id.size());
  out_ += '"';
  if (s.parent_id[0] != '\0') {
    out_ += ",\"parentSpanId\":\"";
    out_.append(s.parent_id.data(), s.parent_id.size());
    out_ += '"';
  }
  // The HTTP conventions name a server span by its method (a route
  // template would follow it; a route's name is an attribute instead).
  out_ += ",\"name\":";
  append_string(out_, s.method.view().empty() ? "HTTP" : s.method.view());
  out_ += ",\"kind\":";
  append_u64(out_, kSpanKindServer);
  out_ += ",\"startTimeUnixNano\":\"";
  append_u64(out_, s.start_unix_ns);
  out_ += "\",\"endTimeUnixNano\":\"";
  append_u64(out_, s.end_unix_ns);
  out_ += "\",";

  Attributes a(out_);
  a.text("http.request.method", s.method.view());
  const std::string_view target = s.target.view();
  const auto q = target.find('?');
  a.text("url.path", target.substr(0, q));
  if (q != std::string_view::npos) a.text("url.query", target.substr(q + 1));
  std::string_view host_name;
  std::string_view host_port;
  split_host(s.host.view(), host_name, host_port);
  if (!host_name.empty()) a.text("server.address", host_name);
  std::uint64_t port = 0;
  if (!host_port.empty() &&
      std::from_chars(host_port.data(), host_port.data() + host_port.size(), port).ec ==
          std::errc{}) {
    a.integer("server.port", port);
  }
  if (s.status != 0) a.integer("http.response.status_code", static_cast<std::uint64_t>(s.status));
  if (s.has_client) a.text("client.address", s.client.host_string());
  if (s.protocol.view().starts_with("HTTP/")) {
    a.text("network.protocol.version", s.protocol.view().substr(5));
  }
  if (!s.route.view().empty()) a.text("sluice.route", s.route.view());
  if (!s.backend.view().empty()) a.text("sluice.backend", s.backend.view());
  if (!s.server.view().empty()) a.text("sluice.server", s.server.view());
  if (!s.request_id.view().empty()) a.text("sluice.request_id", s.request_id.view());
  a.text("sluice.termination", s.termination.view());
  a.end();
  // Server spans: a 5xx, or no response at all, is an error; a 4xx is the
  // client's (OpenTelemetry HTTP conventions, "Status").
  if (s.status == 0 || s.status >= 500) {
    out_ += ",\"status\":{\"code\":";
    append_u64(out_, kStatusError);
    out_ += '}';
  }
  out_ += '}';
}

void OtlpJsonWriter::finish() {
  out_ += "]}]}]}";
}

void Span::fill(const RequestRecord& r) {
  trace_id = r.trace.trace_id;
  span_id = r.trace.span_id;
  parent_id = r.trace.parent_id;
  start_unix_ns = r.start_unix_us * 1000;
  end_unix_ns =
      (r.start_unix_us + static_cast<std::uint64_t>(r.total_us > 0 ? r.total_us : 0)) * 1000;
  status = r.status;
  method.assign(r.method);
  target.assign(r.target);
  host.assign(r.host);
  route.assign(r.route);
  backend.assign(r.backend);
  server.assign(r.server);
  request_id.assign(r.request_id);
  protocol.assign(r.protocol);
  termination.assign(r.termination);
  has_client = r.client != nullptr;
  if (has_client) client = *r.client;
}

}  // namespace sluice::observe
