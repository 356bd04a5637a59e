#include "proxy/request_finish.h"

#include "http/message.h"
#include "observe/access_log.h"
#include "observe/tracer.h"
#include "observe/wall_clock.h"
#include "observe/worker_metrics.h"
#include "proxy/backend.h"
#include "proxy/request_identity.h"
#include "proxy/snapshot.h"
#include "proxy/worker_context.h"
#include "route/route_table.h"

namespace sluice::proxy {

void finish_request(WorkerContext& ctx, observe::RequestRecord& record) {
  if (ctx.metrics) ctx.metrics->record(record);
  if (ctx.access_log) ctx.access_log->log(record);
  if (ctx.tracer && record.trace.sampled) ctx.tracer->finish(ctx.index, record);
}

void record_head(observe::RequestRecord& r, const http::RequestHead& head,
                 std::string_view protocol) {
  r.method = head.method_text;
  r.host = head.host;
  r.target = head.target;
  r.protocol = protocol;
}

void record_listener(observe::RequestRecord& r, const ListenerSettings& listener) {
  r.listener = listener.name;
  r.listener_slot = listener.metrics_slot;
}

void record_route(observe::RequestRecord& r, const route::Route& route, const Backend* backend) {
  r.route = route.name;
  r.route_slot = route.metrics_slot;
  if (backend != nullptr) {
    r.backend = backend->name;
    r.backend_slot = backend->metrics_slot;
  }
}

namespace {

// Request ids and trace context live in the record: it is kept whenever
// the configuration assigns them, even with nothing else observing.
bool needs_identity(const WorkerContext& ctx) {
  const IdentityPolicy* id = ctx.snapshot ? ctx.snapshot->identity.get() : nullptr;
  return id != nullptr && (id->request_id || id->tracing);
}

}  // namespace

RequestRecording::RequestRecording(WorkerContext& ctx, observe::RequestRecord** current)
    : ctx_(ctx),
      current_(current),
      active_(ctx.metrics != nullptr || ctx.access_log != nullptr || ctx.tracer != nullptr ||
              needs_identity(ctx)) {
  record_.timed = ctx.metrics != nullptr || ctx.access_log != nullptr || ctx.tracer != nullptr;
  if (record_.timed) record_.start_us = observe::monotonic_now_us();
  if (current_ != nullptr) *current_ = get();
}

void stamp_end(observe::RequestRecord& r) {
  if (r.total_us != 0 || !r.timed) return;
  const std::uint64_t now = observe::monotonic_now_us();
  r.total_us = static_cast<std::int64_t>(now - r.start_us);
  if (r.total_us == 0) r.total_us = 1;  // stamped: under a microsecond
  r.start_unix_us = observe::unix_now_us() - static_cast<std::uint64_t>(r.total_us);
}

RequestRecording::~RequestRecording() {
  if (current_ != nullptr) *current_ = nullptr;
  if (!active_) return;
  // Bytes that never became a request (a client that connected and left,
  // a head cut short) are not requests.
  if (record_.method.empty() && record_.status == 0) return;
  stamp_end(record_);
  finish_request(ctx_, record_);
}

}  // namespace sluice::proxy
