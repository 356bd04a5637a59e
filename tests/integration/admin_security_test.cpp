// Issue 13 item 3 and issue 14: the admin listener under hostile callers.
// It changes the running configuration, so it must refuse what a browser
// can be made to send (a cross-site form post, a DNS-rebound page), ask
// for a bearer token where one is configured, and stay answerable while
// clients send too much, too slowly, or nonsense.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <chrono>
#include <memory>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "sluice_instance.h"
#include "support/http_client.h"
#include "support/process.h"
#include "support/temp_dir.h"
#include "support/test_backend.h"

namespace sluice::test {
namespace {

constexpr const char* kToken = "s3cret-Token_0123456789abcdef";

// One listener 'web' answering GET / with `greeting`, and an admin
// listener on loopback; `admin_extra` goes inside the admin block.
std::string greeting_config(const std::string& greeting, const std::string& admin_extra = "",
                            const std::string& admin_listen = "127.0.0.1:0") {
  return "workers: 1\nadmin: {listen: " + admin_listen + admin_extra +
         "}\n"
         "listeners:\n"
         "  - name: web\n"
         "    listen: 127.0.0.1:0\n"
         "routes:\n"
         "  - name: hello\n"
         "    match: {path: /}\n"
         "    respond: {status: 200, body: \"" +
         greeting + "\"}\n";
}

// What the running configuration answers on GET / (a fresh connection).
std::string web_body(const SluiceInstance& s) {
  RawConnection c(s.port("web"));
  return get_body(c, "/");
}

// The Host a client reaching the admin listener by its address sends.
std::string admin_host(const SluiceInstance& s) {
  return "127.0.0.1:" + std::to_string(s.port("admin"));
}

// One request on a fresh admin connection. `headers`: more header lines,
// each ending in CRLF; `host`: the Host value (default: the admin's own).
HttpResponse admin_call(const SluiceInstance& s, const std::string& method, const std::string& path,
                        const std::string& headers = "", const std::string& body = "",
                        const std::string& host = "") {
  RawConnection c(s.port("admin"));
  std::string request = method + " " + path +
                        " HTTP/1.1\r\nHost: " + (host.empty() ? admin_host(s) : host) + "\r\n" +
                        headers;
  if (method == "POST") request += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  c.send(request + "\r\n" + body);
  auto r = c.read_response(false, 30'000);
  return r ? *r : HttpResponse{};
}

HttpResponse post_config(const SluiceInstance& s, const std::string& yaml,
                         const std::string& headers = "") {
  return admin_call(s, "POST", "/config", "Content-Type: application/yaml\r\n" + headers, yaml);
}

std::string bearer(const std::string& token) {
  return "Authorization: Bearer " + token + "\r\n";
}

TEST(AdminSecurity, CrossSitePostFromABrowserIsRefusedAndChangesNothing) {
  SluiceInstance sluice(greeting_config("v1"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  // What an HTML form on another site makes the operator's browser send:
  // a "simple" request, which no CORS preflight stops.
  auto form = admin_call(sluice, "POST", "/config",
                         "Origin: http://evil.example\r\nContent-Type: text/plain\r\n",
                         greeting_config("pwned"));
  EXPECT_EQ(form.status, 403) << form.body;
  auto script = post_config(sluice, greeting_config("pwned"), "Origin: http://evil.example\r\n");
  EXPECT_EQ(script.status, 403) << script.body;
  auto null_origin = post_config(sluice, greeting_config("pwned"), "Origin: null\r\n");
  EXPECT_EQ(null_origin.status, 403) << null_origin.body;
  EXPECT_EQ(web_body(sluice), "v1") << "a refused request changes nothing";
  EXPECT_NE(sluice.process().output().find("http://evil.example"), std::string::npos)
      << "the refusal is logged\n"
      << sluice.process().output();

  // A page served by the admin listener itself may.
  auto own =
      post_config(sluice, greeting_config("v2"), "Origin: http://" + admin_host(sluice) + "\r\n");
  EXPECT_EQ(own.status, 200) << own.body;
  EXPECT_EQ(web_body(sluice), "v2");
}

TEST(AdminSecurity, PostConfigWithAFormContentTypeIsRefusedWith415) {
  SluiceInstance sluice(greeting_config("v1"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  // The three types a browser sends cross-site without asking first.
  for (const char* type :
       {"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"}) {
    auto r = admin_call(sluice, "POST", "/config", std::string("Content-Type: ") + type + "\r\n",
                        greeting_config("pwned"));
    EXPECT_EQ(r.status, 415) << type << "\n" << r.body;
  }
  EXPECT_EQ(web_body(sluice), "v1");
  auto yaml =
      admin_call(sluice, "POST", "/config", "Content-Type: application/yaml; charset=utf-8\r\n",
                 greeting_config("v2"));
  EXPECT_EQ(yaml.status, 200) << yaml.body;
  EXPECT_EQ(web_body(sluice), "v2");
}

TEST(AdminSecurity, AForeignHostIsRefusedSoDnsRebindingCannotReachTheAdmin) {
  SluiceInstance sluice(greeting_config("v1"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const std::string port = std::to_string(sluice.port("admin"));
  // A page on evil.example whose name now resolves to 127.0.0.1: the
  // browser thinks it talks to its own origin and sends Host: evil.example.
  auto read = admin_call(sluice, "GET", "/debug/memory", "", "", "evil.example:" + port);
  EXPECT_EQ(read.status, 421) << read.body;
  EXPECT_EQ(read.body.find("resident_bytes"), std::string::npos);
  auto write = admin_call(sluice, "POST", "/config", "Content-Type: application/yaml\r\n",
                          greeting_config("pwned"), "evil.example:" + port);
  EXPECT_EQ(write.status, 421) << write.body;
  EXPECT_EQ(web_body(sluice), "v1");
  EXPECT_EQ(admin_call(sluice, "GET", "/debug/memory", "", "", "127.0.0.1:1").status, 421)
      << "the admin's address, but another port";

  EXPECT_EQ(admin_call(sluice, "GET", "/debug/memory").status, 200);
  EXPECT_EQ(admin_call(sluice, "GET", "/debug/memory", "", "", "localhost:" + port).status, 200);
  auto own = post_config(sluice, greeting_config("v2"));
  EXPECT_EQ(own.status, 200) << own.body;
  EXPECT_EQ(web_body(sluice), "v2");
}

TEST(AdminSecurity, NamesListedInAdminNamesAreAcceptedAsHostAndOrigin) {
  const std::string admin = ", names: [sluice-admin.internal]";
  SluiceInstance sluice(greeting_config("v1", admin));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const std::string port = std::to_string(sluice.port("admin"));
  EXPECT_EQ(
      admin_call(sluice, "GET", "/debug/memory", "", "", "Sluice-Admin.Internal:" + port).status,
      200)
      << "a configured name, in any letter case";
  EXPECT_EQ(admin_call(sluice, "GET", "/debug/memory", "", "", "other.internal:" + port).status,
            421);
  auto named = admin_call(
      sluice, "POST", "/config",
      "Content-Type: application/yaml\r\nOrigin: http://sluice-admin.internal:" + port + "\r\n",
      greeting_config("v2", admin), "sluice-admin.internal:" + port);
  EXPECT_EQ(named.status, 200) << named.body;
  EXPECT_EQ(web_body(sluice), "v2");
}

TEST(AdminSecurity, WithATokenFileChangesNeedTheBearerToken) {
  TempDir secrets;
  const std::string token_file = secrets.write("admin.token", std::string(kToken) + "\n");
  const std::string admin = ", token_file: " + token_file;
  SluiceInstance sluice(greeting_config("v1", admin));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();

  auto none = post_config(sluice, greeting_config("pwned", admin));
  EXPECT_EQ(none.status, 401) << none.body;
  EXPECT_EQ(none.header("www-authenticate").value_or("").rfind("Bearer", 0), 0u) << none.raw_head;
  auto wrong = post_config(sluice, greeting_config("pwned", admin), bearer("s3cret-Token"));
  EXPECT_EQ(wrong.status, 401) << wrong.body;
  auto longer =
      post_config(sluice, greeting_config("pwned", admin), bearer(std::string(kToken) + "x"));
  EXPECT_EQ(longer.status, 401) << longer.body;
  auto basic = post_config(sluice, greeting_config("pwned", admin),
                           "Authorization: Basic YWRtaW46YWRtaW4=\r\n");
  EXPECT_EQ(basic.status, 401) << basic.body;
  EXPECT_EQ(web_body(sluice), "v1");
  EXPECT_EQ(sluice.process().output().find(kToken), std::string::npos)
      << "the token never reaches the log";

  // Reads stay open on a loopback address.
  EXPECT_EQ(admin_call(sluice, "GET", "/debug/memory").status, 200);

  auto right = post_config(sluice, greeting_config("v2", admin), bearer(kToken));
  EXPECT_EQ(right.status, 200) << right.body;
  EXPECT_EQ(web_body(sluice), "v2");
  // The auth-scheme is case-insensitive (RFC 9110 §11.1).
  auto lower = post_config(sluice, greeting_config("v3", admin),
                           "Authorization: bearer " + std::string(kToken) + "\r\n");
  EXPECT_EQ(lower.status, 200) << lower.body;
  EXPECT_EQ(web_body(sluice), "v3");
}

TEST(AdminSecurity, ARefusedRequestWithExpectContinueIsAnsweredBeforeItsBodyIsSent) {
  TempDir secrets;
  const std::string token_file = secrets.write("admin.token", kToken);
  const std::string admin = ", token_file: " + token_file;
  SluiceInstance sluice(greeting_config("v1", admin));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const std::string body = greeting_config("v2", admin);
  const std::string head = "POST /config HTTP/1.1\r\nHost: " + admin_host(sluice) +
                           "\r\nContent-Type: application/yaml\r\nExpect: 100-continue\r\n"
                           "Content-Length: " +
                           std::to_string(body.size()) + "\r\n";
  {
    RawConnection c(sluice.port("admin"));
    ASSERT_TRUE(c.send(head + "\r\n"));
    auto r = c.read_response(false, 10'000, true);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401) << "no 100 Continue for a request that will be refused";
  }
  RawConnection c(sluice.port("admin"));
  ASSERT_TRUE(c.send(head + bearer(kToken) + "\r\n"));
  auto interim = c.read_response(false, 10'000, true);
  ASSERT_TRUE(interim);
  EXPECT_EQ(interim->status, 100);
  ASSERT_TRUE(c.send(body));
  auto r = c.read_response(false, 30'000);
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(web_body(sluice), "v2");
}

TEST(AdminSecurity, RewritingTheTokenFileAndReloadingChangesTheToken) {
  TempDir secrets;
  const std::string token_file = secrets.write("admin.token", std::string(kToken) + "\n");
  const std::string admin = ", token_file: " + token_file;
  SluiceInstance sluice(greeting_config("v1", admin));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  secrets.write("admin.token", "rotated-token-9876543210\n");
  ::kill(sluice.process().pid(), SIGHUP);
  ASSERT_TRUE(sluice.process().wait_for_line("reload: applied")) << sluice.process().output();

  EXPECT_EQ(post_config(sluice, greeting_config("v2", admin), bearer(kToken)).status, 401);
  EXPECT_EQ(web_body(sluice), "v1");
  auto rotated =
      post_config(sluice, greeting_config("v2", admin), bearer("rotated-token-9876543210"));
  EXPECT_EQ(rotated.status, 200) << rotated.body;
  EXPECT_EQ(web_body(sluice), "v2");
}

TEST(AdminSecurity, AnAdminAddressBeyondLoopbackWithoutATokenIsAConfigurationError) {
  TempDir dir;
  const std::string open = dir.write("open.yaml", greeting_config("v1", "", "0.0.0.0:9901"));
  auto refused = run_command({sluice_binary(), "check", "-c", open});
  EXPECT_EQ(refused.exit_code, 1) << refused.output;
  EXPECT_NE(refused.output.find(open + ":2:"), std::string::npos) << refused.output;
  EXPECT_NE(refused.output.find("token_file"), std::string::npos) << refused.output;
  auto run = run_command({sluice_binary(), "run", "-c", open});
  EXPECT_EQ(run.exit_code, 1) << "sluice run refuses it too\n" << run.output;

  const std::string token_file = dir.write("admin.token", kToken);
  const std::string guarded =
      dir.write("guarded.yaml", greeting_config("v1", ", token_file: admin.token", "0.0.0.0:9901"));
  auto ok = run_command({sluice_binary(), "check", "-c", guarded});
  EXPECT_EQ(ok.exit_code, 0) << "a relative token_file is found beside the configuration\n"
                             << ok.output;

  const std::string missing = dir.write(
      "missing.yaml", greeting_config("v1", ", token_file: no-such.token", "0.0.0.0:9901"));
  auto unreadable = run_command({sluice_binary(), "check", "-c", missing});
  EXPECT_EQ(unreadable.exit_code, 1) << unreadable.output;
  EXPECT_NE(unreadable.output.find(missing + ":2:"), std::string::npos) << unreadable.output;
  EXPECT_NE(unreadable.output.find("no-such.token"), std::string::npos) << unreadable.output;

  dir.write("empty.token", "\n");
  const std::string empty =
      dir.write("empty.yaml", greeting_config("v1", ", token_file: empty.token", "0.0.0.0:9901"));
  auto blank = run_command({sluice_binary(), "check", "-c", empty});
  EXPECT_EQ(blank.exit_code, 1) << blank.output;
  EXPECT_NE(blank.output.find("empty"), std::string::npos) << blank.output;
}

TEST(AdminSecurity, AnAdminAddressBeyondLoopbackAsksForTheTokenEvenToRead) {
  TempDir secrets;
  const std::string token_file = secrets.write("admin.token", kToken);
  SluiceInstance sluice(greeting_config("v1", ", token_file: " + token_file, "0.0.0.0:0"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  auto anonymous = admin_call(sluice, "GET", "/debug/memory");
  EXPECT_EQ(anonymous.status, 401) << anonymous.body;
  EXPECT_EQ(anonymous.body.find("resident_bytes"), std::string::npos);
  auto wrong = admin_call(sluice, "GET", "/debug/memory", bearer("nope"));
  EXPECT_EQ(wrong.status, 401) << wrong.body;
  auto right = admin_call(sluice, "GET", "/debug/memory", bearer(kToken));
  EXPECT_EQ(right.status, 200) << right.body;
  EXPECT_NE(right.body.find("resident_bytes"), std::string::npos);
}

TEST(AdminSecurity, ABodyOverMaxBodyIsRefusedWith413) {
  SluiceInstance sluice(greeting_config("v1"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  // A valid configuration padded with a 5 MiB comment: over the 4 MiB default.
  const std::string big = greeting_config("big") + "# " + std::string(5 << 20, 'x') + "\n";
  auto r = post_config(sluice, big);
  EXPECT_EQ(r.status, 413) << r.body;
  EXPECT_EQ(web_body(sluice), "v1");
  EXPECT_EQ(admin_call(sluice, "GET", "/debug/memory").status, 200) << "still answering";
}

TEST(AdminSecurity, AChunkedBodyIsAcceptedAndOneOverMaxBodyIsRefusedWith413) {
  SluiceInstance sluice(greeting_config("v1", ", max_body: 64KiB"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const std::string head = "POST /config HTTP/1.1\r\nHost: " + admin_host(sluice) +
                           "\r\nContent-Type: application/yaml\r\n"
                           "Transfer-Encoding: chunked\r\n\r\n";
  {
    RawConnection c(sluice.port("admin"));
    ASSERT_TRUE(c.send(head + chunk_body(greeting_config("chunked", ", max_body: 64KiB"), 50)));
    auto r = c.read_response(false, 30'000);
    ASSERT_TRUE(r) << sluice.process().output();
    EXPECT_EQ(r->status, 200) << r->body;
  }
  EXPECT_EQ(web_body(sluice), "chunked");
  {
    const std::string big =
        greeting_config("big", ", max_body: 64KiB") + "# " + std::string(100'000, 'x') + "\n";
    RawConnection c(sluice.port("admin"));
    c.send(head + chunk_body(big, 8192));
    auto r = c.read_response(false, 30'000);
    ASSERT_TRUE(r) << sluice.process().output();
    EXPECT_EQ(r->status, 413) << r->body;
  }
  EXPECT_EQ(web_body(sluice), "chunked");
  {
    RawConnection c(sluice.port("admin"));
    c.send(head + "zz\r\nhello\r\n0\r\n\r\n");
    auto r = c.read_response(false, 30'000);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 400) << "a chunk size that is not hex\n" << r->body;
  }
  EXPECT_EQ(web_body(sluice), "chunked");
}

TEST(AdminSecurity, MalformedAndOversizedRequestsGet400And431AndTheAdminKeepsAnswering) {
  SluiceInstance sluice(greeting_config("v1"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const std::string host = "Host: " + admin_host(sluice) + "\r\n";
  struct Case {
    std::string request;
    int status;
  };
  const std::vector<Case> cases = {
      {"NONSENSE\r\n\r\n", 400},
      {"GET /debug/memory HTTP/1.1\r\n" + host + "X-Big: " + std::string(20'000, 'a') + "\r\n\r\n",
       431},
      {"POST /config HTTP/1.1\r\n" + host + "Content-Length: ten\r\n\r\n", 400},
      {"POST /config HTTP/1.1\r\n" + host +
           "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
       400},
      {"GET /debug/memory HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n", 400},
  };
  for (const auto& c : cases) {
    RawConnection conn(sluice.port("admin"));
    conn.send(c.request);
    auto r = conn.read_response(false, 10'000);
    ASSERT_TRUE(r) << c.request.substr(0, 60);
    EXPECT_EQ(r->status, c.status) << c.request.substr(0, 60) << "\n" << r->body;
    EXPECT_TRUE(conn.wait_closed(10'000)) << "closed after a malformed request";
  }
  EXPECT_EQ(web_body(sluice), "v1");
  EXPECT_EQ(admin_call(sluice, "GET", "/debug/memory").status, 200);
}

TEST(AdminSecurity, ConnectionsOverMaxConnectionsAreRefusedWhileTheOthersAreHeldOpen) {
  SluiceInstance sluice(greeting_config("v1", ", max_connections: 2"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const std::string request =
      "GET /debug/memory HTTP/1.1\r\nHost: " + admin_host(sluice) + "\r\n\r\n";
  // Two keep-alive connections, each answered once, then held open.
  std::vector<std::unique_ptr<RawConnection>> held;
  for (int i = 0; i < 2; ++i) {
    held.push_back(std::make_unique<RawConnection>(sluice.port("admin")));
    ASSERT_TRUE(held.back()->send(request));
    auto r = held.back()->read_response();
    ASSERT_TRUE(r);
    ASSERT_EQ(r->status, 200);
  }
  RawConnection third(sluice.port("admin"));
  ASSERT_TRUE(third.connected());
  auto refused = third.read_response(false, 10'000);
  ASSERT_TRUE(refused) << "the third connection is answered at once, not left waiting";
  EXPECT_EQ(refused->status, 503) << refused->body;
  EXPECT_TRUE(third.wait_closed(10'000));
  EXPECT_TRUE(sluice.process().wait_for_line("max_connections")) << sluice.process().output();

  // A held one still works; once one closes, a new connection is served.
  ASSERT_TRUE(held[0]->send(request));
  auto again = held[0]->read_response();
  ASSERT_TRUE(again);
  EXPECT_EQ(again->status, 200);
  held.pop_back();
  int status = 0;
  for (int tries = 0; tries < 200 && status != 200; ++tries) {
    RawConnection c(sluice.port("admin"));
    c.send(request);
    auto r = c.read_response(false, 10'000);
    status = r ? r->status : 0;
  }
  EXPECT_EQ(status, 200) << "the closed connection's place is free again";
}

TEST(AdminSecurity, SlowClientsGet408AndHoldUpNoOtherAdminClient) {
  SluiceInstance sluice(greeting_config("v1", ", request_timeout: 1s"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const std::string host = "Host: " + admin_host(sluice) + "\r\n";
  // One stops in the middle of its head, one in the middle of its body, one
  // sends a byte at a time: each stays under any per-read timeout, and
  // only a deadline for the whole request ends it.
  RawConnection half_head(sluice.port("admin"));
  ASSERT_TRUE(half_head.send("POST /config HTTP/1.1\r\nHo"));
  RawConnection half_body(sluice.port("admin"));
  ASSERT_TRUE(half_body.send("POST /config HTTP/1.1\r\n" + host +
                             "Content-Type: application/yaml\r\nContent-Length: 1000\r\n\r\n" +
                             "workers: 1\n"));
  // And one asks for many responses and reads none of them.
  RawConnection no_reader(sluice.port("admin"));
  const int small = 4096;
  ::setsockopt(no_reader.fd(), SOL_SOCKET, SO_RCVBUF, &small, sizeof small);
  std::string pipelined;
  for (int i = 0; i < 500; ++i)
    pipelined += "GET /debug/memory HTTP/1.1\r\n" + host + "\r\n";
  ASSERT_TRUE(no_reader.send(pipelined));

  auto other = admin_call(sluice, "GET", "/debug/memory");
  EXPECT_EQ(other.status, 200) << "another client is answered meanwhile";
  // One byte every 50 ms: 10 s for the whole request at most.
  RawConnection trickler(sluice.port("admin"));
  const std::string drip =
      "GET /debug/memory HTTP/1.1\r\n" + host + "X-Slow: " + std::string(200, 'a');
  std::optional<HttpResponse> trickled;
  for (std::size_t i = 0; i < drip.size() && trickler.send(drip.substr(i, 1)); ++i) {
    trickled = trickler.read_response(false, 50);
    if (trickled) break;
  }

  for (RawConnection* slowpoke : {&half_head, &half_body}) {
    auto r = slowpoke->read_response(false, 10'000);
    ASSERT_TRUE(r) << sluice.process().output();
    EXPECT_EQ(r->status, 408) << r->body;
    EXPECT_TRUE(slowpoke->wait_closed(10'000));
  }
  if (!trickled) trickled = trickler.read_response(false, 10'000);
  ASSERT_TRUE(trickled) << "a client sending a byte at a time is cut off too";
  EXPECT_EQ(trickled->status, 408);
  EXPECT_EQ(web_body(sluice), "v1");
  EXPECT_EQ(admin_call(sluice, "GET", "/debug/memory").status, 200);
}

TEST(AdminSecurity, ConcurrentPostConfigAndSighupLeaveOneWholeConfiguration) {
  SluiceInstance sluice(greeting_config("from-file"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  constexpr int kRounds = 10;
  std::vector<int> statuses;
  std::thread poster([&] {
    for (int i = 0; i < kRounds; ++i)
      statuses.push_back(post_config(sluice, greeting_config("from-post")).status);
  });
  for (int i = 0; i < kRounds; ++i) {
    ::kill(sluice.process().pid(), SIGHUP);
    ASSERT_TRUE(sluice.process().wait_for_count("reload: applied " + sluice.config_path(), i + 1))
        << sluice.process().output();
  }
  poster.join();
  for (int s : statuses)
    EXPECT_EQ(s, 200);
  ASSERT_TRUE(sluice.process().wait_for_count("reload: applied", 2 * kRounds))
      << sluice.process().output();
  EXPECT_TRUE(sluice.process().running());
  const std::string body = web_body(sluice);
  EXPECT_TRUE(body == "from-file" || body == "from-post") << body;
  auto memory = admin_call(sluice, "GET", "/debug/memory");
  EXPECT_EQ(memory.status, 200);
  EXPECT_NE(memory.body.find("\"generation\": " + std::to_string(1 + 2 * kRounds)),
            std::string::npos)
      << memory.body;
  EXPECT_NE(memory.body.find("\"snapshots_alive\": 1,"), std::string::npos) << memory.body;
}

}  // namespace
}  // namespace sluice::test

namespace sluice::test {
namespace {

// Server control changes state: with a token it needs the token, and a
// cross-site request cannot drain a server.
TEST(AdminSecurity, DrainingAServerNeedsTheTokenAndAnOwnOrigin) {
  TempDir secrets;
  const std::string token_file = secrets.write("admin.token", kToken);
  SluiceInstance sluice("workers: 1\nadmin: {listen: 127.0.0.1:0, token_file: " + token_file +
                        "}\n"
                        "listeners:\n  - name: web\n    listen: 127.0.0.1:0\n"
                        "routes:\n  - backend: app\n"
                        "backends:\n  app:\n    servers: [127.0.0.1:9]\n");
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const std::string path = "/backends/app/servers/127.0.0.1:9/state";
  EXPECT_EQ(admin_call(sluice, "POST", path, "", "drain").status, 401);
  EXPECT_EQ(
      admin_call(sluice, "POST", path, bearer(kToken) + "Origin: http://evil.example\r\n", "drain")
          .status,
      403);
  EXPECT_EQ(admin_call(sluice, "GET", "/backends").body.find("draining"), std::string::npos);
  auto right = admin_call(sluice, "POST", path, bearer(kToken), "drain");
  EXPECT_EQ(right.status, 200) << right.body;
  EXPECT_NE(admin_call(sluice, "GET", "/backends").body.find("\"draining\""), std::string::npos);
}

}  // namespace
}  // namespace sluice::test

namespace sluice::test {
namespace {

// Found beside the whole-proxy fuzzer's HEAD finding: the admin listener
// answered HEAD with a body, so the next answer on the connection was read
// from the middle of it; and its 405s named no allowed methods.
TEST(AdminSecurity, HeadGetsNoBodyAnd405NamesTheAllowedMethods) {
  SluiceInstance sluice(greeting_config("v1"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection c(sluice.port("admin"));
  const std::string host = "Host: " + admin_host(sluice) + "\r\n";
  ASSERT_TRUE(c.send("HEAD /debug/memory HTTP/1.1\r\n" + host + "\r\n"));
  auto head = c.read_response(true, 10'000);
  ASSERT_TRUE(head) << sluice.process().output();
  EXPECT_EQ(head->status, 200);
  EXPECT_NE(head->header("content-length").value_or("0"), "0");
  ASSERT_TRUE(c.send("GET /nowhere HTTP/1.1\r\n" + host + "\r\n"));
  auto next = c.read_response(false, 10'000);
  ASSERT_TRUE(next) << "the HEAD's body was sent after all";
  EXPECT_EQ(next->status, 404);
  EXPECT_EQ(admin_call(sluice, "DELETE", "/debug/memory").header("allow").value_or(""),
            "GET, HEAD");
  EXPECT_EQ(admin_call(sluice, "PUT", "/config").header("allow").value_or(""), "GET, HEAD, POST");
}

}  // namespace
}  // namespace sluice::test
