// The middleware chain (docs/config.md, "middlewares") with its simplest
// kind, `headers`: a definition attached per route or as a listener's
// default, what the backend receives and what the client receives, route
// captures and variables in values, a route opting out with `[]`, the
// proxy's own fields out of a middleware's reach, and the same over
// HTTP/2.
#include <gtest/gtest.h>

#include <signal.h>

#include <fstream>
#include <future>
#include <mutex>
#include <string>
#include <vector>

#include "sluice_instance.h"
#include "support/http_client.h"
#include "support/process.h"
#include "support/temp_dir.h"
#include "support/test_backend.h"

namespace sluice::test {
namespace {

// Answers every request 200 with a few fields a middleware may edit, and
// hands each request it read to the test.
TestBackend::Script records_and_answers(std::vector<ReceivedRequest>* seen, std::mutex* m) {
  return [seen, m](BackendConnection& c) {
    ReceivedRequest r;
    while (c.read_request(r)) {
      {
        std::lock_guard lock(*m);
        seen->push_back(r);
      }
      if (!c.send(make_response(200, "ok",
                                {"Server: leaky/1.0", "X-Powered-By: php", "ETag: \"v1\""}))) {
        return;
      }
    }
  };
}

struct Fixture {
  std::vector<ReceivedRequest> seen;
  std::mutex m;
  TestBackend backend{records_and_answers(&seen, &m)};

  ReceivedRequest last() {
    std::lock_guard lock(m);
    return seen.empty() ? ReceivedRequest{} : seen.back();
  }
  std::size_t count() {
    std::lock_guard lock(m);
    return seen.size();
  }
};

std::string config(const std::string& backend, const std::string& listener_extra,
                   const std::string& routes, const std::string& middlewares) {
  return "workers: 1\nlisteners:\n  - name: web\n    listen: 127.0.0.1:0\n" + listener_extra +
         "routes:\n" + routes + "backends:\n  app:\n    servers: [" + backend +
         "]\nmiddlewares:\n" + middlewares;
}

constexpr const char* kEdits = R"(  edit:
    headers:
      request:
        remove: [X-Secret]
        set: {X-Replace: "new for ${host} via ${route}"}
        add: {X-Client: "${client_ip}", X-Request-Id: "${request_id}"}
      response:
        remove: [X-Powered-By]
        set: {Server: sluice}
        add: {X-Served-By: "${route}"}
)";

std::optional<HttpResponse> get(SluiceInstance& s, const std::string& path,
                                const std::string& extra = "") {
  RawConnection c(s.port("web"));
  if (!c.send("GET " + path + " HTTP/1.1\r\nHost: Example.COM:8080\r\n" + extra + "\r\n")) {
    return std::nullopt;
  }
  return c.read_response();
}

TEST(MiddlewareHeaders, TheBackendGetsTheRequestAsTheMiddlewareEditsIt) {
  Fixture f;
  SluiceInstance sluice(config(f.backend.address(), "",
                               "  - name: app\n    backend: app\n    middlewares: [edit]\n",
                               kEdits));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const auto res = get(sluice, "/x", "X-Secret: s3cr3t\r\nX-Replace: old\r\nX-Keep: yes\r\n");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  const ReceivedRequest r = f.last();
  EXPECT_FALSE(r.has("x-secret"));
  EXPECT_EQ(r.headers.count("x-replace"), 1u);
  EXPECT_EQ(r.header("x-replace"), "new for example.com via app");
  EXPECT_EQ(r.header("x-client"), "127.0.0.1");
  // The request's own id (top-level request_id, a UUID): the field the
  // middleware adds and the one sluice sends are one.
  EXPECT_EQ(r.headers.count("x-request-id"), 1u);
  EXPECT_EQ(r.header("x-request-id").size(), 36u);
  EXPECT_EQ(r.header("x-keep"), "yes");
  EXPECT_EQ(r.header("host"), "Example.COM:8080");
}

TEST(MiddlewareHeaders, TheClientGetsTheResponseAsTheMiddlewareEditsIt) {
  Fixture f;
  SluiceInstance sluice(config(f.backend.address(), "",
                               "  - name: app\n    backend: app\n    middlewares: [edit]\n",
                               kEdits));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const auto res = get(sluice, "/x");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(res->body, "ok");
  EXPECT_FALSE(res->header("x-powered-by"));
  EXPECT_EQ(res->count("server"), 1u);
  EXPECT_EQ(res->header("server").value_or(""), "sluice");
  EXPECT_EQ(res->header("x-served-by").value_or(""), "app");
  EXPECT_EQ(res->header("etag").value_or(""), "\"v1\"");  // untouched
}

TEST(MiddlewareHeaders, EachRequestGetsARequestIdOfItsOwn) {
  Fixture f;
  SluiceInstance sluice(config(f.backend.address(), "",
                               "  - name: app\n    backend: app\n    middlewares: [edit]\n",
                               kEdits));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  ASSERT_TRUE(get(sluice, "/1"));
  const std::string first = f.last().header("x-request-id");
  ASSERT_TRUE(get(sluice, "/2")) << sluice.process().output();
  EXPECT_NE(f.last().header("x-request-id"), first);
}

TEST(MiddlewareHeaders, RouteCapturesFillValues) {
  Fixture f;
  SluiceInstance sluice(config(f.backend.address(), "",
                               "  - name: users\n    match: {path_regex: '^/u/([0-9]+)/(\\w+)$'}\n"
                               "    backend: app\n    middlewares: [who]\n",
                               "  who:\n    headers:\n      request:\n        set: {X-User: "
                               "\"$1\", X-Action: \"${2}\", X-Cost: \"$$5\"}\n"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const auto res = get(sluice, "/u/1234/edit");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  EXPECT_EQ(f.last().header("x-user"), "1234");
  EXPECT_EQ(f.last().header("x-action"), "edit");
  EXPECT_EQ(f.last().header("x-cost"), "$5");
}

// A listener's middlewares apply to its routes that name none; a route's
// own list (even an empty one) replaces them.
TEST(MiddlewareHeaders, AListenerDefaultAppliesUnlessTheRouteNamesItsOwn) {
  Fixture f;
  SluiceInstance sluice(config(f.backend.address(), "    middlewares: [tag]\n",
                               "  - name: plain\n    match: {path: /plain}\n    backend: app\n"
                               "  - name: none\n    match: {path: /none}\n    backend: app\n"
                               "    middlewares: []\n"
                               "  - name: own\n    match: {path: /own}\n    backend: app\n"
                               "    middlewares: [other]\n",
                               "  tag:\n    headers: {request: {set: {X-Tag: listener}}}\n"
                               "  other:\n    headers: {request: {set: {X-Tag: route}}}\n"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  ASSERT_TRUE(get(sluice, "/plain"));
  EXPECT_EQ(f.last().header("x-tag"), "listener");
  ASSERT_TRUE(get(sluice, "/none"));
  EXPECT_FALSE(f.last().has("x-tag"));
  ASSERT_TRUE(get(sluice, "/own"));
  EXPECT_EQ(f.last().header("x-tag"), "route");
}

// Middlewares run in the order the route names them: the last to set a
// field wins on the request.
TEST(MiddlewareHeaders, MiddlewaresRunInTheOrderTheRouteNamesThem) {
  Fixture f;
  SluiceInstance sluice(config(f.backend.address(), "",
                               "  - name: ab\n    match: {path: /ab}\n    backend: app\n"
                               "    middlewares: [a, b]\n"
                               "  - name: ba\n    match: {path: /ba}\n    backend: app\n"
                               "    middlewares: [b, a]\n",
                               "  a:\n    headers: {request: {set: {X-Order: a}}}\n"
                               "  b:\n    headers: {request: {set: {X-Order: b}}}\n"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  ASSERT_TRUE(get(sluice, "/ab"));
  EXPECT_EQ(f.last().header("x-order"), "b");
  ASSERT_TRUE(get(sluice, "/ba"));
  EXPECT_EQ(f.last().header("x-order"), "a");
}

// Framing and hop-by-hop fields are the proxy's to state: a middleware
// that names them is refused at load, with its place in the file.
TEST(MiddlewareHeaders, AMiddlewareCannotStateFraming) {
  TempDir dir;
  const std::string file =
      dir.write("bad.yaml", config("127.0.0.1:1", "", "  - name: app\n    backend: app\n",
                                   "  bad:\n    headers:\n      request:\n        set: "
                                   "{Content-Length: \"0\"}\n"));
  const CommandResult r = run_command({sluice_binary(), "check", "-c", file});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  // Line 15 is the `set` map; the message names the field and why.
  EXPECT_NE(r.output.find("bad.yaml:15:"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("'Content-Length' is stated by the proxy"), std::string::npos)
      << r.output;
}

TEST(MiddlewareHeaders, ANameThatIsNotDefinedIsAnErrorWithASuggestion) {
  TempDir dir;
  const std::string file = dir.write(
      "typo.yaml", config("127.0.0.1:1", "",
                          "  - name: app\n    backend: app\n    middlewares: [edti]\n", kEdits));
  const CommandResult r = run_command({sluice_binary(), "check", "-c", file});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("typo.yaml:8:"), std::string::npos) << r.output;
  EXPECT_NE(
      r.output.find("refers to middleware 'edti', which is not defined (did you mean 'edit'?)"),
      std::string::npos)
      << r.output;
}

TEST(MiddlewareHeaders, EditsApplyToHttp2ClientsAsToHttp1Ones) {
  Fixture f;
  SluiceInstance sluice(config(f.backend.address(), "",
                               "  - name: app\n    backend: app\n    middlewares: [edit]\n",
                               kEdits));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const CommandResult r = run_command(
      {"curl", "-sS", "--http2-prior-knowledge", "-D", "-", "-H", "X-Secret: s", "-H",
       "X-Replace: old", "http://127.0.0.1:" + std::to_string(sluice.port("web")) + "/h2"});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("HTTP/2 200"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("server: sluice"), std::string::npos) << r.output;
  EXPECT_EQ(r.output.find("x-powered-by"), std::string::npos) << r.output;
  EXPECT_NE(r.output.find("x-served-by: app"), std::string::npos) << r.output;
  const ReceivedRequest got = f.last();
  EXPECT_FALSE(got.has("x-secret"));
  EXPECT_EQ(got.header("x-replace"), "new for 127.0.0.1 via app");
}

// A route's own answers (respond, redirect) get the response edits too:
// security headers set once cover every route.
TEST(MiddlewareHeaders, RespondAndRedirectAnswersGetTheResponseEdits) {
  SluiceInstance sluice(config("127.0.0.1:1", "    middlewares: [secure]\n",
                               "  - name: hello\n    match: {path: /hello}\n"
                               "    respond: {status: 200, headers: {X-Frame-Options: ALLOW}, "
                               "body: \"hi\\n\"}\n"
                               "  - name: old\n    match: {path: /old}\n"
                               "    redirect: {status: 301, path: /new}\n",
                               "  secure:\n    headers:\n      response:\n        set: "
                               "{X-Frame-Options: DENY, X-Route: \"${route}\"}\n"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const auto hello = get(sluice, "/hello");
  ASSERT_TRUE(hello);
  EXPECT_EQ(hello->status, 200);
  EXPECT_EQ(hello->body, "hi\n");
  EXPECT_EQ(hello->count("x-frame-options"), 1u);
  EXPECT_EQ(hello->header("x-frame-options").value_or(""), "DENY");
  EXPECT_EQ(hello->header("x-route").value_or(""), "hello");
  const auto old = get(sluice, "/old");
  ASSERT_TRUE(old);
  EXPECT_EQ(old->status, 301);
  EXPECT_EQ(old->header("x-route").value_or(""), "old");
  EXPECT_EQ(old->header("location").value_or(""), "http://Example.COM:8080/new");
  const CommandResult h2 =
      run_command({"curl", "-sS", "--http2-prior-knowledge", "-D", "-",
                   "http://127.0.0.1:" + std::to_string(sluice.port("web")) + "/hello"});
  ASSERT_EQ(h2.exit_code, 0) << h2.output;
  EXPECT_NE(h2.output.find("x-frame-options: DENY"), std::string::npos) << h2.output;
  EXPECT_EQ(h2.output.find("ALLOW"), std::string::npos) << h2.output;
  EXPECT_NE(h2.output.find("x-route: hello"), std::string::npos) << h2.output;
}

// A request pins its route's chain: a reload that changes the definition
// while the request waits on its backend leaves that request's response
// edits as they were, and new requests get the new ones.
TEST(MiddlewareHeaders, ARequestInFlightKeepsItsChainAcrossAReload) {
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  TestBackend backend([&](BackendConnection& c) {
    ReceivedRequest r;
    while (c.read_request(r)) {
      if (r.target == "/slow") released.wait();
      if (!c.send(make_response(200, "ok"))) return;
    }
  });
  const auto yaml = [&](const std::string& version) {
    return config(backend.address(), "", "  - name: app\n    backend: app\n    middlewares: [v]\n",
                  "  v:\n    headers: {response: {set: {X-Version: " + version + "}}}\n");
  };
  SluiceInstance sluice(yaml("one"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection slow(sluice.port("web"));
  ASSERT_TRUE(slow.send("GET /slow HTTP/1.1\r\nHost: t\r\n\r\n"));
  ASSERT_TRUE(backend.wait_for_requests(1)) << "the request never reached the backend";
  {
    std::ofstream out(sluice.config_path(), std::ios::trunc);
    out << yaml("two");
  }
  ::kill(sluice.process().pid(), SIGHUP);
  ASSERT_TRUE(sluice.process().wait_for_line("reload: applied")) << sluice.process().output();
  const auto fresh = get(sluice, "/fast");
  ASSERT_TRUE(fresh);
  EXPECT_EQ(fresh->header("x-version").value_or(""), "two");
  release.set_value();
  const auto old = slow.read_response();
  ASSERT_TRUE(old);
  EXPECT_EQ(old->header("x-version").value_or(""), "one");
}

}  // namespace
}  // namespace sluice::test
