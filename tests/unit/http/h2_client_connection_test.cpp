// The client side of an HTTP/2 connection, paired in memory with the
// server side (h2_connection.h): what one sends the other reads.
#include "http/h2_client_connection.h"

#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "http/h2_connection.h"

namespace sluice::http {
namespace {

// A response head as the server codec takes it.
sluice::http::H2ServerConnection::Head response_head(
    int status, std::span<const sluice::http::HeaderField> fields, bool has_body,
    bool interim = false) {
  sluice::http::H2ServerConnection::Head h;
  h.status = status;
  h.fields = fields;
  h.has_body = has_body;
  h.interim = interim;
  return h;
}

std::string field(H2FieldList& list, std::string_view name) {
  for (const auto& f : list.fields()) {
    if (f.name == name) return std::string(f.value);
  }
  return "<none>";
}

struct Server : H2ServerConnection::Handler {
  explicit Server(H2Limits limits = {}) : codec(limits, *this) {}
  H2StreamState* open_stream(std::int32_t id) override {
    if (refuse) return nullptr;
    auto& s = streams[id];
    s = std::make_unique<H2StreamState>();
    return s.get();
  }
  void on_request(H2StreamState& s) override { requests.push_back(s.id); }
  void on_body(H2StreamState&) override {}
  void on_output_taken(H2StreamState&) override {}
  void on_close(H2StreamState& s, std::uint32_t) override { closed.push_back(s.id); }

  bool refuse = false;
  std::map<std::int32_t, std::unique_ptr<H2StreamState>> streams;
  std::vector<std::int32_t> requests;
  std::vector<std::int32_t> closed;
  H2ServerConnection codec;
};

struct Client : H2ClientConnection::Handler {
  explicit Client(H2ClientLimits limits = {}) : codec(limits, *this) {}
  void on_head(H2ClientStreamState& s) override { heads.push_back(s.id); }
  void on_body(H2ClientStreamState&) override {}
  void on_output_taken(H2ClientStreamState&) override {}
  void on_close(H2ClientStreamState& s, std::uint32_t code) override {
    closes.push_back({s.id, code});
  }
  std::vector<std::int32_t> heads;
  std::vector<std::pair<std::int32_t, std::uint32_t>> closes;
  H2ClientConnection codec;
};

// Moves frames both ways until neither side has more to say.
void pump(Client& c, Server& s) {
  for (int round = 0; round < 100; ++round) {
    std::string up, down;
    c.codec.take_output(up, 1 << 20);
    if (!up.empty()) {
      ASSERT_TRUE(s.codec.receive(up, 0)) << s.codec.failure();
    }
    s.codec.take_output(down, 1 << 20);
    if (!down.empty()) {
      ASSERT_TRUE(c.codec.receive(down)) << c.codec.failure();
    }
    if (up.empty() && down.empty()) return;
  }
}

H2Request get(std::string_view path = "/") {
  H2Request r;
  r.method = "GET";
  r.scheme = "http";
  r.authority = "example.test";
  r.path = path;
  return r;
}

TEST(H2ClientConnection, RequestAndResponseWithBodiesAndTrailersArriveIntact) {
  Client c;
  Server s;
  H2ClientStreamState st;
  const HeaderField fields[] = {{"Content-Type", "application/grpc"}, {"X-Custom", "one"}};
  H2Request req = get("/svc/Method");
  req.method = "POST";
  req.fields = fields;
  req.has_body = true;
  ASSERT_TRUE(c.codec.submit_request(st, req));
  st.out = "request body";
  st.out_end = true;
  st.out_trailers.add("x-request-trailer", "yes");
  st.send_trailers = true;
  pump(c, s);

  ASSERT_EQ(s.requests.size(), 1u);
  H2StreamState& in = *s.streams.at(st.id);
  EXPECT_EQ(in.method, "POST");
  EXPECT_EQ(in.path, "/svc/Method");
  EXPECT_EQ(in.authority, "example.test");
  EXPECT_EQ(field(in.fields, "content-type"), "application/grpc");
  EXPECT_EQ(field(in.fields, "x-custom"), "one");
  EXPECT_EQ(in.body, "request body");
  EXPECT_TRUE(in.ended);
  ASSERT_TRUE(in.has_trailers);
  EXPECT_EQ(field(in.trailers, "x-request-trailer"), "yes");

  const HeaderField rfields[] = {{"content-type", "application/grpc"}};
  ASSERT_TRUE(s.codec.submit_head(in, response_head(200, rfields, true)));
  in.out = "response body";
  in.out_end = true;
  in.out_trailers.add("grpc-status", "0");
  in.send_trailers = true;
  pump(c, s);

  EXPECT_TRUE(st.head_done);
  EXPECT_FALSE(st.head_ended);  // though the whole response came in one go
  EXPECT_EQ(st.status, 200);
  EXPECT_EQ(field(st.fields, "content-type"), "application/grpc");
  EXPECT_EQ(st.body, "response body");
  EXPECT_TRUE(st.ended);
  ASSERT_TRUE(st.has_trailers);
  EXPECT_EQ(field(st.trailers, "grpc-status"), "0");
  EXPECT_TRUE(st.closed);
  EXPECT_EQ(st.error_code, 0u);
  EXPECT_FALSE(st.not_processed);
}

TEST(H2ClientConnection, ConnectionSpecificFieldsAreNeverSent) {
  Client c;
  Server s;
  H2ClientStreamState st;
  const HeaderField fields[] = {{"Connection", "keep-alive"},     {"Keep-Alive", "timeout=5"},
                                {"Transfer-Encoding", "chunked"}, {"TE", "gzip"},
                                {"Host", "other.test"},           {"Accept", "*/*"}};
  H2Request req = get();
  req.fields = fields;
  ASSERT_TRUE(c.codec.submit_request(st, req));
  pump(c, s);
  ASSERT_EQ(s.requests.size(), 1u);
  H2StreamState& in = *s.streams.at(st.id);
  EXPECT_FALSE(in.too_large);
  ASSERT_EQ(in.fields.count(), 1u);
  EXPECT_EQ(field(in.fields, "accept"), "*/*");
}

TEST(H2ClientConnection, InterimHeadsAreDroppedAndTheFinalHeadKept) {
  Client c;
  Server s;
  H2ClientStreamState st;
  ASSERT_TRUE(c.codec.submit_request(st, get()));
  pump(c, s);
  H2StreamState& in = *s.streams.at(st.id);
  const HeaderField hint[] = {{"link", "</a.css>; rel=preload"}};
  ASSERT_TRUE(s.codec.submit_head(in, response_head(103, hint, false, true)));
  const HeaderField final_fields[] = {{"x-final", "1"}};
  ASSERT_TRUE(s.codec.submit_head(in, response_head(204, final_fields, false)));
  pump(c, s);
  EXPECT_EQ(st.interim_heads, 1);
  EXPECT_EQ(st.status, 204);
  EXPECT_TRUE(st.head_ended);
  EXPECT_EQ(field(st.fields, "link"), "<none>");
  EXPECT_EQ(field(st.fields, "x-final"), "1");
  EXPECT_TRUE(st.ended);
}

// Windows follow the proxy's buffers: a response is received only as far
// as the stream's window, which opens as the bytes are handed on.
TEST(H2ClientConnection, ResponseBodyStopsAtTheWindowUntilConsumed) {
  H2ClientLimits limits;
  limits.initial_window_size = 16'384;
  Client c(limits);
  Server s;
  H2ClientStreamState st;
  ASSERT_TRUE(c.codec.submit_request(st, get()));
  pump(c, s);
  H2StreamState& in = *s.streams.at(st.id);
  const std::string big(200'000, 'x');
  ASSERT_TRUE(s.codec.submit_head(in, response_head(200, {}, true)));
  in.out = big;
  in.out_end = true;
  pump(c, s);
  EXPECT_EQ(st.body.size(), 16'384u);
  EXPECT_FALSE(st.ended);

  std::size_t received = st.body.size();
  for (int i = 0; i < 100 && !st.ended; ++i) {
    const std::size_t n = st.body.size();
    st.body.clear();
    c.codec.consume(st, n);
    pump(c, s);
    EXPECT_LE(st.body.size(), 16'384u);
    received += st.body.size();
  }
  EXPECT_TRUE(st.ended);
  EXPECT_EQ(received, big.size());
}

TEST(H2ClientConnection, CapacityIsTheServersMaxConcurrentStreamsMinusOpenOnes) {
  H2Limits server_limits;
  server_limits.max_concurrent_streams = 2;
  Client c;
  Server s(server_limits);
  EXPECT_EQ(c.codec.capacity(), 100u);  // assumed until SETTINGS come
  pump(c, s);
  EXPECT_EQ(c.codec.peer_max_concurrent_streams(), 2u);
  EXPECT_EQ(c.codec.capacity(), 2u);
  H2ClientStreamState a, b;
  ASSERT_TRUE(c.codec.submit_request(a, get()));
  EXPECT_EQ(c.codec.capacity(), 1u);
  ASSERT_TRUE(c.codec.submit_request(b, get()));
  EXPECT_EQ(c.codec.capacity(), 0u);
  pump(c, s);
  ASSERT_TRUE(s.codec.submit_head(*s.streams.at(a.id), response_head(204, {}, false)));
  pump(c, s);
  EXPECT_TRUE(a.closed);
  EXPECT_EQ(c.codec.capacity(), 1u);
}

TEST(H2ClientConnection, RefusedStreamIsMarkedNotProcessed) {
  Client c;
  Server s;
  s.refuse = true;
  H2ClientStreamState st;
  H2Request req = get();
  req.method = "POST";
  ASSERT_TRUE(c.codec.submit_request(st, req));
  pump(c, s);
  EXPECT_TRUE(st.closed);
  EXPECT_EQ(st.error_code, h2_error::refused_stream);
  EXPECT_TRUE(st.not_processed);
  EXPECT_FALSE(st.head_done);
}

// RFC 9113 §8.7: streams above a GOAWAY's last-stream-id were not
// processed; those at or below it finish.
TEST(H2ClientConnection, StreamsAboveGoawayLastStreamIdAreNotProcessed) {
  Client c;
  Server s;
  H2ClientStreamState first, second;
  ASSERT_TRUE(c.codec.submit_request(first, get("/1")));
  pump(c, s);
  s.codec.goaway(h2_error::no_error);  // last-stream-id: the first stream
  ASSERT_TRUE(c.codec.submit_request(second, get("/2")));
  std::string up, down;
  c.codec.take_output(up, 1 << 20);  // the second request leaves ...
  s.codec.take_output(down, 1 << 20);
  ASSERT_TRUE(c.codec.receive(down));  // ... and then the GOAWAY arrives
  EXPECT_TRUE(c.codec.goaway_received());
  EXPECT_EQ(c.codec.goaway_last_stream_id(), first.id);
  EXPECT_EQ(c.codec.capacity(), 0u);
  EXPECT_TRUE(second.closed);
  EXPECT_TRUE(second.not_processed);
  EXPECT_FALSE(first.closed);
  H2ClientStreamState third;
  EXPECT_FALSE(c.codec.submit_request(third, get("/3")));

  ASSERT_TRUE(s.codec.receive(up, 0));
  ASSERT_TRUE(s.codec.submit_head(*s.streams.at(first.id), response_head(204, {}, false)));
  pump(c, s);
  EXPECT_TRUE(first.closed);
  EXPECT_EQ(first.status, 204);
  EXPECT_FALSE(first.not_processed);
}

TEST(H2ClientConnection, OversizedResponseHeadIsMarkedTooLarge) {
  H2ClientLimits limits;
  limits.max_header_list_size = 1024;
  Client c(limits);
  Server s;
  H2ClientStreamState st;
  ASSERT_TRUE(c.codec.submit_request(st, get()));
  pump(c, s);
  const std::string big(2000, 'v');
  const HeaderField fields[] = {{"x-big", big}};
  ASSERT_TRUE(s.codec.submit_head(*s.streams.at(st.id), response_head(200, fields, false)));
  pump(c, s);
  EXPECT_TRUE(st.head_done);
  EXPECT_TRUE(st.too_large);
}

}  // namespace
}  // namespace sluice::http
