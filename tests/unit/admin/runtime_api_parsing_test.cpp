// The runtime API's requests, decided from the method, target and body
// alone (issue 19): a server's weight, GET /config and GET
// /routes/explain's query.
#include <gtest/gtest.h>

#include <string>
#include <variant>
#include <vector>

#include "admin/endpoints.h"
#include "admin/route_explain.h"
#include "admin/runtime_weight.h"

namespace sluice::admin {
namespace {

std::string allow_of(const AdminResponse& r) {
  for (const auto& [name, value] : r.headers) {
    if (name == "Allow") return value;
  }
  return "";
}

TEST(RuntimeApiRouting, WeightConfigAndExplainPathsReachTheirEndpoints) {
  const std::string weight = "/backends/api/servers/10.0.0.1:80/weight";
  EXPECT_EQ(std::get<Endpoint>(route("PUT", weight)), Endpoint::weight);
  EXPECT_EQ(std::get<Endpoint>(route("POST", weight + "?x")), Endpoint::weight);
  EXPECT_EQ(std::get<Endpoint>(route("POST", "/backends/a/servers/x/weight/state")),
            Endpoint::server_state)
      << "a server named x/weight";
  EXPECT_EQ(std::get<Endpoint>(route("GET", "/config")), Endpoint::config_text);
  EXPECT_EQ(std::get<Endpoint>(route("GET", "/routes/explain?host=a&path=/")), Endpoint::explain);
  EXPECT_EQ(std::get<Endpoint>(route("HEAD", "/routes/explain")), Endpoint::explain);

  const auto get_weight = std::get<AdminResponse>(route("GET", weight));
  EXPECT_EQ(get_weight.status, 405);
  EXPECT_EQ(allow_of(get_weight), "PUT, POST");
  EXPECT_EQ(allow_of(std::get<AdminResponse>(route("POST", "/routes/explain"))), "GET, HEAD");
  EXPECT_EQ(std::get<AdminResponse>(route("PUT", "/backends/api/servers/weight")).status, 404);
  EXPECT_EQ(std::get<AdminResponse>(route("PUT", "/backends/api/servers/a/reweight")).status, 404);
  EXPECT_EQ(std::get<AdminResponse>(route("GET", "/routes/explain/")).status, 404);
}

TEST(WeightRequest, TheBodyIsAnIntegerFrom0To256) {
  const std::vector<std::pair<std::string, int>> accepted = {
      {"0", 0}, {"1", 1}, {"256", 256}, {" 7\n", 7}, {"\r\n\t 42 \r\n", 42}, {"007", 7}};
  for (const auto& [body, weight] : accepted) {
    SCOPED_TRACE(body);
    EXPECT_EQ(parse_weight(body), weight);
  }
  for (const std::string& body :
       std::vector<std::string>{"", " ", "257", "1000", "-1", "-0", "+1", "1.5", "1e2", "0x10",
                                "ten", "1 2", "50%", "{\"weight\": 3}", std::string("3\0", 2)}) {
    SCOPED_TRACE(body);
    EXPECT_FALSE(parse_weight(body).has_value());
  }
}

TEST(WeightRequest, NamesAreDecodedAndABadBodyIs400) {
  const auto ok = parse_weight_change("/backends/team%2Fapi/servers/%5B::1%5D:80/weight", "5");
  ASSERT_TRUE(std::holds_alternative<WeightChange>(ok)) << std::get<AdminResponse>(ok).body;
  EXPECT_EQ(std::get<WeightChange>(ok).where.backend, "team/api");
  EXPECT_EQ(std::get<WeightChange>(ok).where.server, "[::1]:80");
  EXPECT_EQ(std::get<WeightChange>(ok).weight, 5);

  const auto bad_body = parse_weight_change("/backends/a/servers/s/weight", "heavy");
  ASSERT_TRUE(std::holds_alternative<AdminResponse>(bad_body));
  EXPECT_EQ(std::get<AdminResponse>(bad_body).status, 400);
  EXPECT_EQ(std::get<AdminResponse>(bad_body).body,
            "the body must be a weight: an integer from 0 (no new requests) to 256\n");
  const auto bad_path = parse_weight_change("/backends/a%0A/servers/s/weight", "3");
  ASSERT_TRUE(std::holds_alternative<AdminResponse>(bad_path));
  EXPECT_EQ(std::get<AdminResponse>(bad_path).status, 400);
}

ExplainQuery parsed(const std::string& target) {
  auto q = parse_explain_query(target);
  EXPECT_TRUE(std::holds_alternative<ExplainQuery>(q)) << std::get<AdminResponse>(q).body;
  return std::holds_alternative<ExplainQuery>(q) ? std::get<ExplainQuery>(q) : ExplainQuery{};
}

TEST(ExplainQuery, ParametersAreFormDecoded) {
  const ExplainQuery q = parsed(
      "/routes/explain?host=API.example.com:8080&path=%2Fa%2520b%3Fx%3D1&method=POST"
      "&listener=web&h.X-Env=canary+blue&h.Cookie=a%3D1&limit=5");
  EXPECT_EQ(q.host, "API.example.com:8080");
  EXPECT_EQ(q.target, "/a%20b?x=1");
  EXPECT_EQ(q.method, "POST");
  EXPECT_EQ(q.listener, "web");
  ASSERT_EQ(q.fields.size(), 2u);
  EXPECT_EQ(q.fields[0], (std::pair<std::string, std::string>{"X-Env", "canary blue"}));
  EXPECT_EQ(q.fields[1], (std::pair<std::string, std::string>{"Cookie", "a=1"}));
  EXPECT_EQ(q.limit, 5u);

  const ExplainQuery defaults = parsed("/routes/explain?path=/&host=a");
  EXPECT_EQ(defaults.method, "GET");
  EXPECT_EQ(defaults.listener, "");
  EXPECT_EQ(defaults.limit, 20u);
  EXPECT_TRUE(defaults.fields.empty());
}

TEST(ExplainQuery, MissingMalformedAndHostileParametersAre400) {
  const std::vector<std::string> refused = {
      "/routes/explain",
      "/routes/explain?host=a",
      "/routes/explain?path=/",
      "/routes/explain?host=a&path=/&host=b",
      "/routes/explain?host=a&path=/&colour=red",
      "/routes/explain?host=a&path=relative",
      "/routes/explain?host=a&path=/a%20b",      // a raw space in the target
      "/routes/explain?host=a&path=/a%00",       // a NUL
      "/routes/explain?host=a&path=/%C3%A9",     // non-ASCII: a client %-escapes it
      "/routes/explain?host=a&path=/%zz",        // a malformed escape in the query
      "/routes/explain?host=a&path=/%",          // a '%' at the end
      "/routes/explain?host=a%0d%0aX:1&path=/",  // CR LF in the host
      "/routes/explain?host=a/b&path=/",         // not an authority
      "/routes/explain?host=user@a&path=/",      // userinfo
      "/routes/explain?host=a&path=/&method=GE%20T",
      "/routes/explain?host=a&path=/&method=",
      "/routes/explain?host=a&path=/&h.X%20Y=1",  // not a field name
      "/routes/explain?host=a&path=/&h.X=a%0Ab",  // a line feed in a value
      "/routes/explain?host=a&path=/&limit=101",
      "/routes/explain?host=a&path=/&limit=-1",
      "/routes/explain?host=a&path=/&limit=5x",
  };
  for (const auto& target : refused) {
    SCOPED_TRACE(target);
    const auto q = parse_explain_query(target);
    ASSERT_TRUE(std::holds_alternative<AdminResponse>(q));
    const AdminResponse& r = std::get<AdminResponse>(q);
    EXPECT_EQ(r.status, 400);
    for (const char c : r.body) {
      EXPECT_TRUE(c == '\n' || (c >= 0x20 && c < 0x7f)) << "a byte echoed raw: " << int(c);
    }
  }
  // A path the normaliser will refuse is a valid question (its answer is
  // the 400 a client gets), as is an escaped slash or a dot segment.
  EXPECT_EQ(parsed("/routes/explain?host=a&path=/a/%252e%252e/%252e%252e/x").target,
            "/a/%2e%2e/%2e%2e/x");
  EXPECT_EQ(parsed("/routes/explain?host=a&path=/a%252Fb").target, "/a%2Fb");
}

}  // namespace
}  // namespace sluice::admin
