// The admin listener's HTTP/1.1 rules apart from its I/O (admin/admin_http.h):
// how a body is gathered and refused, when 100 Continue is sent, how an
// answer's head is written, and how many connections may stay.
#include "admin/admin_http.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "admin/access.h"
#include "support/test_backend.h"

namespace sluice::admin {
namespace {

using State = BodyReader::State;

AdminRequest with_length(std::uint64_t length) {
  AdminRequest req;
  req.method = "POST";
  req.target = "/config";
  req.framing = http::Framing::content_length;
  req.content_length = length;
  return req;
}

AdminRequest chunked() {
  AdminRequest req = with_length(0);
  req.framing = http::Framing::chunked;
  return req;
}

// Feeds `pieces` as they would arrive into the connection's buffer, keeping
// unconsumed bytes in front of the next piece, as the connection does.
struct Fed {
  State state = State::need_more;
  std::string body;
  std::string left;  // bytes after the body
  std::string reason;
};

Fed feed(BodyReader& reader, const std::vector<std::string>& pieces) {
  constexpr std::size_t kCapacity = 16 * 1024;
  Fed out;
  std::string buffered;
  for (const auto& piece : pieces) {
    buffered += piece;
    const BodyReader::Step step = reader.take(buffered, kCapacity);
    EXPECT_LE(step.consumed, buffered.size());
    buffered.erase(0, step.consumed);
    out.state = step.state;
    if (step.state != State::need_more) break;
  }
  out.body = reader.body();
  out.left = buffered;
  out.reason = reader.reason();
  return out;
}

TEST(AdminBody, ALengthBodyIsTakenWholeAndWhatFollowsIsLeft) {
  BodyReader reader(with_length(5), 100);
  const Fed fed = feed(reader, {"he", "l", "loGET / HTTP/1.1\r\n"});
  EXPECT_EQ(fed.state, State::done);
  EXPECT_EQ(fed.body, "hello");
  EXPECT_EQ(fed.left, "GET / HTTP/1.1\r\n");
}

TEST(AdminBody, ALengthBodyWaitsForItsLastByte) {
  BodyReader reader(with_length(5), 100);
  const Fed fed = feed(reader, {"hel", "l"});
  EXPECT_EQ(fed.state, State::need_more);
  EXPECT_EQ(fed.body, "hell");
}

TEST(AdminBody, NoBodyAndAnEmptyBodyAreDoneAtOnce) {
  BodyReader none(AdminRequest{}, 100);
  const Fed after_none = feed(none, {"GET / HTTP/1.1\r\n"});
  EXPECT_EQ(after_none.state, State::done);
  EXPECT_EQ(after_none.left, "GET / HTTP/1.1\r\n");
  BodyReader empty(with_length(0), 100);
  EXPECT_EQ(feed(empty, {""}).state, State::done);
}

TEST(AdminBody, AChunkedBodyIsDecodedAcrossPiecesAndWhatFollowsIsLeft) {
  BodyReader reader(chunked(), 100);
  const std::string wire = "5\r\nhello\r\n6;x=y\r\n world\r\n0\r\nTrailer: t\r\n\r\n";
  std::vector<std::string> bytes;
  for (const char c : wire)
    bytes.emplace_back(1, c);
  bytes.emplace_back("NEXT");
  const Fed fed = feed(reader, bytes);
  EXPECT_EQ(fed.state, State::done);
  EXPECT_EQ(fed.body, "hello world");
  EXPECT_EQ(fed.left, "");  // "NEXT" came after the end was seen
  BodyReader whole(chunked(), 100);
  const Fed at_once = feed(whole, {wire + "NEXT"});
  EXPECT_EQ(at_once.body, "hello world");
  EXPECT_EQ(at_once.left, "NEXT");
}

TEST(AdminBody, AChunkedBodyOverMaxBodyIsTooLargeAndOneAtItIsNot) {
  BodyReader at_limit(chunked(), 10);
  EXPECT_EQ(feed(at_limit, {test::chunk_body(std::string(10, 'x'), 3)}).state, State::done);
  BodyReader over(chunked(), 10);
  EXPECT_EQ(feed(over, {test::chunk_body(std::string(11, 'x'), 3)}).state, State::too_large);
  // Refused as soon as it is over, before the rest arrives.
  BodyReader early(chunked(), 10);
  EXPECT_EQ(feed(early, {"b\r\n" + std::string(11, 'x')}).state, State::too_large);
}

TEST(AdminBody, BrokenChunkedFramingIsMalformedWithTheDecodersReason) {
  BodyReader reader(chunked(), 100);
  const Fed fed = feed(reader, {"zz\r\n"});
  EXPECT_EQ(fed.state, State::malformed);
  EXPECT_FALSE(fed.reason.empty());
}

// RFC 9110 §10.1.1.
TEST(AdminContinue, SentOnlyToAClientThatAskedHasABodyAndHasNotStartedIt) {
  struct Case {
    const char* what;
    AdminRequest req;
    bool expect;
    std::size_t buffered;
    bool sent;
  };
  const std::vector<Case> cases = {
      {"asked, length body", with_length(5), true, 0, true},
      {"asked, chunked body", chunked(), true, 0, true},
      {"did not ask", with_length(5), false, 0, false},
      {"asked, no body", AdminRequest{}, true, 0, false},
      {"asked, empty body", with_length(0), true, 0, false},
      {"asked, body already arriving", with_length(5), true, 2, false},
  };
  for (auto c : cases) {
    SCOPED_TRACE(c.what);
    c.req.expect_continue = c.expect;
    EXPECT_EQ(c.req.sends_continue(c.buffered), c.sent);
  }
}

TEST(AdminResponseHead, CarriesStatusTypeLengthAndFieldsInOrder) {
  AdminResponse r(405, "text/plain", "use GET\n");
  r.headers.emplace_back("Allow", "GET, HEAD");
  r.headers.emplace_back("X-Two", "2");
  EXPECT_EQ(response_head(r, true),
            "HTTP/1.1 405 Method Not Allowed\r\nContent-Type: text/plain\r\n"
            "Content-Length: 8\r\nAllow: GET, HEAD\r\nX-Two: 2\r\n\r\n");
}

// HTTP/1.1 is persistent by default: only the closing answer says so.
TEST(AdminResponseHead, SaysConnectionCloseOnlyWhenTheConnectionCloses) {
  const AdminResponse r(200, "application/json", "{}\n");
  EXPECT_EQ(response_head(r, true),
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 3\r\n\r\n");
  EXPECT_EQ(response_head(r, false),
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 3\r\n"
            "Connection: close\r\n\r\n");
}

// Counted with the connection being decided on.
TEST(AdminConnections, UpToMaxConnectionsStayAndTheNextIsRefused) {
  AdminPolicy policy;
  policy.max_connections = 2;
  EXPECT_TRUE(policy.admits_connection(1));
  EXPECT_TRUE(policy.admits_connection(2));
  EXPECT_FALSE(policy.admits_connection(3));
}

}  // namespace
}  // namespace sluice::admin
