// The client's side of an exchange as the route's middlewares shape it: the
// response head passes each middleware's filter (last to first) before it
// is queued, and the body passes the filters that transform it
// (compression); the request body is held to the middlewares' size limit
// (413). Everything else goes straight to the client's own downstream.
// Made only for a request whose middlewares asked for it.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "middleware/middleware.h"
#include "proxy/downstream.h"

namespace sluice::proxy {

class FilteredDownstream final : public Downstream {
 public:
  // `filters` in chain order; they and `inner` outlive this object.
  FilteredDownstream(Downstream& inner,
                     std::span<const std::unique_ptr<middleware::ResponseFilter>> filters,
                     std::uint64_t max_body_bytes);

  Task<BodyPiece> read_body() override;
  bool body_read() const override { return inner_.body_read(); }
  Task<bool> send_interim(const http::OutgoingResponse& res) override {
    return inner_.send_interim(res);
  }
  HeadSent queue_head(const http::OutgoingResponse& res) override;
  Task<bool> send_body(std::string_view data, bool end) override;
  Task<bool> send_trailers(std::span<const http::HeaderField> trailers) override;
  void reset() override { inner_.reset(); }
  Task<void> tunnel(ByteStream& server, std::string_view server_pending,
                    std::span<char> server_buffer, std::uint64_t write_timeout_ms) override {
    return inner_.tunnel(server, server_pending, server_buffer, write_timeout_ms);
  }
  const SocketAddress& client_address() const override { return inner_.client_address(); }
  bool is_secure() const override { return inner_.is_secure(); }
  std::string_view client_certificate_subject() const override {
    return inner_.client_certificate_subject();
  }
  bool earlier_requests() const override { return inner_.earlier_requests(); }

 private:
  // The body through each transforming filter, last to first.
  bool transform(std::string_view data, bool end);

  Downstream& inner_;
  std::span<const std::unique_ptr<middleware::ResponseFilter>> filters_;
  std::uint64_t max_body_bytes_;  // 0: no limit
  std::uint64_t body_bytes_ = 0;
  middleware::ResponseHead head_;
  bool transforms_ = false;  // some filter rewrites the body of this response
  std::string out_;          // the transformed bytes
  std::string scratch_;
};

}  // namespace sluice::proxy
