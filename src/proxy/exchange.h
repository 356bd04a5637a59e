// One forwarded request/response exchange. Internal to the proxy layer:
// forwarder.cpp holds the request side (head rewrite, server choice,
// pooled connection, request body), response_relay.cpp the response side
// (interim responses, framing, response body, upgrade tunnel).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "core/buffer_pool.h"
#include "core/task.h"
#include "http/chunked_decoder.h"
#include "http/message.h"
#include "proxy/body_pace.h"
#include "proxy/forwarder.h"
#include "proxy/upstream_connection.h"

namespace sluice::http {
class ResponseParser;
}

namespace sluice::proxy {

struct Backend;
struct BackendServer;

class Exchange {
 public:
  Exchange(WorkerContext& ctx, std::shared_ptr<const route::Route> route,
           std::shared_ptr<const Backend> backend, const http::RequestHead& head,
           ClientConnection& client, bool keep_alive);
  ~Exchange();
  Exchange(const Exchange&) = delete;
  Exchange& operator=(const Exchange&) = delete;
  Task<ForwardResult> run(const http::RequestHead& head, std::size_t head_bytes,
                          std::string_view target);

 private:
  enum class Step {
    ok,
    backend_failed,  // the server closed, reset or broke the exchange
    client_failed,   // the client left or was cancelled
    timeout,         // the server did not answer in time
    refused,         // the server refused the connection
    rejected,        // the request is refused with reject_status_
    local_shortage,  // no descriptor or local port: not the server's fault
  };

  // ---- request side (forwarder.cpp)
  bool build_request_head(const http::RequestHead& head, std::string_view target);
  bool pick_server();
  bool retry_elsewhere(const char* why);
  void release_server();
  Task<bool> admit();
  std::uint64_t request_hash(const http::RequestHead& head, std::string_view target) const;
  int sticky_server(const http::RequestHead& head) const;
  Task<Step> acquire_connection(bool allow_pooled);
  Task<Step> connect_fresh();
  Task<Step> send_request();
  Task<Step> send_length_body(std::uint64_t length);
  Task<Step> send_chunked_body();
  Task<Step> read_client_body();
  void drop_client_bytes(std::size_t n);
  bool resendable() const;
  bool within_retry_budget();
  void note_retry(const char* why);
  ForwardResult unanswered();
  void hold_body(std::string_view bytes);
  Step reject(int status, const char* reason);
  std::string_view server_address_for_host() const;
  std::string_view client_ip(char* out, std::size_t size) const;
  ForwardResult fail(int status, const char* reason, const char* detail = nullptr);
  void retire_backend();
  void finish_backend();

  // ---- response side (response_relay.cpp)
  Task<Step> read_response_head(http::ResponseParser& parser);
  void note_keep_alive_hint(const http::ResponseHead& head);
  Task<bool> relay_interim(const http::ResponseHead& head, std::size_t head_bytes);
  Task<ForwardResult> relay_response(const http::ResponseHead& head, std::size_t head_bytes);
  Task<ForwardResult> relay_upgrade(const http::ResponseHead& head, std::size_t head_bytes);
  Task<ForwardResult> relay_tunnel(const http::ResponseHead& head, std::size_t head_bytes);
  Task<ForwardResult> run_tunnel_after(std::string_view response_head, std::size_t head_bytes);
  std::size_t build_response_head(const http::ResponseHead& head, std::string_view framing,
                                  bool pass_content_length, bool keep_alive);
  Task<ForwardResult> relay_length_body(std::size_t head_len, std::size_t body_start,
                                        std::uint64_t length, bool keep_alive);
  Task<ForwardResult> relay_chunked_body(std::size_t head_len, std::size_t body_start,
                                         bool chunked_to_client, bool keep_alive);
  Task<ForwardResult> relay_until_close(std::size_t head_len, std::size_t body_start,
                                        bool chunked_to_client, bool keep_alive);
  Task<bool> write_to_client(std::string_view head, std::string_view a, std::string_view b = {},
                             std::string_view c = {});
  Task<Result<std::size_t>> read_backend();
  ForwardResult backend_broke(const char* what);
  ForwardResult done(bool keep_alive) const;

  WorkerContext& ctx_;
  // What the exchange pins of the configuration: its route and backend.
  std::shared_ptr<const route::Route> route_pin_;
  std::shared_ptr<const Backend> backend_pin_;
  const route::Route& route_;
  const Backend& backend_;
  ClientConnection& client_;
  EventLoop& loop_;

  // Facts of the request, copied: its head's bytes are reused for the body.
  http::Method method_;
  std::string method_text_;  // for logs (short: no allocation)
  int client_minor_;
  bool client_keep_alive_;
  bool upgrade_;
  bool expect_continue_;
  http::Framing request_framing_;
  std::uint64_t request_length_;

  const BackendServer* server_ = nullptr;
  int server_index_ = -1;  // in the balancer; counted in its in_flight
  // Where this try's connection goes: read once per try from the server's
  // state (the resolver may move it meanwhile), so pool and connect agree.
  const balance::Endpoint* endpoint_ = nullptr;
  bool holding_slot_ = false;   // one of the server's max_connections
  std::uint64_t hash_key_ = 0;  // balance: hash
  int sticky_server_ = -1;      // the server the sticky cookie names
  bool set_sticky_cookie_ = false;
  std::unique_ptr<UpstreamConnection> conn_;
  bool conn_reused_ = false;
  bool idempotent_ = false;  // by method, or Idempotency-Key where the backend opts in
  int retries_left_ = 0;
  bool counted_retry_ = false;
  std::string held_body_;  // the body as sent, kept for a resend up to retries.max_body
  bool body_held_ = true;
  Buffer scratch_;  // the outgoing request head, then the outgoing response head
  std::size_t request_head_len_ = 0;
  Buffer ubuf_;  // bytes from the backend
  std::size_t uused_ = 0;
  bool request_body_started_ = false;  // body bytes were taken from the client
  bool request_body_sent_ = false;     // the whole request reached the backend
  bool client_body_read_ = false;      // the whole request body was read from the client
  bool backend_clean_ = true;          // the backend connection may be pooled at the end
  bool interim_relayed_ = false;       // a 1xx reached the client: the server answered
  BodyPace body_pace_;                 // the request body's deadline and minimum rate
  int reject_status_ = 0;              // why the client's request body was refused
  const char* reject_reason_ = "";
};

}  // namespace sluice::proxy
