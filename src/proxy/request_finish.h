// The one place a finished request is handed to what operators see:
// metrics, the access log, a trace span. Called once per request by the
// client's session (HTTP/1 or an HTTP/2 stream), whatever the outcome.
#pragma once

namespace sluice::observe {
struct RequestRecord;
}

namespace sluice::proxy {

struct WorkerContext;

// `record` is complete (status, bytes, durations); its views are valid for
// the duration of the call only.
void finish_request(WorkerContext& ctx, observe::RequestRecord& record);

}  // namespace sluice::proxy
