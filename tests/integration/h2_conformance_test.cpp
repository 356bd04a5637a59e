// HTTP/2 towards clients (issue 17), by RFC 9113 section: what an h2 client
// sees from sluice, and what the HTTP/1.1 backend gets for it
// (docs/config.md and docs/operations.md are the contract). The frames come from
// support/h2_frames.h, an independent client built on nghttp2's HPACK;
// H2ClientAgainstNginx at the end checks that client, and the generic
// expectations here, against nginx's HTTP/2 server.
#include <gtest/gtest.h>

#include <chrono>
#include <string>

#include "h2_fixtures.h"
#include "sluice_instance.h"
#include "support/free_port.h"
#include "support/h2_frames.h"
#include "support/http_client.h"
#include "support/nginx_instance.h"
#include "support/temp_dir.h"
#include "support/test_backend.h"
#include "support/test_pki.h"

namespace sluice::test {
namespace {

using namespace std::chrono_literals;
using h2::ErrorCode;
using h2::Fields;
using h2::FrameType;
using h2::H2Connection;
using h2::H2ConnectionOptions;
using h2::Setting;
using h2::StreamResult;

constexpr const char* kAuthority = "app.example";

Fields get(const std::string& path, const Fields& extra = {}) {
  return h2::request_fields("GET", kAuthority, path, extra);
}

std::string describe(const StreamResult& s) {
  std::string out = "status " + std::to_string(s.status());
  if (s.reset) out += ", reset " + h2::to_string(*s.reset);
  if (s.ended) out += ", ended";
  out += ", body \"" + s.body.substr(0, 200) + "\"";
  return out;
}

// Reads frames until a WINDOW_UPDATE on `stream_id` arrives; its increment,
// or 0 if none arrives in time.
std::uint32_t wait_window_update(H2Connection& c, std::uint32_t stream_id,
                                 std::chrono::milliseconds timeout = 3s) {
  for (const auto& f : c.received())
    if (f.type == FrameType::window_update && f.stream_id == stream_id) return f.window_increment();
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    const auto f = c.read_frame(std::chrono::duration_cast<std::chrono::milliseconds>(
        deadline - std::chrono::steady_clock::now()));
    if (!f) break;
    if (f->type == FrameType::window_update && f->stream_id == stream_id)
      return f->window_increment();
  }
  return 0;
}

// A started sluice with an h2 connection that has done its handshake.
#define H2_CONNECT(conn, sluice, ...)                                 \
  ASSERT_TRUE((sluice).ready()) << (sluice).process().output();       \
  H2Connection conn((sluice).port("web") __VA_OPT__(, ) __VA_ARGS__); \
  ASSERT_TRUE(conn.connected());                                      \
  ASSERT_TRUE(conn.handshake()) << "no server SETTINGS\n" << (sluice).process().output()

// ---- §3: starting HTTP/2 ----

TEST(Rfc9113_3_4, ServerPrefaceIsSettingsWithTheConfiguredValues) {
  TestBackend backend(TestBackend::echo());
  SluiceInstance sluice(h2_config(backend.address(),
                                  "{max_concurrent_streams: 50, initial_window_size: 128KiB, "
                                  "connection_window_size: 4MiB, max_frame_size: 32KiB, "
                                  "max_header_list_size: 8KiB}"));
  H2_CONNECT(c, sluice);
  ASSERT_FALSE(c.received().empty());
  EXPECT_EQ(c.received().front().type, FrameType::settings) << c.received().front().describe();
  EXPECT_FALSE(c.received().front().has(h2::flags::ack));
  EXPECT_EQ(c.server_setting(Setting::max_concurrent_streams), 50u);
  EXPECT_EQ(c.server_setting(Setting::initial_window_size), 128u * 1024);
  EXPECT_EQ(c.server_setting(Setting::max_frame_size), 32u * 1024);
  EXPECT_EQ(c.server_setting(Setting::max_header_list_size), 8u * 1024);
  EXPECT_EQ(c.server_setting(Setting::enable_push), 0u);
  // §6.9.2: only a WINDOW_UPDATE raises the connection window above 65,535.
  EXPECT_EQ(wait_window_update(c, 0), 4u * 1024 * 1024 - h2::kDefaultWindow);
  // §6.5.3: our SETTINGS is acknowledged.
  for (int i = 0; i < 20 && !c.settings_acked(); ++i)
    if (!c.read_frame(2s)) break;
  EXPECT_TRUE(c.settings_acked());
}

// §3.4: the client preface is the 24 octets and a SETTINGS frame; nothing
// says they come in one write (or one TCP segment).
TEST(Rfc9113_3_4, PrefaceAndSettingsInSeparateWritesAreAccepted) {
  TestBackend backend(TestBackend::echo());
  SluiceInstance sluice(h2_config(backend.address()));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  // No automatic SETTINGS ACK: the client's first frame must be its own
  // SETTINGS (§3.4), and an ACK sent on reading the server's would come first.
  H2ConnectionOptions options;
  options.auto_ack = false;
  H2Connection c(sluice.port("web"), options);
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.send(std::string(h2::kPreface, h2::kPrefaceSize)));
  // The server's SETTINGS says it has taken the preface alone.
  const auto first = c.read_frame(5s);
  ASSERT_TRUE(first) << "nothing after the preface alone";
  ASSERT_EQ(first->type, FrameType::settings) << first->describe();
  ASSERT_TRUE(c.send(h2::settings_frame({{Setting::enable_push, 0}}) + h2::settings_ack()));
  const StreamResult r = c.request(get("/split-preface"));
  EXPECT_EQ(r.status(), 200) << describe(r) << "; "
                             << (c.goaway() ? "GOAWAY " + h2::to_string(c.goaway()->error_code) +
                                                  " \"" + c.goaway()->debug_data + "\""
                                            : "no GOAWAY");
}

TEST(Rfc9113_6_5_2, DefaultSettingsAreTheDocumentedOnesAndTheListLimitIsMaxHeaderSize) {
  TestBackend backend(TestBackend::echo());
  SluiceInstance sluice(h2_config(backend.address(), "", "    max_header_size: 8KiB\n"));
  H2_CONNECT(c, sluice);
  EXPECT_EQ(c.server_setting(Setting::max_concurrent_streams), 100u);
  EXPECT_EQ(c.server_setting(Setting::initial_window_size), 64u * 1024);
  EXPECT_EQ(c.server_setting(Setting::max_frame_size), 16u * 1024);
  EXPECT_EQ(c.server_setting(Setting::max_header_list_size), 8u * 1024);
  EXPECT_EQ(c.server_setting(Setting::enable_push), 0u);
  EXPECT_EQ(wait_window_update(c, 0), 1024u * 1024 - h2::kDefaultWindow);
}

TEST(Rfc9113_3_3, PriorKnowledgeAndHttp1AreServedOnTheSamePlainListener) {
  TestBackend backend(TestBackend::echo());
  SluiceInstance sluice(h2_config(backend.address()));
  H2_CONNECT(c, sluice);
  const StreamResult r = c.request(get("/over-h2"));
  EXPECT_EQ(r.status(), 200) << describe(r);
  EXPECT_EQ(r.field("x-target"), "/over-h2");
  EXPECT_TRUE(r.ended);

  RawConnection h1(sluice.port("web"));
  ASSERT_TRUE(h1.send("GET /over-h1 HTTP/1.1\r\nHost: app.example\r\n\r\n"));
  const auto r1 = h1.read_response();
  ASSERT_TRUE(r1);
  EXPECT_EQ(r1->status, 200);
  EXPECT_EQ(r1->version, "HTTP/1.1");
  EXPECT_EQ(r1->header("x-target"), "/over-h1");
}

TEST(Rfc9113_3_3, DisabledHttp2AnswersThePrefaceAsHttp1) {
  TestBackend backend(TestBackend::echo());
  SluiceInstance sluice(h2_config(backend.address(), "{enabled: false}"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection c(sluice.port("web"));
  ASSERT_TRUE(c.send(std::string(h2::kPreface, h2::kPrefaceSize) + h2::settings_frame()));
  const auto r = c.read_response(false, 5000);
  ASSERT_TRUE(r) << "no HTTP/1 answer to the preface: " << c.leftover();
  EXPECT_TRUE(r->status == 400 || r->status == 505) << r->status;
  EXPECT_EQ(backend.requests().size(), 0u);
}

TEST(Rfc9113_3_2, TlsListenerAgreesOnH2ByAlpnAndTellsTheBackendHttps) {
  TempDir dir;
  TestPki pki(dir.path().string());
  CertSpec spec;
  spec.dns_names = {"localhost"};
  const IssuedCert cert = pki.issue("web", spec);
  TestBackend backend(TestBackend::echo());
  SluiceInstance sluice(h2_config(backend.address(), "",
                                  "    tls:\n      certificates:\n        - {cert: " +
                                      cert.cert_path + ", key: " + cert.key_path + "}\n"));
  H2ConnectionOptions o;
  o.tls = true;
  o.ca_path = pki.ca_path();
  o.alpn = {"h2", "http/1.1"};
  H2_CONNECT(c, sluice, o);
  EXPECT_EQ(c.alpn(), "h2");
  const StreamResult r = c.request(h2::request_fields("GET", "localhost", "/tls", {}, "https"));
  EXPECT_EQ(r.status(), 200) << describe(r);
  ASSERT_EQ(backend.requests().size(), 1u);
  EXPECT_EQ(backend.requests()[0].header("x-forwarded-proto"), "https");
}

// ---- §8.3.1: request pseudo-header fields, and what the backend gets ----

TEST(Rfc9113_8_3_1, AuthorityIsTheHostTheBackendGetsOverHttp11) {
  TestBackend backend(TestBackend::echo());
  SluiceInstance sluice(h2_config(backend.address()));
  H2_CONNECT(c, sluice);
  const StreamResult r = c.request(
      h2::request_fields("GET", "example.com:8443", "/x/y?q=1", {{"accept", "text/plain"}}));
  EXPECT_EQ(r.status(), 200) << describe(r);
  // §8.3.1: a request without :authority may carry Host instead.
  const StreamResult r2 = c.request(
      {{":method", "GET"}, {":scheme", "http"}, {":path", "/h"}, {"host", "other.example"}});
  EXPECT_EQ(r2.status(), 200) << describe(r2);
  const auto seen = backend.requests();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[0].method, "GET");
  EXPECT_EQ(seen[0].target, "/x/y?q=1");
  EXPECT_EQ(seen[0].version, "HTTP/1.1");
  EXPECT_EQ(seen[0].headers.count("host"), 1u) << seen[0].raw_head;
  EXPECT_EQ(seen[0].header("host"), "example.com:8443") << seen[0].raw_head;
  EXPECT_EQ(seen[0].header("accept"), "text/plain");
  EXPECT_EQ(seen[0].header("x-forwarded-proto"), "http");
  EXPECT_EQ(seen[0].header("x-forwarded-for"), "127.0.0.1");
  EXPECT_EQ(seen[0].header("x-forwarded-host"), "example.com:8443");
  EXPECT_EQ(seen[1].header("host"), "other.example") << seen[1].raw_head;
}

// §8.2.3: a client may split Cookie into crumbs; an HTTP/1.1 backend must
// get them as one field, joined with "; ".
void expect_cookie_crumbs_joined(H2Connection& c, TestBackend& backend) {
  const StreamResult r =
      c.request(get("/", {{"cookie", "a=1"}, {"cookie", "b=2"}, {"cookie", "c=3"}}));
  EXPECT_EQ(r.status(), 200) << describe(r);
  const auto requests = backend.requests();
  ASSERT_EQ(requests.size(), 1u);
  const auto& seen = requests[0];
  EXPECT_EQ(seen.headers.count("cookie"), 1u) << seen.raw_head;
  EXPECT_EQ(seen.header("cookie"), "a=1; b=2; c=3") << seen.raw_head;
}

TEST(Rfc9113_8_2_3, CookieCrumbsAreJoinedIntoOneCookieField) {
  TestBackend backend(TestBackend::echo());
  SluiceInstance sluice(h2_config(backend.address()));
  H2_CONNECT(c, sluice);
  expect_cookie_crumbs_joined(c, backend);
}

// A malformed request (§8.1.1) is a stream error of type PROTOCOL_ERROR;
// the connection and its other streams go on, and the backend never sees it.
void expect_stream_errors_and_a_good_stream_after(SluiceInstance& sluice, TestBackend& backend,
                                                  const std::vector<Fields>& malformed) {
  H2_CONNECT(c, sluice);
  for (const Fields& fields : malformed) {
    const std::uint32_t id = c.open_stream(fields, true);
    const StreamResult r = c.wait_stream(id, 5s);
    ASSERT_TRUE(r.reset.has_value()) << "stream " << id << ": " << describe(r);
    EXPECT_EQ(*r.reset, ErrorCode::protocol_error) << "stream " << id;
    EXPECT_EQ(r.status(), 0) << "stream " << id << " got a response";
  }
  const StreamResult good = c.request(get("/good"));
  EXPECT_EQ(good.status(), 200) << describe(good);
  EXPECT_FALSE(c.goaway().has_value()) << "the connection was closed";
  const auto seen = backend.requests();
  ASSERT_EQ(seen.size(), 1u) << "the backend got a malformed request: "
                             << (seen.empty() ? "" : seen[0].raw_head);
  EXPECT_EQ(seen[0].target, "/good");
}

TEST(Rfc9113_8_2_2, ConnectionSpecificFieldIsAStreamError) {
  TestBackend backend(TestBackend::echo());
  SluiceInstance sluice(h2_config(backend.address()));
  expect_stream_errors_and_a_good_stream_after(
      sluice, backend,
      {get("/c", {{"connection", "keep-alive"}}), get("/k", {{"keep-alive", "timeout=5"}}),
       get("/p", {{"proxy-connection", "keep-alive"}}),
       get("/t", {{"transfer-encoding", "chunked"}}), get("/u", {{"upgrade", "websocket"}})});
}

TEST(Rfc9113_8_2_2, TeOtherThanTrailersIsAStreamErrorAndTrailersIsForwarded) {
  TestBackend backend(TestBackend::echo());
  SluiceInstance sluice(h2_config(backend.address()));
  H2_CONNECT(c, sluice);
  const std::uint32_t bad = c.open_stream(get("/gzip", {{"te", "gzip"}}), true);
  const StreamResult r = c.wait_stream(bad, 5s);
  ASSERT_TRUE(r.reset.has_value()) << describe(r);
  EXPECT_EQ(*r.reset, ErrorCode::protocol_error);
  const StreamResult ok = c.request(get("/trailers", {{"te", "trailers"}}));
  EXPECT_EQ(ok.status(), 200) << describe(ok);
  ASSERT_EQ(backend.requests().size(), 1u);
  EXPECT_EQ(backend.requests()[0].target, "/trailers");
}

TEST(Rfc9113_8_2_1, UppercaseFieldNameIsAStreamError) {
  TestBackend backend(TestBackend::echo());
  SluiceInstance sluice(h2_config(backend.address()));
  expect_stream_errors_and_a_good_stream_after(
      sluice, backend,
      {get("/upper", {{"X-Upper", "1"}}), get("/mixed", {{"accept-Language", "en"}})});
}

// §8.3.1 with RFC 9110 §7.2: :authority is host[:port] as an HTTP/1 Host
// must be; userinfo, a path or white space never reaches a route, a
// Location or a backend, and the connection goes on.
TEST(Rfc9113_8_3_1, AuthorityThatIsNotHostAndPortIs400AndReachesNoBackend) {
  TestBackend backend(TestBackend::echo());
  SluiceInstance sluice(h2_config(backend.address()));
  H2_CONNECT(c, sluice);
  for (const char* authority : {"user@evil.example", "evil.example/x", "a b.example"}) {
    const StreamResult r = c.request(h2::request_fields("GET", authority, "/", {}));
    EXPECT_TRUE(r.status() == 400 || r.reset.has_value()) << authority << ": " << describe(r);
  }
  const StreamResult ok = c.request(h2::request_fields("GET", "good.example", "/", {}));
  EXPECT_EQ(ok.status(), 200) << describe(ok);
  const auto seen = backend.requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_EQ(seen[0].header("host"), "good.example");
}

TEST(Rfc9113_8_3_1, MissingPseudoHeaderIsAStreamError) {
  TestBackend backend(TestBackend::echo());
  SluiceInstance sluice(h2_config(backend.address()));
  expect_stream_errors_and_a_good_stream_after(
      sluice, backend,
      {{{":scheme", "http"}, {":authority", kAuthority}, {":path", "/no-method"}},
       {{":method", "GET"}, {":authority", kAuthority}, {":path", "/no-scheme"}},
       {{":method", "GET"}, {":scheme", "http"}, {":authority", kAuthority}}});
}

TEST(Rfc9113_8_3, DuplicateOrLatePseudoHeaderIsAStreamError) {
  TestBackend backend(TestBackend::echo());
  SluiceInstance sluice(h2_config(backend.address()));
  expect_stream_errors_and_a_good_stream_after(sluice, backend,
                                               {get("/dup", {{":path", "/dup2"}}),
                                                {{":method", "GET"},
                                                 {":method", "POST"},
                                                 {":scheme", "http"},
                                                 {":authority", kAuthority},
                                                 {":path", "/dup-method"}},
                                                {{":method", "GET"},
                                                 {":scheme", "http"},
                                                 {"accept", "*/*"},
                                                 {":authority", kAuthority},
                                                 {":path", "/late"}}});
}

TEST(Rfc9113_8_1_1, ContentLengthDifferentFromTheDataIsAStreamError) {
  TestBackend backend(TestBackend::echo());
  SluiceInstance sluice(h2_config(backend.address()));
  H2_CONNECT(c, sluice);
  // Fewer bytes than declared, then END_STREAM.
  const std::uint32_t short_id = c.open_stream(
      h2::request_fields("POST", kAuthority, "/short", {{"content-length", "10"}}), false);
  ASSERT_TRUE(c.send_data(short_id, "12345", true));
  const StreamResult short_r = c.wait_stream(short_id, 5s);
  ASSERT_TRUE(short_r.reset.has_value()) << describe(short_r);
  EXPECT_EQ(*short_r.reset, ErrorCode::protocol_error);
  EXPECT_EQ(short_r.status(), 0);
  // More bytes than declared.
  const std::uint32_t long_id = c.open_stream(
      h2::request_fields("POST", kAuthority, "/long", {{"content-length", "3"}}), false);
  ASSERT_TRUE(c.send_data(long_id, "12345", true));
  const StreamResult long_r = c.wait_stream(long_id, 5s);
  ASSERT_TRUE(long_r.reset.has_value()) << describe(long_r);
  EXPECT_EQ(*long_r.reset, ErrorCode::protocol_error);
  // The connection goes on.
  const StreamResult ok = c.request(
      h2::request_fields("POST", kAuthority, "/exact", {{"content-length", "5"}}), "12345");
  EXPECT_EQ(ok.status(), 200) << describe(ok);
  EXPECT_EQ(ok.body, "12345");
  for (const auto& seen : backend.requests())
    EXPECT_NE(seen.target, "/long") << "the backend got a body longer than its content-length";
}

// ---- §8.1: responses ----

TEST(Rfc9113_8_1, ResponsesWithoutContentEndOnTheirHeadersFrame) {
  TestBackend backend([](BackendConnection& conn) {
    ReceivedRequest r;
    while (conn.read_request(r)) {
      std::string out;
      if (r.method == "HEAD") {
        out = make_response(200, "", {"Content-Length: 5"});
      } else if (r.target == "/204") {
        out = "HTTP/1.1 204 No Content\r\n\r\n";
      } else {
        out = "HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\n\r\n";
      }
      if (!conn.send(out)) return;
    }
  });
  SluiceInstance sluice(h2_config(backend.address()));
  H2_CONNECT(c, sluice);
  const StreamResult head = c.request(h2::request_fields("HEAD", kAuthority, "/head"));
  EXPECT_EQ(head.status(), 200) << describe(head);
  EXPECT_TRUE(head.headers_ended_stream) << "HEAD: DATA frames " << head.data_frames;
  EXPECT_EQ(head.data_frames, 0);
  EXPECT_EQ(head.field("content-length"), "5");
  const StreamResult no_content = c.request(get("/204"));
  EXPECT_EQ(no_content.status(), 204) << describe(no_content);
  EXPECT_TRUE(no_content.headers_ended_stream);
  EXPECT_EQ(no_content.data_frames, 0);
  const StreamResult not_modified = c.request(get("/304", {{"if-none-match", "\"v1\""}}));
  EXPECT_EQ(not_modified.status(), 304) << describe(not_modified);
  EXPECT_TRUE(not_modified.headers_ended_stream);
  EXPECT_EQ(not_modified.data_frames, 0);
  EXPECT_EQ(not_modified.field("etag"), "\"v1\"");
}

TEST(Rfc9113_8_1, ResponseTrailersFromAChunkedBackendArriveInATrailingHeadersFrame) {
  TestBackend backend([](BackendConnection& conn) {
    ReceivedRequest r;
    while (conn.read_request(r)) {
      const std::string out =
          "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: x-checksum\r\n\r\n"
          "5\r\nhello\r\n6\r\n world\r\n0\r\nx-checksum: 42\r\n\r\n";
      if (!conn.send(out)) return;
    }
  });
  SluiceInstance sluice(h2_config(backend.address()));
  H2_CONNECT(c, sluice);
  const StreamResult r = c.request(get("/trailers", {{"te", "trailers"}}));
  EXPECT_EQ(r.status(), 200) << describe(r);
  EXPECT_EQ(r.body, "hello world");
  EXPECT_FALSE(r.headers_ended_stream);
  EXPECT_TRUE(r.ended);
  EXPECT_EQ(r.trailer("x-checksum"), "42") << "no trailing HEADERS frame with the trailer";
  EXPECT_EQ(r.field("transfer-encoding"), "") << "a connection-specific field in a response";
}

// §6.9: a body larger than the stream window the server gives goes out as
// the server opens the window again, and reaches the backend whole.
void expect_large_body_delivered_whole(H2Connection& c, TestBackend& backend) {
  std::string body(300'000, '\0');
  for (std::size_t i = 0; i < body.size(); ++i)
    body[i] = static_cast<char>('a' + (i * 7 + i / 1000) % 26);
  const std::uint32_t id =
      c.open_stream(h2::request_fields("POST", kAuthority, "/upload",
                                       {{"content-length", std::to_string(body.size())}}),
                    false);
  ASSERT_TRUE(c.send_data(id, body, true, 20s)) << describe(c.stream(id));
  const StreamResult r = c.wait_stream(id, 20s);
  EXPECT_EQ(r.status(), 200) << describe(r);
  EXPECT_EQ(r.field("x-body-length"), std::to_string(body.size()));
  EXPECT_TRUE(r.body == body) << "the echoed body differs (" << r.body.size() << " bytes)";
  ASSERT_EQ(backend.requests().size(), 1u);
  EXPECT_TRUE(backend.requests()[0].body == body) << backend.requests()[0].body.size() << " bytes";
  EXPECT_GT(c.count_received(FrameType::window_update, id), 0u);
}

TEST(Rfc9113_6_9, RequestBodyLargerThanTheStreamWindowArrivesWholeAsWindowUpdatesCome) {
  TestBackend backend(TestBackend::echo());
  SluiceInstance sluice(h2_config(backend.address()));
  H2_CONNECT(c, sluice);
  ASSERT_EQ(c.server_setting(Setting::initial_window_size), 64u * 1024);
  expect_large_body_delivered_whole(c, backend);
}

// ---- Routing errors are responses on the stream, as over HTTP/1 ----

TEST(Rfc9113_8_1, NoRouteIsA404OnTheStreamAndTheConnectionGoesOn) {
  TestBackend backend(TestBackend::echo());
  SluiceInstance sluice(h2_config(backend.address(), "", "",
                                  "  - name: app\n    match: {host: app.example}\n"
                                  "    backend: app\n"));
  H2_CONNECT(c, sluice);
  const StreamResult none = c.request(h2::request_fields("GET", "nowhere.example", "/"));
  EXPECT_EQ(none.status(), 404) << describe(none);
  const StreamResult ok = c.request(get("/"));
  EXPECT_EQ(ok.status(), 200) << describe(ok);
  EXPECT_EQ(backend.requests().size(), 1u);
}

TEST(Rfc9113_8_1, BackendDownIsAnsweredOnTheStreamAsOverHttp1) {
  RefusingPort down;
  SluiceInstance sluice(h2_config(down.address()));
  H2_CONNECT(c, sluice);
  RawConnection h1(sluice.port("web"));
  ASSERT_TRUE(h1.send("GET / HTTP/1.1\r\nHost: app.example\r\n\r\n"));
  const auto r1 = h1.read_response();
  ASSERT_TRUE(r1);
  ASSERT_TRUE(r1->status == 502 || r1->status == 503) << "the premise: " << r1->status;
  const StreamResult r = c.request(get("/"));
  EXPECT_EQ(r.status(), r1->status) << describe(r);
  EXPECT_TRUE(r.ended);
  const StreamResult again = c.request(get("/again"));
  EXPECT_EQ(again.status(), r1->status) << "the connection does not go on: " << describe(again);
}

TEST(Rfc9113_8_3_1, PathThatHttp1RejectsIsA400OnTheStream) {
  TestBackend backend(TestBackend::echo());
  SluiceInstance sluice(h2_config(backend.address()));
  H2_CONNECT(c, sluice);
  // The same target over HTTP/1 (an encoded slash: escaped_slashes: reject).
  RawConnection h1(sluice.port("web"));
  ASSERT_TRUE(h1.send("GET /a%2Fb HTTP/1.1\r\nHost: app.example\r\n\r\n"));
  const auto r1 = h1.read_response();
  ASSERT_TRUE(r1);
  ASSERT_EQ(r1->status, 400) << "the premise: HTTP/1 rejects this path";
  const StreamResult r = c.request(get("/a%2Fb"));
  EXPECT_EQ(r.status(), 400) << describe(r);
  const StreamResult ok = c.request(get("/a/b"));
  EXPECT_EQ(ok.status(), 200) << describe(ok);
  ASSERT_EQ(backend.requests().size(), 1u);
  EXPECT_EQ(backend.requests()[0].target, "/a/b");
}

TEST(Rfc9113_8_1, BodyAboveMaxBodySizeIs413) {
  TestBackend backend(TestBackend::echo());
  SluiceInstance sluice(h2_config(backend.address(), "", "    max_body_size: 1KiB\n"));
  H2_CONNECT(c, sluice);
  const std::string body(4096, 'x');
  const StreamResult declared = c.request(
      h2::request_fields("POST", kAuthority, "/declared", {{"content-length", "4096"}}), body);
  EXPECT_EQ(declared.status(), 413) << describe(declared);
  const StreamResult undeclared =
      c.request(h2::request_fields("POST", kAuthority, "/undeclared"), body);
  EXPECT_EQ(undeclared.status(), 413) << describe(undeclared);
  const StreamResult small = c.request(
      h2::request_fields("POST", kAuthority, "/small", {{"content-length", "10"}}), "0123456789");
  EXPECT_EQ(small.status(), 200) << describe(small);
  for (const auto& seen : backend.requests())
    EXPECT_EQ(seen.target, "/small") << "the backend got an oversized body";
}

// RFC 9113 §6.5.2, §8.1: the limit on a field list bounds a request's
// trailer section as it bounds its head. Past it the codec stops storing
// fields, so what it kept is not what the client sent: the stream gets 431
// and the backend none of it.
TEST(Rfc9113_8_1, RequestTrailersOverTheFieldListLimitAre431AndNotForwarded) {
  TestBackend backend(TestBackend::echo());
  SluiceInstance sluice(h2_config(backend.address(), "", "    max_header_size: 1KiB\n"));
  H2_CONNECT(c, sluice);
  const std::uint32_t over = c.open_stream(h2::request_fields("POST", kAuthority, "/over"), false);
  ASSERT_NE(over, 0u);
  ASSERT_TRUE(c.send_data(over, "hello", false));
  ASSERT_TRUE(c.send_trailers(over, {{"x-first", "kept?"}, {"x-pad", std::string(1100, 'p')}}));
  const StreamResult r = c.wait_stream(over);
  EXPECT_EQ(r.status(), 431) << describe(r);
  const std::uint32_t fits = c.open_stream(h2::request_fields("POST", kAuthority, "/fits"), false);
  ASSERT_NE(fits, 0u);
  ASSERT_TRUE(c.send_data(fits, "hello", false));
  ASSERT_TRUE(c.send_trailers(fits, {{"x-checksum", "42"}}));
  const StreamResult ok = c.wait_stream(fits);
  EXPECT_EQ(ok.status(), 200) << describe(ok);
  for (const auto& seen : backend.requests()) {
    EXPECT_EQ(seen.target, "/fits") << "a request with trailers over the limit reached the backend";
  }
}

// ---- The frame client and the generic expectations above, against nginx
// (Debian's 1.22, `listen ... http2`): if these fail, the client is wrong.

TEST(H2ClientAgainstNginx, PrefaceSettingsAndAckAndAGet) {
  NginxOptions o;
  o.http2 = true;
  o.body = "hello over h2";
  NginxInstance nginx(o);
  H2Connection c(nginx.port());
  ASSERT_TRUE(c.connected());
  ASSERT_TRUE(c.handshake()) << nginx.error_log();
  EXPECT_EQ(c.received().front().type, FrameType::settings);
  EXPECT_TRUE(c.server_setting(Setting::max_concurrent_streams).has_value());
  const StreamResult r = c.request(get("/"));
  EXPECT_EQ(r.status(), 200) << describe(r);
  EXPECT_EQ(r.body, "hello over h2");
  EXPECT_TRUE(r.ended);
  EXPECT_TRUE(c.settings_acked());
  // A second stream on the same connection, and HEAD ending on HEADERS.
  const StreamResult head = c.request(h2::request_fields("HEAD", kAuthority, "/"));
  EXPECT_EQ(head.status(), 200) << describe(head);
  EXPECT_TRUE(head.headers_ended_stream);
  EXPECT_EQ(head.data_frames, 0);
}

TEST(H2ClientAgainstNginx, PingIsAnsweredAndGoawayIsRead) {
  NginxOptions o;
  o.http2 = true;
  NginxInstance nginx(o);
  H2Connection c(nginx.port());
  ASSERT_TRUE(c.handshake()) << nginx.error_log();
  ASSERT_TRUE(c.send(h2::ping_frame("12345678")));
  bool acked = false;
  while (auto f = c.read_frame(3s)) {
    if (f->type == FrameType::ping && f->has(h2::flags::ack)) {
      EXPECT_EQ(f->payload, "12345678");
      acked = true;
      break;
    }
  }
  EXPECT_TRUE(acked);
  // A frame on stream 0 that must not be there: a connection error.
  ASSERT_TRUE(c.send(h2::data_frame(0, "x", false)));
  const auto goaway = c.wait_goaway(3s);
  ASSERT_TRUE(goaway);
  EXPECT_EQ(goaway->error_code, ErrorCode::protocol_error);
  EXPECT_TRUE(c.wait_closed(3s));
}

TEST(H2ClientAgainstNginx, MalformedRequestsAreStreamErrors) {
  NginxOptions o;
  o.http2 = true;
  NginxInstance nginx(o);
  H2Connection c(nginx.port());
  ASSERT_TRUE(c.handshake()) << nginx.error_log();
  for (const Fields& fields : std::vector<Fields>{
           get("/upper", {{"X-Upper", "1"}}),
           // (not `connection`: nginx 1.22 lets connection-specific fields
           // through, against §8.2.2)
           get("/dup", {{":path", "/dup2"}}),
           {{":method", "GET"}, {":authority", kAuthority}, {":path", "/no-scheme"}},
       }) {
    const std::uint32_t id = c.open_stream(fields, true);
    const StreamResult r = c.wait_stream(id, 3s);
    EXPECT_TRUE(r.reset.has_value() || r.status() == 400) << "stream " << id << ": " << describe(r);
  }
  const StreamResult ok = c.request(get("/"));
  EXPECT_EQ(ok.status(), 200) << describe(ok);
}

// nginx proxying to the same kind of backend: the body and cookie checks
// hold there too.
TEST(H2ClientAgainstNginx, ProxiedRequestBodyLargerThanTheWindowArrivesWhole) {
  TestBackend backend(TestBackend::echo());
  NginxOptions o;
  o.http2 = true;
  o.proxy_pass = backend.address();
  NginxInstance nginx(o);
  H2Connection c(nginx.port());
  ASSERT_TRUE(c.handshake()) << nginx.error_log();
  expect_large_body_delivered_whole(c, backend);
  EXPECT_FALSE(c.goaway().has_value()) << "a flow-control error in the client";
}

TEST(H2ClientAgainstNginx, ProxiedCookieCrumbsAreJoined) {
  TestBackend backend(TestBackend::echo());
  NginxOptions o;
  o.http2 = true;
  o.proxy_pass = backend.address();
  NginxInstance nginx(o);
  H2Connection c(nginx.port());
  ASSERT_TRUE(c.handshake()) << nginx.error_log();
  expect_cookie_crumbs_joined(c, backend);
  ASSERT_EQ(backend.requests().size(), 1u);
  EXPECT_EQ(backend.requests()[0].header("host"), kAuthority);
}

TEST(H2ClientAgainstNginx, TlsWithAlpnH2) {
  TempDir dir;
  TestPki pki(dir.path().string());
  CertSpec spec;
  spec.dns_names = {"localhost"};
  const IssuedCert cert = pki.issue("nginx", spec);
  NginxOptions o;
  o.http2 = true;
  o.tls = true;
  o.cert_path = cert.cert_path;
  o.key_path = cert.key_path;
  NginxInstance nginx(o);
  H2ConnectionOptions co;
  co.tls = true;
  co.ca_path = pki.ca_path();
  co.alpn = {"h2", "http/1.1"};
  H2Connection c(nginx.port(), co);
  ASSERT_TRUE(c.connected());
  EXPECT_EQ(c.alpn(), "h2");
  ASSERT_TRUE(c.handshake()) << nginx.error_log();
  const StreamResult r = c.request(h2::request_fields("GET", "localhost", "/", {}, "https"));
  EXPECT_EQ(r.status(), 200) << describe(r);
  EXPECT_EQ(r.body, "hello from nginx");
}

}  // namespace
}  // namespace sluice::test
