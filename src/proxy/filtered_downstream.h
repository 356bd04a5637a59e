// The client's side of an exchange as the route's middlewares shape it: the
// request body's first bytes read ahead for a middleware that asked for
// them (forward_auth's body forwarding) and then given to the exchange as
// if unread; the request body held to the middlewares' size limit (413);
// the response head passed through each middleware's filter (last to
// first) before it is queued, and the body through the filters that
// transform it (compression). Everything else goes straight to the
// client's own downstream. Made only for a request whose middlewares need
// one of these.
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
  explicit FilteredDownstream(Downstream& inner) : inner_(inner) {}

  // Reads the request body until `max` bytes, its end or a failure (which
  // the exchange then meets at that point of the body).
  Task<void> read_ahead(std::size_t max);
  // What read_ahead() read: at most `max` bytes of it; `whole`: the body
  // ended there.
  std::string_view read_so_far(std::size_t max) const {
    return std::string_view(ahead_).substr(0, max);
  }
  bool read_whole() const { return ahead_end_; }
  // `filters` in chain order; they outlive this object. 0: no limit.
  void set_filters(std::span<const std::unique_ptr<middleware::ResponseFilter>> filters,
                   std::uint64_t max_body_bytes) {
    filters_ = filters;
    max_body_bytes_ = max_body_bytes;
  }

  Task<BodyPiece> read_body() override;
  bool body_read() const override { return !ahead_pending_ && inner_.body_read(); }
  Task<bool> send_interim(const http::OutgoingResponse& res) override {
    return inner_.send_interim(res);
  }
  HeadSent queue_head(const http::OutgoingResponse& res) override;
  Task<bool> send_body(std::string_view data, bool end) override;
  Task<bool> send_trailers(std::span<const http::HeaderField> trailers) override;
  // A file (X-Sendfile) goes by the client's own fast path unless a filter
  // rewrites the body; then it is read and passes the filters as any body.
  Task<bool> send_file(int fd, std::uint64_t offset, std::uint64_t length) override {
    return transforms_ ? Downstream::send_file(fd, offset, length)
                       : inner_.send_file(fd, offset, length);
  }
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
  // A piece from the client, counted against the limit.
  Task<BodyPiece> read_counted();
  // The body through each transforming filter, last to first.
  bool transform(std::string_view data, bool end);

  Downstream& inner_;
  std::span<const std::unique_ptr<middleware::ResponseFilter>> filters_;
  std::uint64_t max_body_bytes_ = 0;  // 0: no limit
  std::uint64_t body_bytes_ = 0;
  // Read ahead: the bytes, and how the reading ended (a failure, or the
  // body's end with its trailers: views into the inner downstream, which is
  // not read again after the end).
  std::string ahead_;
  bool ahead_pending_ = false;  // not yet handed to the exchange
  bool ahead_end_ = false;
  bool ahead_given_ = false;  // the bytes went; the failure after them is next
  BodyPiece ahead_last_;
  middleware::ResponseHead head_;
  bool transforms_ = false;  // some filter rewrites the body of this response
  std::string out_;          // the transformed bytes
  std::string scratch_;
};

}  // namespace sluice::proxy
