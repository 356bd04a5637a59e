// Which admin endpoint a request reaches, and what a server state request
// asks for (admin/endpoints.h, admin/server_control.h): decided from the
// method, target and body alone, before any backend is looked at.
#include <gtest/gtest.h>

#include <string>
#include <variant>
#include <vector>

#include "admin/endpoints.h"
#include "admin/server_control.h"

namespace sluice::admin {
namespace {

using balance::AdminState;

std::string allow_of(const AdminResponse& r) {
  for (const auto& [name, value] : r.headers) {
    if (name == "Allow") return value;
  }
  return "";
}

struct RouteCase {
  const char* method;
  std::string target;
  int status;         // 0: reaches `endpoint`
  Endpoint endpoint;  // when status is 0
  const char* allow;  // the 405's Allow field
};

TEST(AdminRouting, EachPathReachesItsEndpointAndA405NamesTheMethodsItTakes) {
  constexpr auto kNone = Endpoint::memory;  // unused when status is not 0
  const std::vector<RouteCase> cases = {
      {"GET", "/debug/memory", 0, Endpoint::memory, ""},
      {"HEAD", "/debug/memory", 0, Endpoint::memory, ""},
      {"GET", "/debug/memory?pretty=1", 0, Endpoint::memory, ""},
      {"POST", "/debug/memory", 405, kNone, "GET, HEAD"},
      {"DELETE", "/debug/memory", 405, kNone, "GET, HEAD"},
      {"POST", "/config", 0, Endpoint::config, ""},
      {"POST", "/config?dry=1", 0, Endpoint::config, ""},
      {"GET", "/config", 0, Endpoint::config_text, ""},
      {"HEAD", "/config?format=json", 0, Endpoint::config_text, ""},
      {"PUT", "/config", 405, kNone, "GET, HEAD, POST"},
      {"GET", "/backends", 0, Endpoint::backends, ""},
      {"HEAD", "/backends", 0, Endpoint::backends, ""},
      {"POST", "/backends", 405, kNone, "GET, HEAD"},
      {"POST", "/backends/api/servers/10.0.0.1:80/state", 0, Endpoint::server_state, ""},
      {"PUT", "/backends/api/servers/10.0.0.1:80/state", 0, Endpoint::server_state, ""},
      {"POST", "/backends/api/servers/10.0.0.1:80/state?x", 0, Endpoint::server_state, ""},
      {"GET", "/backends/api/servers/10.0.0.1:80/state", 405, kNone, "POST, PUT"},
      {"DELETE", "/backends/api/servers/10.0.0.1:80/state", 405, kNone, "POST, PUT"},
      // Methods are case-sensitive (RFC 9110 §9.1).
      {"get", "/debug/memory", 405, kNone, "GET, HEAD"},
      {"post", "/config", 405, kNone, "GET, HEAD, POST"},
      // Paths match exactly: no trailing slash, no case folding, no
      // decoding of the fixed parts.
      {"GET", "/", 0, Endpoint::dashboard, ""},
      {"GET", "/debug/memory/", 404, kNone, ""},
      {"GET", "/DEBUG/MEMORY", 404, kNone, ""},
      {"POST", "/config/", 404, kNone, ""},
      {"GET", "/backends/", 404, kNone, ""},
      {"POST", "/backends/api", 404, kNone, ""},
      {"POST", "/backends/api/servers/a", 404, kNone, ""},
      {"POST", "/backends/api/servers/a/state/", 404, kNone, ""},
      {"POST", "/backends/api/%73ervers/a/state", 404, kNone, ""},
      {"POST", "/backends/api/servers/state", 404, kNone, ""},
      {"POST", "/backends/state", 404, kNone, ""},
      // Unknown paths are 404 whatever the method.
      {"DELETE", "/nothing", 404, kNone, ""},
      {"GET", "*", 404, kNone, ""},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(std::string(c.method) + " " + c.target);
    const auto routed = route(c.method, c.target);
    if (c.status == 0) {
      ASSERT_TRUE(std::holds_alternative<Endpoint>(routed)) << std::get<AdminResponse>(routed).body;
      EXPECT_EQ(std::get<Endpoint>(routed), c.endpoint);
      continue;
    }
    ASSERT_TRUE(std::holds_alternative<AdminResponse>(routed));
    const auto& r = std::get<AdminResponse>(routed);
    EXPECT_EQ(r.status, c.status);
    EXPECT_EQ(allow_of(r), c.allow);
  }
}

TEST(AdminRouting, A404PointsAtTheEndpointsThatExist) {
  const auto general = std::get<AdminResponse>(route("GET", "/nothing"));
  EXPECT_NE(general.body.find("GET /backends"), std::string::npos) << general.body;
  EXPECT_NE(general.body.find("POST /config"), std::string::npos) << general.body;
  const auto state = std::get<AdminResponse>(route("POST", "/backends/api"));
  EXPECT_NE(state.body.find("POST /backends/NAME/servers/ADDRESS/state"), std::string::npos)
      << state.body;
}

// A routed state path, the body, and what the request asks for: the
// backend and server names as they will be looked up, or the 400.
struct StateCase {
  const char* what;
  std::string target;
  std::string body;
  int status;  // 0: a change
  std::string backend;
  std::string server;
  AdminState state = AdminState::enabled;
};

TEST(ServerStateRequest, NamesAreTakenFromThePathPercentDecodedAndNothingElse) {
  const std::string long_name(4000, 'n');
  const std::vector<StateCase> cases = {
      {"plain", "/backends/api/servers/10.0.0.1:80/state", "drain", 0, "api", "10.0.0.1:80",
       AdminState::draining},
      {"a query is not part of the address", "/backends/api/servers/a:1/state?x=y", "enable", 0,
       "api", "a:1", AdminState::enabled},
      {"a slash in a name, escaped", "/backends/team%2Fapi/servers/a:1/state", "disable", 0,
       "team/api", "a:1", AdminState::disabled},
      {"escapes in any case", "/backends/%61%5a/servers/%5B::1%5d:80/state", "drain", 0, "aZ",
       "[::1]:80", AdminState::draining},
      {"an IPv6 server unescaped", "/backends/api/servers/[::1]:80/state", "drain", 0, "api",
       "[::1]:80", AdminState::draining},
      {"'+' is not a space", "/backends/a+b/servers/s/state", "drain", 0, "a+b", "s",
       AdminState::draining},
      {"'..' is a name like any other", "/backends/../servers/../state", "drain", 0, "..", "..",
       AdminState::draining},
      {"an escaped '..' too", "/backends/%2E%2E%2Fx/servers/s/state", "drain", 0, "../x", "s",
       AdminState::draining},
      {"an empty backend name", "/backends//servers/a:1/state", "drain", 0, "", "a:1",
       AdminState::draining},
      {"an empty server name", "/backends/api/servers//state", "drain", 0, "api", "",
       AdminState::draining},
      {"the first /servers/ ends the name", "/backends/a/servers/b/servers/c/state", "drain", 0,
       "a", "b/servers/c", AdminState::draining},
      {"a very long name", "/backends/" + long_name + "/servers/s/state", "drain", 0, long_name,
       "s", AdminState::draining},
      {"an escaped NUL", "/backends/a%00b/servers/s/state", "drain", 400, "", ""},
      {"an escaped line feed", "/backends/a/servers/s%0A/state", "drain", 400, "", ""},
      {"an escaped DEL", "/backends/a%7F/servers/s/state", "drain", 400, "", ""},
      {"a '%' at the end", "/backends/a%/servers/s/state", "drain", 400, "", ""},
      {"one hex digit", "/backends/a%4/servers/s/state", "drain", 400, "", ""},
      {"not hex", "/backends/a%zz/servers/s/state", "drain", 400, "", ""},
      {"an escaped '%' stays", "/backends/100%25/servers/s/state", "drain", 0, "100%", "s",
       AdminState::draining},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.what);
    const auto parsed = parse_state_change(c.target, c.body);
    if (c.status != 0) {
      ASSERT_TRUE(std::holds_alternative<AdminResponse>(parsed));
      EXPECT_EQ(std::get<AdminResponse>(parsed).status, c.status);
      EXPECT_EQ(std::get<AdminResponse>(parsed).body,
                "malformed %-escape or a control character in the path\n");
      continue;
    }
    ASSERT_TRUE(std::holds_alternative<StateChange>(parsed))
        << std::get<AdminResponse>(parsed).body;
    const auto& change = std::get<StateChange>(parsed);
    EXPECT_EQ(change.backend, c.backend);
    EXPECT_EQ(change.server, c.server);
    EXPECT_EQ(change.state, c.state);
  }
}

TEST(ServerStateRequest, TheBodyIsDrainDisableOrEnableWithWhiteSpaceAround) {
  const std::string target = "/backends/api/servers/a:1/state";
  const std::vector<std::pair<std::string, AdminState>> accepted = {
      {"drain", AdminState::draining},
      {"disable", AdminState::disabled},
      {"enable", AdminState::enabled},
      {"drain\n", AdminState::draining},
      {"\r\n\t disable \r\n", AdminState::disabled},
  };
  for (const auto& [body, state] : accepted) {
    SCOPED_TRACE(body);
    const auto parsed = parse_state_change(target, body);
    ASSERT_TRUE(std::holds_alternative<StateChange>(parsed));
    EXPECT_EQ(std::get<StateChange>(parsed).state, state);
  }
  for (const std::string& body : std::vector<std::string>{
           "", " \n", "DRAIN", "Drain", "drained", "draining", "drain enable", "dr ain", "up",
           "down", "{\"state\": \"drain\"}", "state=drain", std::string("drain\0", 6)}) {
    SCOPED_TRACE(body);
    const auto parsed = parse_state_change(target, body);
    ASSERT_TRUE(std::holds_alternative<AdminResponse>(parsed));
    EXPECT_EQ(std::get<AdminResponse>(parsed).status, 400);
    EXPECT_EQ(std::get<AdminResponse>(parsed).body,
              "the body must be one of: drain, disable, enable\n");
  }
}

// A bad escape is reported before a bad body: the path is read first.
TEST(ServerStateRequest, ABadPathIsReportedBeforeABadBody) {
  const auto parsed = parse_state_change("/backends/a%zz/servers/s/state", "nonsense");
  ASSERT_TRUE(std::holds_alternative<AdminResponse>(parsed));
  EXPECT_EQ(std::get<AdminResponse>(parsed).body,
            "malformed %-escape or a control character in the path\n");
}

}  // namespace
}  // namespace sluice::admin
