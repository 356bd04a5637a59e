// The 'access' middleware against the real binary (issue 18): allow and
// deny networks judged on the peer, the PROXY header's address or a trusted
// proxy's X-Forwarded-For (never a client's own); basic auth from htpasswd
// files made by `htpasswd -B` and `openssl passwd -6`, with weak schemes
// refused at load; a body limit answered 413 before the body and while it
// streams; the same over HTTP/2 (curl), and as a listener's default.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "sluice_instance.h"
#include "support/process.h"
#include "support/temp_dir.h"
#include "support/test_backend.h"

namespace sluice::test {
namespace {

// A config with one http listener 'web' (`listener_extra`: its further
// lines, indented by 4), `middlewares` (indented by 2) and `routes` (list
// items indented by 2), every backend route going to `backend`.
std::string config(const TestBackend& backend, const std::string& middlewares,
                   const std::string& routes, const std::string& listener_extra = "",
                   const std::string& listen = "127.0.0.1:0") {
  return "workers: 1\n"
         "listeners:\n"
         "  - name: web\n"
         "    listen: '" +
         listen + "'\n" + listener_extra + "middlewares:\n" + middlewares + "routes:\n" + routes +
         "backends:\n"
         "  app:\n"
         "    servers: [" +
         backend.address() + "]\n";
}

// One request on a fresh connection from `source` (a loopback address).
std::optional<HttpResponse> request(std::uint16_t port, const std::string& head,
                                    const char* source = nullptr) {
  RawConnection c(port, "127.0.0.1", source);
  if (!c.connected() || !c.send(head)) return std::nullopt;
  return c.read_response();
}

std::optional<HttpResponse> get(std::uint16_t port, const std::string& path,
                                const char* source = nullptr, const std::string& fields = "") {
  return request(port, "GET " + path + " HTTP/1.1\r\nHost: t\r\n" + fields + "\r\n", source);
}

int status(const std::optional<HttpResponse>& r) {
  return r ? r->status : -1;
}

// Base64 (RFC 4648), written here rather than taken from sluice, so the
// test does not check the code with itself.
std::string base64(const std::string& in) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  std::size_t i = 0;
  for (; i + 2 < in.size(); i += 3) {
    const unsigned v = (static_cast<unsigned char>(in[i]) << 16) |
                       (static_cast<unsigned char>(in[i + 1]) << 8) |
                       static_cast<unsigned char>(in[i + 2]);
    for (int s = 18; s >= 0; s -= 6)
      out.push_back(kAlphabet[(v >> s) & 63]);
  }
  if (i + 1 == in.size()) {
    const unsigned v = static_cast<unsigned char>(in[i]) << 16;
    out += {kAlphabet[(v >> 18) & 63], kAlphabet[(v >> 12) & 63], '=', '='};
  } else if (i + 2 == in.size()) {
    const unsigned v =
        (static_cast<unsigned char>(in[i]) << 16) | (static_cast<unsigned char>(in[i + 1]) << 8);
    out += {kAlphabet[(v >> 18) & 63], kAlphabet[(v >> 12) & 63], kAlphabet[(v >> 6) & 63], '='};
  }
  return out;
}

std::string authorization(const std::string& user, const std::string& password) {
  return "Authorization: Basic " + base64(user + ":" + password) + "\r\n";
}

// A request through `sluice` reached the backend: it answered 200 with the
// echo's marker of the method.
bool passed(const std::optional<HttpResponse>& r) {
  return r && r->status == 200 && r->header("x-method").has_value();
}

// True where [::1] can be bound (a container may have no IPv6 at all).
bool has_ipv6_loopback() {
  const int fd = ::socket(AF_INET6, SOCK_STREAM, 0);
  if (fd < 0) return false;
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_addr = in6addr_loopback;
  const bool ok = ::bind(fd, reinterpret_cast<const sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

// ------------------------------------------------------------ networks

TEST(Access, DenyWinsAndAllowShutsOutEveryoneElse) {
  TestBackend backend(TestBackend::echo());
  SluiceInstance sluice(config(backend,
                               "  no_loopback: {access: {deny: [127.0.0.0/8]}}\n"
                               "  only_two: {access: {allow: [127.0.0.2, 10.0.0.0/8]}}\n"
                               "  two_but_denied: {access: {allow: [127.0.0.0/8], deny: "
                               "[127.0.0.2]}}\n",
                               "  - match: {path: /deny/}\n"
                               "    middlewares: [no_loopback]\n"
                               "    backend: app\n"
                               "  - match: {path: /allow/}\n"
                               "    middlewares: [only_two]\n"
                               "    backend: app\n"
                               "  - match: {path: /both/}\n"
                               "    middlewares: [two_but_denied]\n"
                               "    backend: app\n"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const std::uint16_t p = sluice.port("web");
  const auto denied = get(p, "/deny/x");
  ASSERT_EQ(status(denied), 403);
  EXPECT_EQ(denied->body, "forbidden\n");
  EXPECT_EQ(status(get(p, "/allow/x")), 403);
  EXPECT_TRUE(passed(get(p, "/allow/x", "127.0.0.2")));
  EXPECT_TRUE(passed(get(p, "/both/x")));
  EXPECT_EQ(status(get(p, "/both/x", "127.0.0.2")), 403);
  // Only the requests let through reached the backend.
  EXPECT_EQ(backend.requests().size(), 2u);
}

TEST(Access, IPv6ClientsAreJudgedByIPv6Networks) {
  if (!has_ipv6_loopback()) GTEST_SKIP() << "no IPv6 loopback here";
  TestBackend backend(TestBackend::echo());
  SluiceInstance sluice(config(backend,
                               "  no_v6_loopback: {access: {deny: ['::1']}}\n"
                               "  v6_only: {access: {allow: ['::/0']}}\n",
                               "  - match: {path: /deny/}\n"
                               "    middlewares: [no_v6_loopback]\n"
                               "    backend: app\n"
                               "  - match: {path: /allow/}\n"
                               "    middlewares: [v6_only]\n"
                               "    backend: app\n",
                               "", "[::1]:0"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  auto code = [&](const std::string& path) {
    const auto r = run_command({"curl", "-s", "-g", "-o", "/dev/null", "-w", "%{http_code}",
                                "http://[::1]:" + std::to_string(sluice.port("web")) + path});
    return r.output;
  };
  EXPECT_EQ(code("/deny/x"), "403");
  EXPECT_EQ(code("/allow/x"), "200");
}

// A client writes X-Forwarded-For as it likes: only a trusted proxy's
// word counts, and only for the entry that proxy appended.
TEST(Access, ForwardedForCountsOnlyFromATrustedProxy) {
  TestBackend backend(TestBackend::echo());
  SluiceInstance sluice(config(backend,
                               "  partners: {access: {allow: [198.51.100.0/24], "
                               "trusted_proxies: [127.0.0.2]}}\n",
                               "  - middlewares: [partners]\n"
                               "    backend: app\n"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const std::uint16_t p = sluice.port("web");
  const std::string partner = "X-Forwarded-For: 198.51.100.7\r\n";
  // From an untrusted peer, the field is the client's own claim.
  EXPECT_EQ(status(get(p, "/", "127.0.0.1", partner)), 403);
  EXPECT_TRUE(passed(get(p, "/", "127.0.0.2", partner)));
  // The proxy appended the real client after what the client wrote.
  EXPECT_EQ(status(get(p, "/", "127.0.0.2", "X-Forwarded-For: 198.51.100.7, 203.0.113.9\r\n")),
            403);
  // Hops that are trusted proxies are walked past.
  EXPECT_TRUE(passed(get(p, "/", "127.0.0.2", "X-Forwarded-For: 198.51.100.7, 127.0.0.2\r\n")));
  // A trusted proxy that cannot say who the client is: refused.
  EXPECT_EQ(status(get(p, "/", "127.0.0.2", "X-Forwarded-For: unknown\r\n")), 403);
  EXPECT_EQ(backend.requests().size(), 2u);
}

TEST(Access, TheProxyProtocolAddressIsTheClient) {
  TestBackend backend(TestBackend::echo());
  SluiceInstance sluice(config(backend, "  gate: {access: {deny: [203.0.113.0/24, 127.0.0.1]}}\n",
                               "  - middlewares: [gate]\n"
                               "    backend: app\n",
                               "    proxy_protocol: true\n"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const std::uint16_t p = sluice.port("web");
  const std::string get_head = "GET / HTTP/1.1\r\nHost: t\r\n\r\n";
  // The peer (127.0.0.1) is denied; the address the PROXY header gives is
  // what counts.
  EXPECT_TRUE(passed(request(p, "PROXY TCP4 198.51.100.9 127.0.0.1 5555 80\r\n" + get_head)));
  EXPECT_EQ(status(request(p, "PROXY TCP4 203.0.113.7 127.0.0.1 5555 80\r\n" + get_head)), 403);
}

// A listener's middlewares apply to its routes that name none, whatever
// their kind.
TEST(Access, AListenerDefaultGuardsARespondRoute) {
  TestBackend backend(TestBackend::echo());
  SluiceInstance sluice(config(backend, "  gate: {access: {allow: [127.0.0.2]}}\n",
                               "  - respond: {status: 200, body: \"hello\\n\"}\n",
                               "    middlewares: [gate]\n"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const std::uint16_t p = sluice.port("web");
  EXPECT_EQ(status(get(p, "/")), 403);
  const auto ok = get(p, "/", "127.0.0.2");
  ASSERT_EQ(status(ok), 200);
  EXPECT_EQ(ok->body, "hello\n");
}

// ------------------------------------------------------------ basic auth

class AccessBasicAuth : public ::testing::Test {
 protected:
  void SetUp() override {
    // Cost 5 keeps the test quick; the scheme is what matters.
    const auto alice = run_command({"htpasswd", "-nbB", "-C", "5", "alice", "open sesame"});
    ASSERT_EQ(alice.exit_code, 0) << alice.output;
    const auto bob = run_command({"openssl", "passwd", "-6", "hunter2"});
    ASSERT_EQ(bob.exit_code, 0) << bob.output;
    std::string users = alice.output.substr(0, alice.output.find('\n')) + "\n";
    users += "bob:" + bob.output.substr(0, bob.output.find('\n')) + "\n";
    htpasswd_ = files_.write("users.htpasswd", users);
  }
  std::string middlewares() const {
    return "  staff: {access: {basic_auth: {htpasswd: '" + htpasswd_ +
           "', realm: Staff only}}}\n"
           "  staff_stripped: {access: {basic_auth: {htpasswd: '" +
           htpasswd_ + "', strip_authorization: true}}}\n";
  }
  static std::string routes() {
    return "  - match: {path: /keep/}\n"
           "    middlewares: [staff]\n"
           "    backend: app\n"
           "  - match: {path: /strip/}\n"
           "    middlewares: [staff_stripped]\n"
           "    backend: app\n";
  }

  TempDir files_;
  std::string htpasswd_;
};

TEST_F(AccessBasicAuth, RightPasswordsPassWrongOnesGet401WithAChallenge) {
  TestBackend backend(TestBackend::echo());
  SluiceInstance sluice(config(backend, middlewares(), routes()));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const std::uint16_t p = sluice.port("web");
  EXPECT_TRUE(passed(get(p, "/keep/a", nullptr, authorization("alice", "open sesame"))));
  EXPECT_TRUE(passed(get(p, "/keep/b", nullptr, authorization("bob", "hunter2"))));
  for (const std::string& fields :
       {std::string(), authorization("alice", "open sesam"), authorization("bob", "open sesame"),
        authorization("mallory", "hunter2"), std::string("Authorization: Bearer abc\r\n")}) {
    SCOPED_TRACE(fields);
    const auto r = get(p, "/keep/c", nullptr, fields);
    ASSERT_EQ(status(r), 401);
    EXPECT_EQ(r->header("www-authenticate"), "Basic realm=\"Staff only\", charset=\"UTF-8\"");
    EXPECT_EQ(r->body, "authentication required\n");
  }
  const auto seen = backend.requests();
  ASSERT_EQ(seen.size(), 2u);
  // Without strip_authorization the backend sees the credentials.
  EXPECT_EQ(seen[0].header("authorization"), "Basic " + base64("alice:open sesame"));
}

// A bcrypt check costs its CPU time by design (cost 12: a quarter of a
// second): it runs off the worker's loop. With one worker busy checking
// wrong passwords, a request on a route without auth is answered before
// those checks are done; on the loop it would have waited behind them all.
TEST(AccessSlowHashes, PasswordChecksDoNotHoldUpTheWorker) {
  TempDir files;
  const auto slow = run_command({"htpasswd", "-nbB", "-C", "12", "alice", "open sesame"});
  ASSERT_EQ(slow.exit_code, 0) << slow.output;
  const std::string path = files.write("slow.htpasswd", slow.output);
  TestBackend backend(TestBackend::echo());
  SluiceInstance sluice(config(backend,
                               "  staff: {access: {basic_auth: {htpasswd: '" + path + "'}}}\n",
                               "  - match: {path: /locked/}\n"
                               "    middlewares: [staff]\n"
                               "    backend: app\n"
                               "  - match: {path: /open}\n"
                               "    respond: {status: 200, body: \"open\\n\"}\n"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const std::uint16_t p = sluice.port("web");
  constexpr int kGuesses = 4;
  std::vector<std::unique_ptr<RawConnection>> guesses;
  for (int i = 0; i < kGuesses; ++i) {
    guesses.push_back(std::make_unique<RawConnection>(p));
    ASSERT_TRUE(guesses.back()->send("GET /locked/x HTTP/1.1\r\nHost: t\r\n" +
                                     authorization("alice", "guess " + std::to_string(i)) +
                                     "\r\n"));
  }
  const auto open = get(p, "/open");
  ASSERT_EQ(status(open), 200);
  // The open route was answered first: at least the last guess is still
  // being checked (each takes a quarter of a second, one after another).
  int already_answered = 0;
  for (auto& g : guesses) {
    char byte = 0;
    already_answered += ::recv(g->fd(), &byte, 1, MSG_PEEK | MSG_DONTWAIT) == 1 ? 1 : 0;
  }
  EXPECT_LT(already_answered, kGuesses);
  for (auto& g : guesses) {
    const auto r = g->read_response(false, 30'000);
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 401);
  }
}

TEST_F(AccessBasicAuth, StripAuthorizationKeepsCredentialsFromTheBackend) {
  TestBackend backend(TestBackend::echo());
  SluiceInstance sluice(config(backend, middlewares(), routes()));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const auto r = get(sluice.port("web"), "/strip/a", nullptr, authorization("bob", "hunter2"));
  ASSERT_TRUE(passed(r));
  EXPECT_EQ(status(get(sluice.port("web"), "/strip/a")), 401);
  const auto seen = backend.requests();
  ASSERT_EQ(seen.size(), 1u);
  EXPECT_FALSE(seen[0].has("authorization"));
}

TEST_F(AccessBasicAuth, OverHttp2TheChallengeAndThePassAreTheSame) {
  TestBackend backend(TestBackend::echo());
  SluiceInstance sluice(config(backend, middlewares(), routes()));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const std::string url = "http://127.0.0.1:" + std::to_string(sluice.port("web")) + "/keep/h2";
  const auto refused = run_command({"curl", "-s", "--http2-prior-knowledge", "-D", "-", "-o",
                                    "/dev/null", "-u", "alice:no", url});
  EXPECT_NE(refused.output.find("HTTP/2 401"), std::string::npos) << refused.output;
  EXPECT_NE(refused.output.find("www-authenticate: Basic realm=\"Staff only\", charset=\"UTF-8\""),
            std::string::npos)
      << refused.output;
  const auto ok = run_command({"curl", "-s", "--http2-prior-knowledge", "-D", "-", "-o",
                               "/dev/null", "-u", "alice:open sesame", url});
  EXPECT_NE(ok.output.find("HTTP/2 200"), std::string::npos) << ok.output;
  EXPECT_EQ(backend.requests().size(), 1u);
}

// A weak hash in the file stops the configuration at load, naming the
// htpasswd key's place in the config and the line of the file.
TEST_F(AccessBasicAuth, AWeakSchemeIsRefusedAtLoadWithItsPlace) {
  const auto md5 = run_command({"htpasswd", "-nbm", "carol", "pw"});
  ASSERT_EQ(md5.exit_code, 0) << md5.output;
  const std::string users =
      files_.write("weak.htpasswd", "# staff\n" + md5.output.substr(0, md5.output.find('\n')));
  TempDir dir;
  const std::string yaml =
      "listeners: [{name: web, listen: '127.0.0.1:0'}]\n"
      "middlewares:\n"
      "  staff:\n"
      "    access:\n"
      "      basic_auth: {htpasswd: '" +
      users +
      "'}\n"
      "routes: [{respond: {status: 200}}]\n";
  const std::string path = dir.write("sluice.yaml", yaml);
  const int column = static_cast<int>(yaml.find("'" + users) - yaml.rfind('\n', yaml.find(users)));
  const std::string want = path + ":5:" + std::to_string(column) +
                           ": error: middleware 'staff': access.basic_auth.htpasswd: " + users +
                           " line 2: user 'carol' has an MD5 hash ($apr1$), which is not accepted";
  for (const char* command : {"check", "run"}) {
    const auto r = run_command({sluice_binary(), command, "-c", path}, std::chrono::seconds(20));
    EXPECT_NE(r.exit_code, 0) << command << ": " << r.output;
    EXPECT_NE(r.output.find(want), std::string::npos) << command << ": " << r.output;
  }
}

// ------------------------------------------------------------ body limit

TEST(Access, BodiesOverTheLimitGet413WithOrWithoutALength) {
  TestBackend backend(TestBackend::echo());
  SluiceInstance sluice(config(backend, "  small: {access: {max_body_size: 1KiB}}\n",
                               "  - middlewares: [small]\n"
                               "    backend: app\n"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const std::uint16_t p = sluice.port("web");
  const std::string big(1025, 'x');
  const std::string fits(1024, 'y');
  // Refused from the Content-Length, before the body is sent at all.
  const auto by_length =
      request(p, "POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: " + std::to_string(big.size()) +
                     "\r\n\r\n");
  ASSERT_EQ(status(by_length), 413);
  EXPECT_EQ(by_length->body, "request body too large\n");
  // Counted as it streams.
  EXPECT_EQ(status(request(p, "POST /up HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" +
                                  chunk_body(big, 300))),
            413);
  const auto ok = request(p, "POST /up HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n" +
                                 chunk_body(fits, 300));
  ASSERT_TRUE(passed(ok));
  EXPECT_EQ(ok->header("x-body-length"), "1024");
  const auto exact =
      request(p, "POST /up HTTP/1.1\r\nHost: t\r\nContent-Length: 1024\r\n\r\n" + fits);
  EXPECT_TRUE(passed(exact));
  // No request over the limit reached the backend whole.
  for (const auto& r : backend.requests())
    EXPECT_LE(r.body.size(), 1024u);
}

}  // namespace
}  // namespace sluice::test
