// A route's 'reproxy' block and 'internal' flag (issue 18): what loads,
// and each refused value with its file:line:col and reason.
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "config/loader.h"
#include "config/model.h"

namespace sluice::config {
namespace {

std::string dump(const LoadResult& r) {
  std::string s;
  for (const auto& d : r.diagnostics)
    s += d.to_string() + "\n";
  return s;
}

// A listener, a backend and one route 'app' with `route_lines` (indented
// by 4) added to it.
std::string with_route(std::string_view route_lines) {
  return "listeners: [{name: web, listen: '127.0.0.1:0'}]\n"
         "backends: {app: {servers: ['127.0.0.1:1']}}\n"
         "routes:\n  - name: app\n    backend: app\n" +
         std::string(route_lines);
}

// Exactly one error, at `line`:`column`, saying `message`.
void expect_error(const std::string& yaml, int line, int column, const std::string& message) {
  SCOPED_TRACE(yaml);
  const auto r = load_string(yaml, "f.yaml");
  EXPECT_FALSE(r.ok());
  std::vector<const Diagnostic*> errors;
  for (const auto& d : r.diagnostics)
    if (d.severity == Severity::error) errors.push_back(&d);
  ASSERT_EQ(errors.size(), 1u) << dump(r);
  EXPECT_EQ(errors[0]->message, message);
  EXPECT_EQ(errors[0]->line, line);
  EXPECT_EQ(errors[0]->column, column);
}

TEST(ReproxyConfig, EveryKeyLoads) {
  const auto r =
      load_string(with_route("    internal: true\n"
                             "    reproxy:\n"
                             "      urls: true\n"
                             "      accel_redirect: true\n"
                             "      check_size: false\n"
                             "      files: {root: /tmp}\n"
                             "      allow: ['http://127.0.0.1:8080/static/',\n"
                             "              'http://CDN.internal', 'http://[::1]:81/a']\n"),
                  "f.yaml");
  ASSERT_TRUE(r.ok()) << dump(r);
  const Route& route = r.config->routes[0];
  EXPECT_TRUE(route.internal);
  ASSERT_TRUE(route.reproxy);
  const Reproxy& rp = *route.reproxy;
  EXPECT_TRUE(rp.urls);
  EXPECT_TRUE(rp.accel_redirect);
  EXPECT_FALSE(rp.check_size);
  EXPECT_EQ(rp.files_root, "/tmp");
  ASSERT_EQ(rp.allow.size(), 3u);
  EXPECT_EQ(rp.allow[0].host, "127.0.0.1");
  EXPECT_EQ(rp.allow[0].port, 8080);
  EXPECT_EQ(rp.allow[0].path_prefix, "/static/");
  EXPECT_EQ(rp.allow[1].host, "cdn.internal");
  EXPECT_EQ(rp.allow[1].port, 80);
  EXPECT_EQ(rp.allow[1].path_prefix, "/");
  EXPECT_EQ(rp.allow[2].host, "::1");
  EXPECT_EQ(rp.allow[2].port, 81);
}

TEST(ReproxyConfig, WithoutTheBlockNothingIsFollowed) {
  const auto r = load_string(with_route(""), "f.yaml");
  ASSERT_TRUE(r.ok()) << dump(r);
  EXPECT_FALSE(r.config->routes[0].reproxy);
  EXPECT_FALSE(r.config->routes[0].internal);
}

TEST(ReproxyConfig, RefusedValuesNameTheirPlace) {
  expect_error(with_route("    reproxy: {urls: true, allow: ['http://127.0.0.1:*/static/']}\n"), 6,
               35,
               "route 'app': reproxy.allow: the port cannot be '*': name each allowed port (each "
               "gets a connection pool)");
  expect_error(
      with_route("    reproxy: {urls: true, allow: ['ftp://h/']}\n"), 6, 35,
      "route 'app': reproxy.allow: expected http://host[:port]/path-prefix, got 'ftp://h/'");
  expect_error(with_route("    reproxy: {urls: true, allow: ['https://h/']}\n"), 6, 35,
               "route 'app': reproxy.allow: https targets are not supported yet; use http:// (a "
               "backend on this network)");
  expect_error(with_route("    reproxy: {urls: true, allow: ['http://h/a/../b']}\n"), 6, 35,
               "route 'app': reproxy.allow: the path prefix must be a plain path (no '?', '#', '%' "
               "or dot segments) in 'http://h/a/../b'");
  expect_error(with_route("    reproxy: {urls: true}\n"), 6, 14,
               "route 'app': reproxy: 'urls: true' needs an 'allow' list of the targets sluice may "
               "fetch");
  expect_error(with_route("    reproxy: {files: {root: relative/dir}}\n"), 6, 29,
               "route 'app': reproxy.files.root: expected an absolute path, got 'relative/dir'");
  expect_error(with_route("    reproxy: {files: {root: /no/such/dir/here}}\n"), 6, 29,
               "route 'app': reproxy.files.root: '/no/such/dir/here' is not a directory");
  expect_error(with_route("    reproxy: {url: true}\n"), 6, 15,
               "route 'app': reproxy: unknown key 'url' (did you mean 'urls'?)");
  expect_error(
      "listeners: [{name: web, listen: '127.0.0.1:0'}]\n"
      "routes:\n  - name: r\n    respond: {status: 200}\n    reproxy: {accel_redirect: true}\n",
      5, 14, "route 'r': reproxy: only routes with a 'backend' can reproxy");
}

}  // namespace
}  // namespace sluice::config
