#include "proxy/middleware_chain.h"

#include <spdlog/spdlog.h>

#include "core/address.h"
#include "proxy/filtered_downstream.h"
#include "proxy/request_routing.h"
#include "proxy/snapshot.h"
#include "route/route_table.h"

namespace sluice::proxy {

std::shared_ptr<const MiddlewareChain> chain_for(const Snapshot& now,
                                                 const ListenerSettings& listener,
                                                 const route::Route& route) {
  if (route.file_index < now.route_middlewares.size() &&
      now.route_middlewares[route.file_index] != nullptr) {
    const auto& own = now.route_middlewares[route.file_index];
    return own->items.empty() ? nullptr : own;
  }
  return listener.middlewares;
}

namespace {

class Unavailable final : public middleware::Middleware {
 public:
  Task<middleware::Verdict> on_request(const middleware::Context&, const middleware::Request&,
                                       middleware::RequestEdits&, middleware::Answer& answer,
                                       std::unique_ptr<middleware::ResponseFilter>&) override {
    answer.status = 503;
    answer.fields.push_back({"Content-Type", "text/plain"});
    answer.body = "this route's middleware is unavailable\n";
    answer.reason = "the middleware could not be built (see the reload's log)";
    co_return middleware::Verdict::answer;
  }
};

}  // namespace

std::shared_ptr<middleware::Middleware> unavailable_middleware() {
  static const auto one = std::make_shared<Unavailable>();
  return one;
}

void describe_request(const http::RequestHead& head, const RequestTarget& t,
                      const route::Captures& captures, const route::Route& route,
                      const SocketAddress& client, bool secure, MiddlewareRequest& out) {
  middleware::Request& r = out.request;
  r.method = head.method_text;
  r.scheme = secure ? "https" : "http";
  // As the router saw it (request_routing.cpp): without port or trailing
  // dot, in lower case.
  std::string_view host = strip_port(head.host);
  if (!host.empty() && host.back() == '.') host.remove_suffix(1);
  out.host.assign(host);
  for (char& c : out.host)
    c = (c >= 'A' && c <= 'Z') ? static_cast<char>(c + 32) : c;
  r.host = out.host;
  r.authority = head.host;
  r.path = t.view.path;
  r.query = t.view.query;
  r.target = head.target;
  r.fields = head.fields;
  r.client = &client;
  r.route = route.name;
  const std::size_t n = static_cast<std::size_t>(std::max(0, captures.count));
  for (std::size_t i = 0; i < n && i < out.captures.size(); ++i)
    out.captures[i] = captures.groups[i];
  r.captures =
      std::span<const std::string_view>(out.captures.data(), std::min(n, out.captures.size()));
  r.version = head.version_minor == 0 ? 10 : 11;  // an HTTP/2 session says 20
}

void describe_body(const FilteredDownstream* ahead, std::size_t wanted, bool no_body,
                   middleware::Request& out) {
  if (ahead == nullptr) {
    out.body_complete = no_body;
    return;
  }
  out.body = ahead->read_so_far(wanted);
  out.body_complete = ahead->read_whole() && ahead->read_so_far(SIZE_MAX).size() <= wanted;
}

http::OutgoingResponse answer_head(const middleware::Answer& answer,
                                   std::vector<http::HeaderField>& fields) {
  fields.clear();
  fields.reserve(answer.fields.size());
  for (const auto& f : answer.fields)
    fields.push_back({f.name, f.value});
  http::OutgoingResponse res;
  res.status = answer.status;
  res.fields = fields;
  res.body = http::BodyKind::sized;
  res.length = answer.body.size();
  return res;
}

void filter_local_head(ResponseFilters filters, int status, bool has_body,
                       std::span<const http::HeaderField> fields, middleware::ResponseHead& head) {
  head.status = status;
  head.has_body = has_body;
  head.fields.assign(fields.begin(), fields.end());
  for (auto it = filters.rbegin(); it != filters.rend(); ++it) {
    const int status_before = head.status;
    const std::vector<http::HeaderField> before = head.fields;
    (*it)->on_head(head);
    if ((*it)->transforms_body()) {
      // It wanted to rewrite the body: its changes of the head would
      // describe a body that is not sent.
      head.fields = before;
      head.status = status_before;
    }
  }
}

void log_middleware_answer(std::string_view listener, std::string_view route,
                           const MiddlewarePass& pass, const SocketAddress& client) {
  const middleware::Answer& a = pass.answer();
  const spdlog::level::level_enum level =
      a.status >= 500 ? spdlog::level::warn : spdlog::level::debug;
  if (!spdlog::should_log(level)) return;
  spdlog::log(level, "listener '{}' route '{}' middleware '{}' client {}: {} {}", listener, route,
              pass.answered_by(), client.to_string(), a.status, a.reason);
}

Task<middleware::Verdict> MiddlewarePass::run(const middleware::Context& ctx,
                                              const middleware::Request& r) {
  for (std::size_t i = 0; i < chain_->items.size(); ++i) {
    std::unique_ptr<middleware::ResponseFilter> filter;
    const middleware::Verdict v =
        co_await chain_->items[i]->on_request(ctx, r, edits_, answer_, filter);
    if (filter) filters_.push_back(std::move(filter));
    if (v == middleware::Verdict::answer) {
      answered_by_ = chain_->names[i];
      co_return v;
    }
  }
  co_return middleware::Verdict::next;
}

}  // namespace sluice::proxy
