// The one place a finished request is handed to what operators see:
// metrics, the access log, a trace span. Called once per request by the
// client's session (HTTP/1 or an HTTP/2 stream), whatever the outcome.
#pragma once

#include <string_view>

#include "observe/request_record.h"

namespace sluice::http {
struct RequestHead;
}
namespace sluice::route {
struct Route;
}

namespace sluice::proxy {

struct WorkerContext;
struct ListenerSettings;
struct Backend;

// What the record learns from the parsed head and the listener.
void record_head(observe::RequestRecord& r, const http::RequestHead& head,
                 std::string_view protocol);
void record_listener(observe::RequestRecord& r, const ListenerSettings& listener);
// The route that matched, and its backend (null for a local answer).
void record_route(observe::RequestRecord& r, const route::Route& route, const Backend* backend);

// `record` is complete (status, bytes, durations); its views are valid for
// the duration of the call only.
void finish_request(WorkerContext& ctx, observe::RequestRecord& record);

// The response's last byte left (or the request ended without one): the
// total duration stops here, not after a lingering close. Once.
void stamp_end(observe::RequestRecord& r);

// One request's record in a session's frame: begun when the session starts
// on a request, handed to finish_request() when it goes out of scope, if
// the request came to anything (a head, or an answer such as a 400 to a
// malformed one). Inactive, and free, when nothing observes requests.
class RequestRecording {
 public:
  // `current`, when given, points at the record while it lives (a
  // session's "request now recorded"), and is reset with it.
  explicit RequestRecording(WorkerContext& ctx, observe::RequestRecord** current = nullptr);
  ~RequestRecording();
  RequestRecording(const RequestRecording&) = delete;
  RequestRecording& operator=(const RequestRecording&) = delete;

  // Null when nothing observes requests: callers test before filling.
  observe::RequestRecord* get() { return active_ ? &record_ : nullptr; }

 private:
  WorkerContext& ctx_;
  observe::RequestRecord** current_;
  bool active_;
  observe::RequestRecord record_;
};

}  // namespace sluice::proxy
