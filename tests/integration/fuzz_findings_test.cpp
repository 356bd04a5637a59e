// What the whole-proxy fuzzer (fuzz/proxy_fuzz.cpp) found, kept found: the
// real sluice between a raw client and a scripted backend.
#include <gtest/gtest.h>

#include <string>

#include "sluice_instance.h"
#include "support/http_client.h"
#include "support/test_backend.h"

namespace sluice::test {
namespace {

// '/' goes to the backend; nothing else has a route.
std::string config_for(const std::string& server) {
  return R"(workers: 1
listeners:
  - name: web
    listen: 127.0.0.1:0
routes:
  - name: app
    match: {path_exact: /}
    backend: app
backends:
  app:
    servers: [)" +
         server + "]\n";
}

// Reads whatever answers a request to HEAD: the head, then nothing until
// sluice closes. Returns the response; `after` gets any bytes behind it.
std::optional<HttpResponse> answer_to_head(SluiceInstance& sluice, const std::string& request,
                                           std::string& after) {
  RawConnection c(sluice.port("web"));
  if (!c.send(request)) return std::nullopt;
  auto r = c.read_response(/*head_request=*/true, 5000);
  EXPECT_TRUE(c.wait_closed(5000)) << "the error response closes the connection";
  after = c.leftover();
  return r;
}

// RFC 9110 §9.3.2: a client reads no content after the answer to HEAD, so
// an error's text sent there would be read as the start of a next response.
TEST(FuzzFindings, AnErrorAnsweringHeadHasNoContent) {
  TestBackend backend([](BackendConnection& c) {
    ReceivedRequest req;
    if (!c.read_request(req)) return;
    c.send("HTTP/1.1 200 \r*Host: a\r\n\r\n");  // a bare CR: not a response
  });
  SluiceInstance sluice(config_for(backend.address()));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();

  std::string after;
  auto bad_gateway = answer_to_head(sluice, "HEAD / HTTP/1.1\r\nHost: a\r\n\r\n", after);
  ASSERT_TRUE(bad_gateway);
  EXPECT_EQ(bad_gateway->status, 502);
  EXPECT_EQ(bad_gateway->header("content-length"), "33");  // what a GET would get
  EXPECT_EQ(after, "");

  auto not_found = answer_to_head(sluice, "HEAD /nowhere HTTP/1.1\r\nHost: a\r\n\r\n", after);
  ASSERT_TRUE(not_found);
  EXPECT_EQ(not_found->status, 404);
  EXPECT_EQ(after, "");
}

// The same errors answering GET keep their text.
TEST(FuzzFindings, AnErrorAnsweringGetKeepsItsText) {
  TestBackend backend([](BackendConnection&) {});
  SluiceInstance sluice(config_for(backend.address()));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection c(sluice.port("web"));
  ASSERT_TRUE(c.send("GET /nowhere HTTP/1.1\r\nHost: a\r\n\r\n"));
  auto r = c.read_response(false, 5000);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 404);
  EXPECT_EQ(r->body, "no route matches this request\n");
}

}  // namespace
}  // namespace sluice::test
