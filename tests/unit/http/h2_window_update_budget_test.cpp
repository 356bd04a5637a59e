// WINDOW_UPDATE frames against the server side's control-frame budget: a
// client that opens its windows as it reads a long response (a gRPC client
// reading a large server stream) is not a flood; one that sends them while
// getting nothing still is.
#include <gtest/gtest.h>

#include <map>
#include <memory>
#include <string>

#include "http/h2_client_connection.h"
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

struct Server : H2ServerConnection::Handler {
  explicit Server(const H2Limits& limits) : codec(limits, *this) {}
  H2StreamState* open_stream(std::int32_t id) override {
    auto& s = streams[id];
    s = std::make_unique<H2StreamState>();
    return s.get();
  }
  void on_request(H2StreamState&) override {}
  void on_body(H2StreamState&) override {}
  void on_output_taken(H2StreamState&) override {}
  void on_close(H2StreamState&, std::uint32_t) override {}
  std::map<std::int32_t, std::unique_ptr<H2StreamState>> streams;
  H2ServerConnection codec;
};

struct Client : H2ClientConnection::Handler {
  Client() : codec(H2ClientLimits{}, *this) {}
  void on_head(H2ClientStreamState&) override {}
  void on_body(H2ClientStreamState&) override {}
  void on_output_taken(H2ClientStreamState&) override {}
  void on_close(H2ClientStreamState&, std::uint32_t) override {}
  H2ClientConnection codec;
};

bool pump(Client& c, Server& s) {
  for (int round = 0; round < 100; ++round) {
    std::string up, down;
    c.codec.take_output(up, 1 << 20);
    if (!up.empty() && !s.codec.receive(up, 0)) return false;
    s.codec.take_output(down, 1 << 20);
    if (!down.empty() && !c.codec.receive(down)) return false;
    if (up.empty() && down.empty()) return true;
  }
  return true;
}

// One WINDOW_UPDATE frame on the connection (RFC 9113 §6.9), by 1 byte.
std::string window_update() {
  return std::string("\x00\x00\x04\x08\x00\x00\x00\x00\x00\x00\x00\x00\x01", 13);
}

H2Limits tight_control_budget() {
  H2Limits l;
  l.control_burst = 10;
  l.control_per_second = 1;
  return l;
}

TEST(H2WindowUpdateBudget, UpdatesThatFollowDataSentAreNotAFlood) {
  Client c;
  Server s(tight_control_budget());
  H2ClientStreamState st;
  H2Request req;
  req.method = "GET";
  req.scheme = "http";
  req.authority = "a.test";
  req.path = "/";
  ASSERT_TRUE(c.codec.submit_request(st, req));
  ASSERT_TRUE(pump(c, s));
  H2StreamState& in = *s.streams.at(st.id);
  const std::string body(60'000, 'x');  // four DATA frames of at most 16 KiB
  ASSERT_TRUE(s.codec.submit_head(in, response_head(200, {}, true)));
  in.out = body;
  in.out_end = true;
  ASSERT_TRUE(pump(c, s));
  ASSERT_TRUE(st.ended);
  // 10 in the budget (two spent on the client's SETTINGS and first
  // WINDOW_UPDATE), 16 earned by the DATA frames (4 each).
  std::string updates;
  for (int i = 0; i < 20; ++i)
    updates += window_update();
  EXPECT_TRUE(s.codec.receive(updates, 0)) << (s.codec.failure() ? s.codec.failure() : "-");
}

TEST(H2WindowUpdateBudget, UpdatesWithNoDataSentAreStillAFlood) {
  Client c;
  Server s(tight_control_budget());
  ASSERT_TRUE(pump(c, s));  // prefaces and SETTINGS (one control token each way)
  std::string updates;
  for (int i = 0; i < 24; ++i)
    updates += window_update();
  EXPECT_FALSE(s.codec.receive(updates, 0));
  EXPECT_NE(std::string(s.codec.failure() ? s.codec.failure() : ""), "");
}

}  // namespace
}  // namespace sluice::http
