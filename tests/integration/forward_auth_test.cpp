// forward_auth (issue 18) against a real auth server written here: it
// allows by Authorization, denies with 401 + WWW-Authenticate, redirects
// to a login page with cookies; sluice must relay its answers intact, copy
// X-User to the backend, pool its connections (10,000 requests open no more
// than workers x client concurrency), skip it for cached decisions (also
// across a reload), and fail as configured when it is dead or slow.
#include <gtest/gtest.h>
#include <signal.h>

#include <atomic>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "sluice_instance.h"
#include "support/free_port.h"
#include "support/http_client.h"
#include "support/nginx_instance.h"
#include "support/process.h"
#include "support/temp_dir.h"
#include "support/test_backend.h"
#include "support/test_pki.h"

namespace sluice::test {
namespace {

// The auth server: a POST is allowed when its body is "token=alice";
// "Bearer alice" is allowed (X-User, X-Auth-Role copied;
// X-Other not), "Bearer bob" too but with Cache-Control: no-store, a URI
// under /private is sent to log in (302, two cookies), anything else gets
// 401 with a challenge and a body.
TestBackend::Script auth_server() {
  return [](BackendConnection& c) {
    ReceivedRequest r;
    while (c.read_request(r)) {
      const std::string who = r.header("authorization");
      std::string out;
      if (r.method == "POST") {
        out = r.body == "token=alice" ? make_response(200, "", {"X-User: alice"})
                                      : make_response(403, "bad token\n");
      } else if (who == "Bearer alice") {
        out = make_response(200, "ok", {"X-User: alice", "X-Auth-Role: admin", "X-Other: no"});
      } else if (who == "Bearer bob") {
        out = make_response(200, "", {"X-User: bob", "Cache-Control: no-store"});
      } else if (r.header("x-forwarded-uri").rfind("/private", 0) == 0) {
        out = make_response(
            302, "",
            {"Location: https://login.example/?rd=" + r.header("x-forwarded-uri"),
             "Set-Cookie: state=n0nce; Path=/; HttpOnly", "Set-Cookie: lang=en; Path=/"});
      } else {
        out = make_response(
            401, "who are you?\n",
            {"WWW-Authenticate: Bearer realm=\"sluice\"", "Content-Type: text/plain"});
      }
      if (!c.send(out)) return;
    }
  };
}

// An app backend that says who it was told the user is.
TestBackend::Script app_server() {
  return [](BackendConnection& c) {
    ReceivedRequest r;
    while (c.read_request(r)) {
      if (!c.send(make_response(200, "user=" + r.header("x-user") +
                                         " role=" + r.header("x-auth-role") +
                                         " other=" + r.header("x-other")))) {
        return;
      }
    }
  };
}

std::string config(const std::string& auth_address, const std::string& app,
                   const std::string& extra = "", int workers = 2) {
  return "workers: " + std::to_string(workers) + R"(
listeners:
  - name: web
    listen: 127.0.0.1:0
middlewares:
  auth:
    forward_auth:
      address: http://)" +
         auth_address + R"(/verify?from=sluice
      copy_headers: [X-User, "X-Auth-*"]
)" + extra +
         R"(routes:
  - name: app
    match: {path: /}
    middlewares: [auth]
    backend: app
backends:
  app:
    servers: [)" +
         app + "]\n";
}

std::optional<HttpResponse> get(RawConnection& c, const std::string& target,
                                const std::string& fields = "") {
  if (!c.send("GET " + target + " HTTP/1.1\r\nHost: site.example\r\n" + fields + "\r\n")) {
    return std::nullopt;
  }
  return c.read_response();
}

void rewrite(const SluiceInstance& s, const std::string& yaml) {
  std::ofstream(s.config_path(), std::ios::trunc) << yaml;
}

TEST(ForwardAuth, AnAllowedRequestReachesTheBackendWithTheCopiedFieldsOnly) {
  TestBackend auth(auth_server());
  TestBackend app(app_server());
  SluiceInstance sluice(config(auth.address(), app.address()));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection c(sluice.port("web"));
  // The client's own X-User and X-Auth-Role never pass as if the auth
  // server had said them; its X-Forwarded-Uri never reaches the auth server.
  auto r = get(c, "/app/page?q=1",
               "Authorization: Bearer alice\r\nCookie: a=1\r\nX-User: mallory\r\n"
               "X-Auth-Admin: yes\r\nX-Forwarded-Uri: /spoofed\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "user=alice role=admin other=");
  ASSERT_EQ(app.requests().size(), 1u);
  EXPECT_FALSE(app.requests()[0].has("x-auth-admin")) << app.requests()[0].raw_head;

  ASSERT_EQ(auth.requests().size(), 1u);
  const ReceivedRequest asked = auth.requests()[0];
  EXPECT_EQ(asked.method, "GET");
  EXPECT_EQ(asked.target, "/verify?from=sluice");
  EXPECT_EQ(asked.header("host"), auth.address());
  EXPECT_EQ(asked.header("authorization"), "Bearer alice");
  EXPECT_EQ(asked.header("cookie"), "a=1");
  EXPECT_EQ(asked.header("x-forwarded-method"), "GET");
  EXPECT_EQ(asked.header("x-forwarded-proto"), "http");
  EXPECT_EQ(asked.header("x-forwarded-host"), "site.example");
  EXPECT_EQ(asked.header("x-forwarded-uri"), "/app/page?q=1");
  EXPECT_EQ(asked.header("x-forwarded-for"), "127.0.0.1");
  EXPECT_EQ(asked.headers.count("x-forwarded-uri"), 1u) << asked.raw_head;
}

// An https auth server (nginx with a certificate from the test CA): the
// handshake verifies it, its 2xx lets the request through with its fields
// copied; one whose certificate the CA did not sign is an auth failure
// (503 with on_error deny), never an allow.
struct HttpsAuth {
  TempDir dir;
  TestPki pki{dir.path().string()};
  TestPki other{dir.path().string(), "other-ca"};

  NginxOptions nginx_with(const IssuedCert& cert) {
    NginxOptions o;
    o.tls = true;
    o.cert_path = cert.cert_path;
    o.key_path = cert.key_path;
    o.body = "allowed";
    o.server_extra = "add_header X-User tls-alice;";
    return o;
  }
  std::string tls_config(const NginxInstance& nginx, const std::string& app) {
    std::string yaml = config("127.0.0.1:" + std::to_string(nginx.port()), app,
                              "      tls: {ca: '" + pki.ca_path() + "', sni: auth.test}\n");
    yaml.replace(yaml.find("http://"), 7, "https://");
    return yaml;
  }
};

TEST(ForwardAuth, AnHttpsAuthServerIsVerifiedAndItsAnswerCopied) {
  HttpsAuth h;
  CertSpec spec;
  spec.dns_names = {"auth.test"};
  NginxInstance nginx(h.nginx_with(h.pki.issue("auth", spec)));
  TestBackend app(app_server());
  SluiceInstance sluice(h.tls_config(nginx, app.address()));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection c(sluice.port("web"));
  for (int i = 0; i < 3; ++i) {
    auto r = get(c, "/app/" + std::to_string(i));
    ASSERT_TRUE(r) << sluice.process().output();
    EXPECT_EQ(r->status, 200) << r->body << sluice.process().output();
    EXPECT_EQ(r->body, "user=tls-alice role= other=");
  }
  // The auth requests went over TLS, on one kept-alive connection.
  ASSERT_TRUE(nginx.wait_for_requests(3));
  const std::string log = nginx.access_log();
  EXPECT_NE(log.find("proto=TLSv1.3"), std::string::npos) << log;
  EXPECT_EQ(log.find("reqs=3"), log.rfind("reqs=3")) << log;
  EXPECT_NE(log.find("reqs=3"), std::string::npos) << log;
}

TEST(ForwardAuth, AnHttpsAuthServerThatFailsVerificationDeniesWith503) {
  HttpsAuth h;
  CertSpec spec;
  spec.dns_names = {"auth.test"};
  NginxInstance nginx(h.nginx_with(h.other.issue("impostor", spec)));
  TestBackend app(app_server());
  SluiceInstance sluice(h.tls_config(nginx, app.address()));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection c(sluice.port("web"));
  auto r = get(c, "/app/page");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503) << r->body;
  EXPECT_TRUE(app.requests().empty());
  EXPECT_EQ(nginx.access_log(), "");  // the handshake failed: nothing was asked
}

// copy_headers_regex picks the auth answer's fields by pattern (any case);
// fields it does not match stay with the auth server, and the client's
// own fields that it matches never reach the backend.
TEST(ForwardAuth, CopyHeadersRegexCopiesTheFieldsItMatchesOnly) {
  TestBackend auth(auth_server());
  TestBackend app(app_server());
  std::string yaml = config(auth.address(), app.address());
  yaml.replace(yaml.find("copy_headers: [X-User, \"X-Auth-*\"]"),
               std::string("copy_headers: [X-User, \"X-Auth-*\"]").size(),
               "copy_headers_regex: '^x-(user|other)$'");
  SluiceInstance sluice(yaml);
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection c(sluice.port("web"));
  auto r = get(c, "/", "Authorization: Bearer alice\r\nX-Other: forged\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "user=alice role= other=no");
}

TEST(ForwardAuth, ACopyHeadersRegexRe2RefusesIsAnError) {
  TempDir dir;
  std::string yaml = config("127.0.0.1:1", "127.0.0.1:2");
  yaml.replace(yaml.find("copy_headers: [X-User, \"X-Auth-*\"]"),
               std::string("copy_headers: [X-User, \"X-Auth-*\"]").size(),
               "copy_headers_regex: 'x-(user'");
  const std::string path = dir.write("bad.yaml", yaml);
  const CommandResult r = run_command({sluice_binary(), "check", "-c", path});
  EXPECT_EQ(r.exit_code, 1) << r.output;
  EXPECT_NE(r.output.find("middleware 'auth': copy_headers_regex: missing )"), std::string::npos)
      << r.output;
}

TEST(ForwardAuth, A401ReachesTheClientWithItsChallengeAndBody) {
  TestBackend auth(auth_server());
  TestBackend app(app_server());
  SluiceInstance sluice(config(auth.address(), app.address()));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection c(sluice.port("web"));
  auto r = get(c, "/app/page", "Authorization: Bearer eve\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 401);
  EXPECT_EQ(r->header("www-authenticate"), "Bearer realm=\"sluice\"");
  EXPECT_EQ(r->header("content-type"), "text/plain");
  EXPECT_EQ(r->body, "who are you?\n");
  EXPECT_EQ(r->count("date"), 1u) << r->raw_head;
  EXPECT_TRUE(app.requests().empty()) << "a denied request never reaches the backend";
  // The connection carries on.
  r = get(c, "/app/page", "Authorization: Bearer alice\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
}

TEST(ForwardAuth, ARedirectToTheLoginPageReachesTheClientIntactWithItsCookies) {
  TestBackend auth(auth_server());
  TestBackend app(app_server());
  SluiceInstance sluice(config(auth.address(), app.address()));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection c(sluice.port("web"));
  auto r = get(c, "/private/report");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 302);
  EXPECT_EQ(r->header("location"), "https://login.example/?rd=/private/report");
  ASSERT_EQ(r->count("set-cookie"), 2u) << r->raw_head;
  auto it = r->headers.equal_range("set-cookie").first;
  EXPECT_EQ(it->second, "state=n0nce; Path=/; HttpOnly");
  EXPECT_EQ((++it)->second, "lang=en; Path=/");
  EXPECT_TRUE(app.requests().empty());
}

// The load: 8 clients x 1,250 requests on 2 workers. Traefik opens one
// connection per request (issue 18: 26,000 connections); sluice may open at
// most one per request in flight on a worker.
TEST(ForwardAuth, TenThousandRequestsUseNoMoreAuthConnectionsThanWorkersTimesClients) {
  TestBackend auth(auth_server());
  TestBackend app(app_server());
  constexpr int kWorkers = 2;
  constexpr int kClients = 8;
  constexpr int kEach = 1250;
  SluiceInstance sluice(config(auth.address(), app.address(), "", kWorkers));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const std::uint16_t port = sluice.port("web");
  std::atomic<int> ok{0};
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&] {
      RawConnection c(port);
      for (int n = 0; n < kEach; ++n) {
        auto r = get(c, "/app/x", "Authorization: Bearer alice\r\n");
        if (!r || r->status != 200) return;
        ok.fetch_add(1);
      }
    });
  }
  for (auto& t : clients)
    t.join();
  EXPECT_EQ(ok.load(), kClients * kEach);
  EXPECT_EQ(auth.requests().size(), static_cast<std::size_t>(kClients * kEach));
  EXPECT_LE(auth.accepted(), kWorkers * kClients);
  EXPECT_GE(auth.accepted(), 1);
}

TEST(ForwardAuth, CachedDecisionsSkipTheAuthServer) {
  TestBackend auth(auth_server());
  TestBackend app(app_server());
  SluiceInstance sluice(
      config(auth.address(), app.address(),
             "      cache: {key: [Authorization], allow_ttl: 1m, deny_ttl: 1m}\n"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection c(sluice.port("web"));
  for (int i = 0; i < 20; ++i) {
    auto r = get(c, "/app/" + std::to_string(i), "Authorization: Bearer alice\r\n");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->body, "user=alice role=admin other=") << "a cached allow copies its fields";
  }
  EXPECT_EQ(auth.requests().size(), 1u);
  for (int i = 0; i < 5; ++i) {
    auto r = get(c, "/app/x", "Authorization: Bearer eve\r\n");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401);
    EXPECT_EQ(r->header("www-authenticate"), "Bearer realm=\"sluice\"");
    EXPECT_EQ(r->body, "who are you?\n") << "a cached denial is replayed whole";
  }
  EXPECT_EQ(auth.requests().size(), 2u) << "one question per user";
  // no-store: asked every time.
  for (int i = 0; i < 3; ++i) {
    auto r = get(c, "/app/x", "Authorization: Bearer bob\r\n");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->body, "user=bob role= other=");
  }
  EXPECT_EQ(auth.requests().size(), 5u) << "Cache-Control: no-store is never kept";
  // A denial that sets a cookie (a login flow's nonce) is never replayed.
  for (int i = 0; i < 2; ++i) {
    auto r = get(c, "/private/x");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 302);
  }
  EXPECT_EQ(auth.requests().size(), 7u);
  // Another site is another decision.
  ASSERT_TRUE(
      c.send("GET / HTTP/1.1\r\nHost: other.example\r\nAuthorization: Bearer alice\r\n\r\n"));
  ASSERT_TRUE(c.read_response());
  EXPECT_EQ(auth.requests().size(), 8u);
}

TEST(ForwardAuth, ACachedDecisionSurvivesAReloadThatLeavesTheDefinitionUnchanged) {
  TestBackend auth(auth_server());
  TestBackend app(app_server());
  const std::string cache = "      cache: {key: [Authorization], allow_ttl: 1m}\n";
  SluiceInstance sluice(config(auth.address(), app.address(), cache));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection c(sluice.port("web"));
  ASSERT_EQ(get(c, "/app/1", "Authorization: Bearer alice\r\n")->status, 200);
  EXPECT_EQ(auth.requests().size(), 1u);

  // Unchanged definition, another route beside it.
  std::string same = config(auth.address(), app.address(), cache);
  same.replace(same.find("routes:\n") + 8, 0,
               "  - name: hello\n    match: {path: /hello}\n    respond: {status: 200}\n");
  rewrite(sluice, same);
  ::kill(sluice.process().pid(), SIGHUP);
  ASSERT_TRUE(sluice.process().wait_for_line("reload: applied", std::chrono::seconds(10)))
      << sluice.process().output();
  auto r = get(c, "/app/2", "Authorization: Bearer alice\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->body, "user=alice role=admin other=");
  EXPECT_EQ(auth.requests().size(), 1u) << "the decision was kept across the reload";

  // A changed definition is a new middleware, with an empty cache.
  rewrite(sluice, config(auth.address(), app.address(), cache + "      timeout: 4s\n"));
  ::kill(sluice.process().pid(), SIGHUP);
  ASSERT_TRUE(sluice.process().wait_for_count("reload: applied", 2, std::chrono::seconds(10)))
      << sluice.process().output();
  ASSERT_EQ(get(c, "/app/3", "Authorization: Bearer alice\r\n")->status, 200);
  EXPECT_EQ(auth.requests().size(), 2u);
}

TEST(ForwardAuth, ADeadAuthServerGives503WhenDenying) {
  RefusingPort dead;
  TestBackend app(app_server());
  SluiceInstance sluice(config(dead.address(), app.address()));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection c(sluice.port("web"));
  auto r = get(c, "/app/x", "Authorization: Bearer alice\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_TRUE(app.requests().empty());
  EXPECT_TRUE(sluice.process().wait_for_line("connect failed", std::chrono::seconds(10)))
      << sluice.process().output();
}

TEST(ForwardAuth, ADeadAuthServerLetsRequestsPassWhenAllowingButNotTheClientsOwnUser) {
  RefusingPort dead;
  TestBackend app(app_server());
  SluiceInstance sluice(config(dead.address(), app.address(), "      on_error: allow\n"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection c(sluice.port("web"));
  auto r = get(c, "/app/x", "X-User: mallory\r\n");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "user= role= other=");
  EXPECT_TRUE(sluice.process().wait_for_line("the request passes (on_error: allow)",
                                             std::chrono::seconds(10)))
      << sluice.process().output();
}

TEST(ForwardAuth, ASlowAuthServerHitsTheTimeout) {
  // Reads the question and never answers, until sluice gives up on it.
  TestBackend slow([](BackendConnection& c) {
    ReceivedRequest r;
    if (c.read_request(r)) c.wait_closed(30'000);
  });
  TestBackend app(app_server());
  SluiceInstance sluice(config(slow.address(), app.address(), "      timeout: 300ms\n"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection c(sluice.port("web"));
  const auto started = std::chrono::steady_clock::now();
  auto r = get(c, "/app/x", "Authorization: Bearer alice\r\n");
  const auto took = std::chrono::steady_clock::now() - started;
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
  EXPECT_LT(took, std::chrono::seconds(5)) << "the configured timeout, not a default one";
  EXPECT_TRUE(sluice.process().wait_for_line("timed out", std::chrono::seconds(10)))
      << sluice.process().output();
  EXPECT_TRUE(slow.wait_for_closed_connections(1)) << "the connection is not kept";
}

TEST(ForwardAuth, AnAuthConnectionTheServerClosedWhileIdleIsReplaced) {
  // Answers one question per connection, claiming keep-alive, then closes.
  TestBackend once([](BackendConnection& c) {
    ReceivedRequest r;
    if (c.read_request(r)) c.send(make_response(200, "", {"X-User: alice"}));
    c.close();
  });
  TestBackend app(app_server());
  SluiceInstance sluice(config(once.address(), app.address(), "", 1));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection c(sluice.port("web"));
  for (int i = 1; i <= 3; ++i) {
    auto r = get(c, "/app/x");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << "request " << i;
    EXPECT_EQ(r->body, "user=alice role= other=");
    ASSERT_TRUE(once.wait_for_closed_connections(i));
  }
  EXPECT_EQ(once.accepted(), 3);
}

TEST(ForwardAuth, WithForwardBodyTheAuthServerSeesTheMethodAndTheBody) {
  TestBackend auth(auth_server());
  TestBackend app(app_server());
  SluiceInstance sluice(config(auth.address(), app.address(), "      forward_body: {max: 16}\n"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  // A connection per request: after an answer of a middleware's own, a
  // body the client sent is not read, and its connection is closed.
  auto post = [&](const std::string& body) {
    RawConnection c(sluice.port("web"));
    EXPECT_TRUE(c.send("POST /app/form HTTP/1.1\r\nHost: site.example\r\nContent-Length: " +
                       std::to_string(body.size()) + "\r\n\r\n" + body));
    return c.read_response();
  };
  auto r = post("token=alice");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(r->body, "user=alice role= other=");
  ASSERT_EQ(auth.requests().size(), 1u);
  EXPECT_EQ(auth.requests()[0].method, "POST");
  EXPECT_EQ(auth.requests()[0].body, "token=alice");
  EXPECT_EQ(auth.requests()[0].header("x-forwarded-method"), "POST");
  ASSERT_EQ(app.requests().size(), 1u);
  EXPECT_EQ(app.requests()[0].body, "token=alice") << "the backend still gets the whole body";

  r = post("token=mallory");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 403);
  EXPECT_EQ(r->body, "bad token\n");

  r = post(std::string(17, 'x'));
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_EQ(auth.requests().size(), 2u) << "a body over the maximum is not sent";
  EXPECT_EQ(app.requests().size(), 1u);
}

TEST(ForwardAuth, OverHttp2TheChallengeAndTheCopiedUserWorkAsOverHttp1) {
  TestBackend auth(auth_server());
  TestBackend app(app_server());
  SluiceInstance sluice(config(auth.address(), app.address()));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const std::string url = "http://127.0.0.1:" + std::to_string(sluice.port("web")) + "/app/h2";
  auto denied = run_command({"curl", "-sS", "--http2-prior-knowledge", "-D", "-", url});
  ASSERT_EQ(denied.exit_code, 0) << denied.output;
  EXPECT_EQ(denied.output.rfind("HTTP/2 401", 0), 0u) << denied.output;
  EXPECT_NE(denied.output.find("www-authenticate: Bearer realm=\"sluice\""), std::string::npos)
      << denied.output;
  EXPECT_NE(denied.output.find("who are you?"), std::string::npos) << denied.output;
  auto allowed = run_command({"curl", "-sS", "--http2-prior-knowledge", "-H",
                              "Authorization: Bearer alice", "-w", "[%{http_version}]", url});
  ASSERT_EQ(allowed.exit_code, 0) << allowed.output;
  EXPECT_EQ(allowed.output, "user=alice role=admin other=[2]");
  ASSERT_EQ(auth.requests().size(), 2u);
  EXPECT_EQ(auth.requests()[1].header("x-forwarded-uri"), "/app/h2");
  // An HTTP/2 client may split Cookie into crumbs (RFC 9113 §8.2.3); the
  // auth server, over HTTP/1.1, gets them as one field.
  auto crumbs = run_command({"nghttp", "-H", "authorization: Bearer alice", "-H", "cookie: a=1",
                             "-H", "cookie: b=2", url});
  ASSERT_EQ(crumbs.exit_code, 0) << crumbs.output;
  EXPECT_EQ(crumbs.output, "user=alice role=admin other=");
  ASSERT_EQ(auth.requests().size(), 3u);
  EXPECT_EQ(auth.requests()[2].headers.count("cookie"), 1u) << auth.requests()[2].raw_head;
  EXPECT_EQ(auth.requests()[2].header("cookie"), "a=1; b=2") << auth.requests()[2].raw_head;
}

}  // namespace
}  // namespace sluice::test
