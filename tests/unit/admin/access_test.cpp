// Who may use the admin listener (admin/access.h): each case is the request
// a client sends, as bytes, and what it gets before its body is read.
#include "admin/access.h"

#include <gtest/gtest.h>

#include <array>
#include <string>
#include <vector>

#include "core/address.h"
#include "http/parser.h"

namespace sluice::admin {
namespace {

constexpr std::string_view kLocal = "127.0.0.1:9000";

// What the client notices: the status (0: let through to its endpoint),
// the challenge of a 401, and the reason the log gives.
struct Decision {
  int status = 0;
  std::string www_authenticate;
  std::string why;
};

Decision decide(const AdminPolicy& policy, const std::string& request,
                std::string_view local = kLocal) {
  std::array<http::HeaderField, 64> fields;
  http::RequestParser parser({8 * 1024, 16 * 1024, fields.size()}, fields);
  const http::ParseState state = parser.parse(request);
  if (state != http::ParseState::complete) {
    ADD_FAILURE() << "the test's request does not parse: " << parser.error().reason;
    return {};
  }
  const auto address = SocketAddress::parse_numeric(local);
  if (!address) {
    ADD_FAILURE() << "bad local address " << local;
    return {};
  }
  const auto refusal = check_access(policy, parser.head(), *address);
  if (!refusal) return {};
  Decision d{refusal->response.status, "", refusal->why};
  for (const auto& [name, value] : refusal->response.headers) {
    if (name == "WWW-Authenticate") d.www_authenticate = value;
  }
  return d;
}

std::string request(std::string_view line, std::string_view fields) {
  return std::string(line) + "\r\n" + std::string(fields) + "\r\n";
}

struct Case {
  const char* what;
  std::string request;
  int status;  // 0: allowed
};

void run(const AdminPolicy& policy, const std::vector<Case>& cases,
         std::string_view local = kLocal) {
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    EXPECT_EQ(decide(policy, c.request, local).status, c.status) << c.request;
  }
}

// 1. Host must name this listener: a DNS-rebound page says its own name.
TEST(AdminAccess, HostMustNameThisListenerAsTheClientReachedIt) {
  const AdminPolicy policy;
  run(policy,
      {
          {"own address and port", request("GET / HTTP/1.1", "Host: 127.0.0.1:9000\r\n"), 0},
          {"localhost", request("GET / HTTP/1.1", "Host: localhost:9000\r\n"), 0},
          {"localhost in capitals", request("GET / HTTP/1.1", "Host: LOCALHOST:9000\r\n"), 0},
          {"a trailing dot", request("GET / HTTP/1.1", "Host: localhost.:9000\r\n"), 0},
          {"no port means 80", request("GET / HTTP/1.1", "Host: localhost\r\n"), 421},
          {"another port", request("GET / HTTP/1.1", "Host: 127.0.0.1:9001\r\n"), 421},
          {"another loopback address", request("GET / HTTP/1.1", "Host: 127.0.0.2:9000\r\n"), 421},
          {"a rebound name", request("GET / HTTP/1.1", "Host: evil.example:9000\r\n"), 421},
          {"a name ending in localhost", request("GET / HTTP/1.1", "Host: evillocalhost:9000\r\n"),
           421},
          {"HTTP/1.0 without Host", request("GET / HTTP/1.0", ""), 0},
      });
}

TEST(AdminAccess, HostMayWriteAnIpv6ListenerInBracketsAndAMappedOneAsIpv4) {
  const AdminPolicy policy;
  run(policy,
      {
          {"bracketed ::1", request("GET / HTTP/1.1", "Host: [::1]:9000\r\n"), 0},
          {"bracketed ::1 without port", request("GET / HTTP/1.1", "Host: [::1]\r\n"), 421},
          {"IPv4 to an IPv6 listener", request("GET / HTTP/1.1", "Host: 127.0.0.1:9000\r\n"), 421},
      },
      "[::1]:9000");
  // A listener on [::] reached over IPv4 sees ::ffff:127.0.0.1 as its own
  // address; the client wrote 127.0.0.1.
  run(policy,
      {
          {"IPv4 form of a mapped address", request("GET / HTTP/1.1", "Host: 127.0.0.1:9000\r\n"),
           0},
          {"another IPv4 address", request("GET / HTTP/1.1", "Host: 127.0.0.2:9000\r\n"), 421},
      },
      "[::ffff:127.0.0.1]:9000");
}

TEST(AdminAccess, AdminNamesWithoutAPortMatchThisPortOrNoneAndWithAPortThatPortOnly) {
  AdminPolicy policy;
  policy.names = {"admin.internal", "ops.internal:8443"};
  run(policy,
      {
          {"name, no port", request("GET / HTTP/1.1", "Host: admin.internal\r\n"), 0},
          {"name, this port", request("GET / HTTP/1.1", "Host: admin.internal:9000\r\n"), 0},
          {"name in capitals", request("GET / HTTP/1.1", "Host: ADMIN.internal\r\n"), 0},
          {"name, another port", request("GET / HTTP/1.1", "Host: admin.internal:8080\r\n"), 421},
          {"name:port as listed", request("GET / HTTP/1.1", "Host: ops.internal:8443\r\n"), 0},
          {"name:port without its port", request("GET / HTTP/1.1", "Host: ops.internal\r\n"), 421},
          {"name:port on this port", request("GET / HTTP/1.1", "Host: ops.internal:9000\r\n"), 421},
          {"a name not listed", request("GET / HTTP/1.1", "Host: other.internal\r\n"), 421},
      });
}

// The log line quotes the attacker's Host, cut short.
TEST(AdminAccess, ARefusedHostIsQuotedShortInTheLog) {
  std::string host;  // 200 characters, in labels a Host may have
  for (int i = 0; i < 4; ++i)
    host += std::string(49, 'a') + ".";
  const Decision d = decide(AdminPolicy{}, request("GET / HTTP/1.1", "Host: " + host + "\r\n"));
  EXPECT_EQ(d.status, 421);
  EXPECT_NE(d.why.find(host.substr(0, 100) + "..."), std::string::npos) << d.why;
  EXPECT_EQ(d.why.find(host.substr(0, 101)), std::string::npos) << d.why;
}

// 2. Origin, when sent, must be this listener: else a cross-site request.
TEST(AdminAccess, OriginWhenSentMustBeThisListener) {
  const AdminPolicy policy;
  const auto with_origin = [](std::string_view origin) {
    return request("POST /config HTTP/1.1",
                   "Host: 127.0.0.1:9000\r\nOrigin: " + std::string(origin) + "\r\n");
  };
  run(policy, {
                  {"no Origin", request("POST /config HTTP/1.1", "Host: 127.0.0.1:9000\r\n"), 0},
                  {"own origin", with_origin("http://127.0.0.1:9000"), 0},
                  {"localhost", with_origin("http://localhost:9000"), 0},
                  {"scheme and host in capitals", with_origin("HTTP://LOCALHOST:9000"), 0},
                  {"https with this port", with_origin("https://127.0.0.1:9000"), 0},
                  {"http's default port", with_origin("http://127.0.0.1"), 403},
                  {"another site", with_origin("http://evil.example"), 403},
                  {"an opaque origin", with_origin("null"), 403},
                  {"another scheme", with_origin("ftp://127.0.0.1:9000"), 403},
                  {"a path after the port", with_origin("http://127.0.0.1:9000/x"), 403},
                  {"two Origin fields, both own",
                   request("POST /config HTTP/1.1",
                           "Host: 127.0.0.1:9000\r\nOrigin: http://127.0.0.1:9000\r\n"
                           "Origin: http://127.0.0.1:9000\r\n"),
                   403},
              });
}

// 3. The bearer token: for changes on loopback, for everything beyond it.
TEST(AdminAccess, OnLoopbackChangesNeedTheTokenAndReadsDoNot) {
  AdminPolicy policy;
  policy.token = "s3cret";
  const auto post = [](std::string_view authorization) {
    return request("POST /backends/b/servers/a/state HTTP/1.1",
                   "Host: 127.0.0.1:9000\r\n" + std::string(authorization));
  };
  run(policy,
      {
          {"GET without a token", request("GET / HTTP/1.1", "Host: 127.0.0.1:9000\r\n"), 0},
          {"HEAD without a token", request("HEAD / HTTP/1.1", "Host: 127.0.0.1:9000\r\n"), 0},
          {"POST without a token", post(""), 401},
          {"PUT without a token",
           request("PUT /backends/b/servers/a/state HTTP/1.1", "Host: 127.0.0.1:9000\r\n"), 401},
          {"DELETE without a token", request("DELETE /config HTTP/1.1", "Host: 127.0.0.1:9000\r\n"),
           401},
          {"POST with the token", post("Authorization: Bearer s3cret\r\n"), 0},
          {"scheme in any case", post("authorization: bEaReR s3cret\r\n"), 0},
          {"more spaces before it", post("Authorization: Bearer   s3cret\r\n"), 0},
          {"a prefix of it", post("Authorization: Bearer s3cre\r\n"), 401},
          {"longer than it", post("Authorization: Bearer s3crets\r\n"), 401},
          {"its case changed", post("Authorization: Bearer S3CRET\r\n"), 401},
          {"another scheme", post("Authorization: Basic s3cret\r\n"), 401},
          {"the scheme alone", post("Authorization: Bearer\r\n"), 401},
          {"the token alone", post("Authorization: s3cret\r\n"), 401},
          {"twice", post("Authorization: Bearer s3cret\r\nAuthorization: Bearer s3cret\r\n"), 401},
      });
}

TEST(AdminAccess, A401ChallengesForTheTokenAndSaysWhenTheOneSentIsWrong) {
  AdminPolicy policy;
  policy.token = "s3cret";
  const Decision none =
      decide(policy, request("POST /config HTTP/1.1", "Host: 127.0.0.1:9000\r\n"));
  EXPECT_EQ(none.status, 401);
  EXPECT_EQ(none.www_authenticate, "Bearer realm=\"sluice admin\"");
  EXPECT_EQ(none.why, "no bearer token");
  const Decision wrong = decide(
      policy,
      request("POST /config HTTP/1.1", "Host: 127.0.0.1:9000\r\nAuthorization: Bearer nope\r\n"));
  EXPECT_EQ(wrong.status, 401);
  EXPECT_EQ(wrong.www_authenticate, "Bearer realm=\"sluice admin\", error=\"invalid_token\"");
  EXPECT_EQ(wrong.why, "wrong bearer token");
}

TEST(AdminAccess, BeyondLoopbackEveryRequestNeedsTheToken) {
  AdminPolicy policy;
  policy.loopback = false;
  policy.token = "s3cret";
  run(policy,
      {
          {"GET without a token", request("GET / HTTP/1.1", "Host: 10.0.0.1:9000\r\n"), 401},
          {"HEAD without a token", request("HEAD / HTTP/1.1", "Host: 10.0.0.1:9000\r\n"), 401},
          {"GET with it",
           request("GET / HTTP/1.1", "Host: 10.0.0.1:9000\r\nAuthorization: Bearer s3cret\r\n"), 0},
      },
      "10.0.0.1:9000");
  // The loader refuses this configuration; the listener stays shut anyway.
  policy.token.clear();
  run(policy, {{"no token configured", request("GET / HTTP/1.1", "Host: 10.0.0.1:9000\r\n"), 403}},
      "10.0.0.1:9000");
}

TEST(AdminAccess, OnLoopbackWithoutATokenChangesAreAllowed) {
  run(AdminPolicy{},
      {{"POST /config", request("POST /config HTTP/1.1", "Host: 127.0.0.1:9000\r\n"), 0}});
}

// 4. POST /config says YAML or JSON, or nothing: a browser sends the form
// types and text/plain cross-site without asking first.
TEST(AdminAccess, PostConfigMustSayYamlOrJsonOrNothing) {
  const AdminPolicy policy;
  const auto typed = [](std::string_view target, std::string_view type) {
    return request("POST " + std::string(target) + " HTTP/1.1",
                   "Host: 127.0.0.1:9000\r\nContent-Type: " + std::string(type) + "\r\n");
  };
  run(policy,
      {
          {"application/yaml", typed("/config", "application/yaml"), 0},
          {"application/x-yaml", typed("/config", "application/x-yaml"), 0},
          {"text/yaml", typed("/config", "text/yaml"), 0},
          {"text/x-yaml", typed("/config", "text/x-yaml"), 0},
          {"json with a charset", typed("/config", "application/json; charset=utf-8"), 0},
          {"in capitals", typed("/config", "Application/YAML"), 0},
          {"space before a parameter", typed("/config", "text/yaml ; x=y"), 0},
          {"text/plain", typed("/config", "text/plain"), 415},
          {"a form", typed("/config", "application/x-www-form-urlencoded"), 415},
          {"a multipart form", typed("/config", "multipart/form-data; boundary=x"), 415},
          {"yaml as a prefix", typed("/config", "application/yamlx"), 415},
          {"with a query", typed("/config?dry=1", "text/plain"), 415},
          {"twice",
           request("POST /config HTTP/1.1",
                   "Host: 127.0.0.1:9000\r\nContent-Type: application/yaml\r\n"
                   "Content-Type: application/yaml\r\n"),
           415},
          {"another path", typed("/backends/b/servers/a/state", "text/plain"), 0},
          {"PUT /config (its endpoint answers 405)",
           request("PUT /config HTTP/1.1", "Host: 127.0.0.1:9000\r\nContent-Type: text/plain\r\n"),
           0},
      });
}

// 5. A declared length over admin.max_body is refused before it is read.
TEST(AdminAccess, AContentLengthOverMaxBodyIsRefusedWith413) {
  AdminPolicy policy;
  policy.max_body = 10;
  const auto sized = [](std::string_view framing) {
    return request("POST /config HTTP/1.1",
                   "Host: 127.0.0.1:9000\r\n" + std::string(framing) + "\r\n");
  };
  run(policy, {
                  {"at the limit", sized("Content-Length: 10"), 0},
                  {"one over", sized("Content-Length: 11"), 413},
                  {"a gigabyte", sized("Content-Length: 1000000000"), 413},
                  {"chunked (counted as it arrives)", sized("Transfer-Encoding: chunked"), 0},
              });
  EXPECT_EQ(decide(policy, sized("Content-Length: 11")).why,
            "Content-Length 11 over admin.max_body 10");
}

// The checks run in order: the first that fails answers.
TEST(AdminAccess, TheFirstFailingCheckAnswers) {
  AdminPolicy policy;
  policy.token = "s3cret";
  policy.max_body = 1;
  run(policy,
      {
          {"foreign Host before all",
           request("POST /config HTTP/1.1",
                   "Host: evil.example\r\nOrigin: http://evil.example\r\n"
                   "Content-Type: text/plain\r\nContent-Length: 5\r\n"),
           421},
          {"foreign Origin before the token",
           request("POST /config HTTP/1.1",
                   "Host: 127.0.0.1:9000\r\nOrigin: http://evil.example\r\n"
                   "Content-Type: text/plain\r\nContent-Length: 5\r\n"),
           403},
          {"the token before the type",
           request("POST /config HTTP/1.1",
                   "Host: 127.0.0.1:9000\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n"),
           401},
          {"the type before the length",
           request("POST /config HTTP/1.1",
                   "Host: 127.0.0.1:9000\r\nAuthorization: Bearer s3cret\r\n"
                   "Content-Type: text/plain\r\nContent-Length: 5\r\n"),
           415},
      });
}

TEST(AdminAccess, TokensAreEqualOnlyWhenEveryByteAndTheLengthMatch) {
  EXPECT_TRUE(tokens_equal("s3cret", "s3cret"));
  EXPECT_FALSE(tokens_equal("x3cret", "s3cret"));
  EXPECT_FALSE(tokens_equal("s3crex", "s3cret"));
  EXPECT_FALSE(tokens_equal("s3cre", "s3cret"));
  EXPECT_FALSE(tokens_equal(std::string_view("s3cret\0", 7), "s3cret"));
  EXPECT_FALSE(tokens_equal("", "s3cret"));
}

}  // namespace
}  // namespace sluice::admin
