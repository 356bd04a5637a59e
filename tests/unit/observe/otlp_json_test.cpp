// Spans as OTLP/HTTP JSON (issue 19): what a collector receives is valid
// JSON in the OTLP encoding (checked by an independent parser,
// tests/support/otlp_check.py) and says what the request did.
#include "observe/otlp_json.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <string_view>

#include "observe/request_record.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace sluice::observe {
namespace {

std::string checker() {
  return std::string(SLUICE_SOURCE_DIR) + "/tests/support/otlp_check.py";
}

// The checker's line per span for `json`; "" with a failure when the
// document is not valid.
std::string check(const std::string& json) {
  test::TempDir dir;
  const std::string path = dir.write("spans.json", json);
  const auto r = test::run_command({"python3", checker(), path});
  EXPECT_EQ(r.exit_code, 0) << r.output << "\n" << json;
  return r.output;
}

template <std::size_t N>
void put(std::array<char, N>& a, std::string_view s) {
  std::copy(s.begin(), s.end(), a.begin());
}

// A request as the session and the exchange would have recorded it.
struct Request {
  SocketAddress client = *SocketAddress::parse_numeric("192.0.2.7:40000");
  RequestRecord r;
  Request() {
    r.start_unix_us = 1'700'000'000'000'000;
    r.total_us = 1'500;
    r.client = &client;
    r.protocol = "HTTP/1.1";
    r.method = "GET";
    r.host = "shop.example:8080";
    r.target = "/cart/items?id=7";
    r.route = "cart";
    r.backend = "app";
    r.server = "10.0.0.5:9000";
    r.status = 200;
    r.termination = "--";
    r.request_id = "f81d4fae-7dec-41d0-a765-00a0c91e6bf6";
    put(r.trace.trace_id, "0af7651916cd43dd8448eb211c80319c");
    put(r.trace.span_id, "00f067aa0ba902b7");
    put(r.trace.parent_id, "b7ad6b7169203331");
    r.trace.sampled = true;
    r.trace.valid = true;
  }
};

std::string encode(const std::vector<const RequestRecord*>& records,
                   std::string_view service = "edge") {
  std::string out;
  OtlpJsonWriter w(out, service);
  for (const auto* r : records) {
    Span s;
    s.fill(*r);
    w.append(s);
  }
  w.finish();
  return out;
}

TEST(OtlpJson, AServerSpanCarriesTheRequestsIdsTimesAndHttpAttributes) {
  Request req;
  const std::string lines = check(encode({&req.r}));
  EXPECT_EQ(lines,
            "span service=edge trace=0af7651916cd43dd8448eb211c80319c span=00f067aa0ba902b7 "
            "parent=b7ad6b7169203331 name=GET kind=2 status=0 dur_ok=1 "
            "client.address=192.0.2.7 http.request.method=GET http.response.status_code=200 "
            "network.protocol.version=1.1 server.address=shop.example server.port=8080 "
            "sluice.backend=app sluice.request_id=f81d4fae-7dec-41d0-a765-00a0c91e6bf6 "
            "sluice.route=cart sluice.server=10.0.0.5:9000 sluice.termination=-- "
            "url.path=/cart/items url.query=id=7\n");
  const std::string json = encode({&req.r});
  EXPECT_NE(json.find("\"startTimeUnixNano\":\"1700000000000000000\""), std::string::npos);
  EXPECT_NE(json.find("\"endTimeUnixNano\":\"1700000000001500000\""), std::string::npos);
}

TEST(OtlpJson, ARootSpanHasNoParentAndA5xxOrNoAnswerIsAnError) {
  Request a;
  a.r.trace.parent_id.fill('\0');
  a.r.status = 503;
  Request b;
  b.r.status = 0;  // closed without an answer
  b.r.termination = "CH";
  Request c;
  c.r.status = 404;  // the client's error, not ours
  const std::string lines = check(encode({&a.r, &b.r, &c.r}));
  EXPECT_NE(lines.find("parent= name=GET kind=2 status=2"), std::string::npos) << lines;
  EXPECT_NE(lines.find("status=2 dur_ok=1 client.address=192.0.2.7 http.request.method=GET "
                       "network.protocol.version=1.1"),
            std::string::npos)
      << "no status code attribute without a response: " << lines;
  EXPECT_NE(lines.find("status=0 dur_ok=1 client.address=192.0.2.7 http.request.method=GET "
                       "http.response.status_code=404"),
            std::string::npos)
      << lines;
}

TEST(OtlpJson, HostileBytesInAPathStayValidJson) {
  Request req;
  const std::string target = std::string("/a\"b\\c\x01\x7f\xff\xc3\xa9?q=\"x\"");
  req.r.target = target;
  req.r.host = "[::1]:8443";
  req.r.method = "PURGE";
  const std::string lines = check(encode({&req.r}));
  EXPECT_NE(lines.find("name=PURGE"), std::string::npos) << lines;
  EXPECT_NE(lines.find("server.address=[::1] server.port=8443"), std::string::npos) << lines;
  // A stray byte (0xff) arrives as the code point of its value (U+00FF);
  // well-formed UTF-8 (U+00E9) as it is, not as two code points.
  EXPECT_NE(lines.find("url.path=/a\"b\\c\x01\x7f\xc3\xbf\xc3\xa9 url.query=q=\"x\""),
            std::string::npos)
      << lines;
}

TEST(OtlpJson, ManySpansAndLongFieldsMakeOneValidDocument) {
  Request req;
  const std::string long_path = "/" + std::string(5000, 'p');
  req.r.target = long_path;
  std::vector<const RequestRecord*> records(300, &req.r);
  const std::string lines = check(encode(records, "sluice"));
  EXPECT_EQ(std::count(lines.begin(), lines.end(), '\n'), 300);
  EXPECT_NE(lines.find("url.path=/" + std::string(255, 'p') + "\n"), std::string::npos)
      << "a long path is cut to the span's 256 bytes";
  // No spans at all is a valid (empty) request too.
  EXPECT_EQ(check(encode({})), "");
}

}  // namespace
}  // namespace sluice::observe
