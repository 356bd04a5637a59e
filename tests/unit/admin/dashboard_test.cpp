// The dashboard's endpoints apart from the I/O (admin/dashboard.h,
// admin/route_list.h): which paths reach them, what a /routes query asks
// for, and the page's files with the fields that confine it.
#include <gtest/gtest.h>

#include <regex>
#include <string>
#include <variant>
#include <vector>

#include "admin/dashboard.h"
#include "admin/endpoints.h"
#include "admin/route_list.h"

namespace sluice::admin {
namespace {

std::string field(const AdminResponse& r, const std::string& name) {
  for (const auto& [n, v] : r.headers) {
    if (n == name) return v;
  }
  return "";
}

TEST(DashboardRouting, ThePageItsFilesStatusAndRoutesAreReadOnly) {
  struct Case {
    const char* method;
    const char* target;
    Endpoint endpoint;
  };
  for (const auto& c : std::vector<Case>{{"GET", "/", Endpoint::dashboard},
                                         {"GET", "/dashboard", Endpoint::dashboard},
                                         {"HEAD", "/dashboard", Endpoint::dashboard},
                                         {"GET", "/dashboard/dashboard.js", Endpoint::dashboard},
                                         {"GET", "/status", Endpoint::status},
                                         {"GET", "/routes", Endpoint::routes},
                                         {"GET", "/routes?search=a&limit=5", Endpoint::routes}}) {
    SCOPED_TRACE(std::string(c.method) + " " + c.target);
    const auto routed = route(c.method, c.target);
    ASSERT_TRUE(std::holds_alternative<Endpoint>(routed));
    EXPECT_EQ(std::get<Endpoint>(routed), c.endpoint);
  }
  for (const char* target : {"/", "/dashboard", "/status", "/routes"}) {
    SCOPED_TRACE(target);
    const auto routed = route("POST", target);
    ASSERT_TRUE(std::holds_alternative<AdminResponse>(routed));
    EXPECT_EQ(std::get<AdminResponse>(routed).status, 405);
    EXPECT_EQ(field(std::get<AdminResponse>(routed), "Allow"), "GET, HEAD");
  }
}

TEST(DashboardFiles, EachFileComesWithItsTypeAndAPolicyAllowingOnlyItsOwnOrigin) {
  for (const char* path : {"/", "/dashboard", "/dashboard/index.html"}) {
    SCOPED_TRACE(path);
    const AdminResponse page = dashboard_file(path);
    EXPECT_EQ(page.status, 200);
    EXPECT_EQ(page.content_type, "text/html; charset=utf-8");
    EXPECT_NE(field(page, "Content-Security-Policy").find("default-src 'self'"), std::string::npos);
    EXPECT_NE(field(page, "Content-Security-Policy").find("frame-ancestors 'none'"),
              std::string::npos);
    EXPECT_EQ(field(page, "X-Content-Type-Options"), "nosniff");
  }
  EXPECT_EQ(dashboard_file("/dashboard/dashboard.js").content_type,
            "text/javascript; charset=utf-8");
  EXPECT_EQ(dashboard_file("/dashboard/dashboard.css").content_type, "text/css; charset=utf-8");
  EXPECT_EQ(dashboard_file("/dashboard/nothing.js").status, 404);
  EXPECT_EQ(dashboard_file("/dashboard/").status, 404);
}

// Under default-src 'self' an inline script or style would be refused:
// the page loads its code from files, and every file it names is served.
TEST(DashboardFiles, ThePageHasNoInlineCodeAndNamesOnlyFilesThatExist) {
  const std::string html = dashboard_file("/dashboard").body;
  EXPECT_EQ(html.find("<style"), std::string::npos);
  EXPECT_EQ(html.find(" style="), std::string::npos);
  EXPECT_FALSE(std::regex_search(html, std::regex("\\son[a-z]+="))) << "an inline event handler";
  const std::regex script_tag("<script([^>]*)>([^<]*)</script>");
  int scripts = 0;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), script_tag);
       it != std::sregex_iterator(); ++it) {
    ++scripts;
    EXPECT_NE((*it)[1].str().find("src="), std::string::npos);
    EXPECT_EQ((*it)[2].str(), "");
  }
  EXPECT_EQ(scripts, 1);
  const std::regex reference("(?:src|href)=\"(/dashboard/[^\"]+)\"");
  int files = 0;
  for (auto it = std::sregex_iterator(html.begin(), html.end(), reference);
       it != std::sregex_iterator(); ++it) {
    ++files;
    EXPECT_EQ(dashboard_file((*it)[1].str()).status, 200) << (*it)[1].str();
  }
  EXPECT_EQ(files, 2);  // the script and the style sheet
}

TEST(RouteQuery, TakesSearchOffsetAndLimitDecodedAsAFormSendsThem) {
  const auto q = std::get<RouteQuery>(
      parse_route_query("/routes?search=api%2Fv1+h42&offset=20&limit=5&unknown=x"));
  EXPECT_EQ(q.search, "api/v1 h42");
  EXPECT_EQ(q.offset, 20u);
  EXPECT_EQ(q.limit, 5u);
  const auto defaults = std::get<RouteQuery>(parse_route_query("/routes"));
  EXPECT_EQ(defaults.search, "");
  EXPECT_EQ(defaults.offset, 0u);
  EXPECT_EQ(defaults.limit, RouteQuery::kDefaultLimit);
  EXPECT_EQ(std::get<RouteQuery>(parse_route_query("/routes?search=")).search, "");
}

TEST(RouteQuery, AMalformedQueryIs400) {
  for (const char* target :
       {"/routes?search=%zz", "/routes?search=%4", "/routes?limit=0", "/routes?limit=1001",
        "/routes?limit=ten", "/routes?offset=-1", "/routes?offset=", "/routes?limit=5x"}) {
    SCOPED_TRACE(target);
    const auto parsed = parse_route_query(target);
    ASSERT_TRUE(std::holds_alternative<AdminResponse>(parsed));
    EXPECT_EQ(std::get<AdminResponse>(parsed).status, 400);
  }
}

}  // namespace
}  // namespace sluice::admin
