// The 'access_log' blocks: the defaults, every key accepted and what it
// loads as, a listener's override, and every rejected value with its
// file:line:col and, for a misspelt variable, the one meant.
#include <gtest/gtest.h>

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

#include "config/loader.h"
#include "config/model.h"
#include "config_test_support.h"
#include "support/temp_dir.h"

namespace sluice::config {
namespace {

using testing::dump;
using testing::position_of;

std::string with_access_log(std::string_view block, std::string_view listener_extra = "") {
  return "listeners:\n  - {name: web, listen: '127.0.0.1:0'" + std::string(listener_extra) +
         "}\nroutes: [{respond: {status: 200}}]\naccess_log: " + std::string(block) + "\n";
}

LoadResult ok(const std::string& yaml, const std::string& base_dir = "/etc/sluice") {
  auto r = load_string(yaml, "f.yaml", base_dir);
  EXPECT_TRUE(r.ok()) << dump(r);
  return r;
}

// Exactly one error, at the start of `at` in `yaml`, saying `message`.
void expect_error(const std::string& yaml, std::string_view at, const std::string& message) {
  SCOPED_TRACE(yaml);
  const SourceLocation want = position_of(yaml, at);
  ASSERT_NE(want.line, 0) << "'" << at << "' is not in the text";
  const auto r = load_string(yaml, "f.yaml", "/etc/sluice");
  EXPECT_FALSE(r.ok());
  const auto e = testing::errors(r);
  ASSERT_EQ(e.size(), 1u) << dump(r);
  EXPECT_EQ(e[0]->message, message) << dump(r);
  EXPECT_EQ(e[0]->line, want.line) << dump(r);
  EXPECT_EQ(e[0]->column, want.column) << dump(r);
}

TEST(AccessLogConfig, AnEmptyBlockLogsEveryRequestAsJsonToStdout) {
  for (std::string_view block : {"{}", "true"}) {
    const auto r = ok(with_access_log(block));
    ASSERT_TRUE(r.config->access_log.has_value());
    const AccessLogSettings& s = *r.config->access_log;
    EXPECT_EQ(s.path, "stdout");
    EXPECT_TRUE(s.json);
    EXPECT_EQ(s.sample, 1.0);
    EXPECT_EQ(s.errors, AccessLogErrors::always);
  }
}

TEST(AccessLogConfig, WithoutABlockThereIsNoAccessLog) {
  const auto r = ok("listeners: [{name: web, listen: '127.0.0.1:0'}]\n");
  EXPECT_FALSE(r.config->access_log.has_value());
  EXPECT_FALSE(access_log_of(*r.config, r.config->listeners[0]).has_value());
  EXPECT_FALSE(ok(with_access_log("false")).config->access_log.has_value());
}

TEST(AccessLogConfig, TheOlderLogAccessTrueMeansTheDefaults) {
  const auto r = ok("listeners: [{name: web, listen: '127.0.0.1:0'}]\nlog: {access: true}\n");
  ASSERT_TRUE(r.config->access_log.has_value());
  EXPECT_EQ(r.config->access_log->path, "stdout");
}

TEST(AccessLogConfig, EveryKeyLoads) {
  test::TempDir dir;
  std::filesystem::create_directory(dir.path() / "logs");
  const auto r =
      ok(with_access_log("{path: logs/access.log, format: '${client_ip} \"${method} ${path}\" "
                         "${status} $$', sample: 0.25, errors: sampled}"),
         dir.path().string());
  ASSERT_TRUE(r.config);
  const AccessLogSettings& s = *r.config->access_log;
  EXPECT_EQ(s.path, (dir.path() / "logs/access.log").string());  // beside the configuration
  EXPECT_FALSE(s.json);
  ASSERT_EQ(s.pieces.size(), 8u);
  EXPECT_EQ(s.pieces[0].field, AccessLogField::client_ip);
  EXPECT_EQ(s.pieces[1].literal, " \"");
  EXPECT_EQ(s.pieces[2].field, AccessLogField::method);
  EXPECT_EQ(s.pieces[4].field, AccessLogField::path);
  EXPECT_EQ(s.pieces[5].literal, "\" ");
  EXPECT_EQ(s.pieces[6].field, AccessLogField::status);
  EXPECT_EQ(s.pieces[7].literal, " $");
  EXPECT_EQ(s.sample, 0.25);
  EXPECT_EQ(s.errors, AccessLogErrors::sampled);
}

TEST(AccessLogConfig, SampleTakesAShareOrAPercentage) {
  EXPECT_EQ(ok(with_access_log("{sample: 10%}")).config->access_log->sample, 0.1);
  EXPECT_EQ(ok(with_access_log("{sample: 0}")).config->access_log->sample, 0.0);
  EXPECT_EQ(ok(with_access_log("{sample: 1}")).config->access_log->sample, 1.0);
  EXPECT_EQ(ok(with_access_log("{sample: 0.001}")).config->access_log->sample, 0.001);
}

TEST(AccessLogConfig, TextIsTheUsualFieldsAndStderrAndStdoutAreStreams) {
  const auto r = ok(with_access_log("{format: text, path: stderr}"));
  const AccessLogSettings& s = *r.config->access_log;
  EXPECT_FALSE(s.json);
  EXPECT_EQ(s.path, "stderr");
  ASSERT_FALSE(s.pieces.empty());
  EXPECT_EQ(s.pieces.front().field, AccessLogField::time);
}

TEST(AccessLogConfig, AListenerTurnsItOffOrReplacesSomeKeys) {
  const std::string yaml =
      "listeners:\n"
      "  - {name: web, listen: '127.0.0.1:0'}\n"
      "  - {name: quiet, listen: '127.0.0.1:0', access_log: false}\n"
      "  - {name: api, listen: '127.0.0.1:0', access_log: {format: '${status}', sample: 0.5}}\n"
      "  - {name: raw, listen: '127.0.0.1:0', protocol: tcp, backend: b}\n"
      "backends: {b: {servers: [{address: '127.0.0.1:1'}]}}\n"
      "access_log: {path: /tmp/a.log, errors: sampled}\n";
  const auto r = ok(yaml);
  const Config& c = *r.config;
  const auto web = access_log_of(c, c.listeners[0]);
  ASSERT_TRUE(web.has_value());
  EXPECT_TRUE(web->json);
  EXPECT_FALSE(access_log_of(c, c.listeners[1]).has_value());
  const auto api = access_log_of(c, c.listeners[2]);
  ASSERT_TRUE(api.has_value());
  EXPECT_EQ(api->path, "/tmp/a.log");  // the top level's
  EXPECT_FALSE(api->json);
  EXPECT_EQ(api->sample, 0.5);
  EXPECT_EQ(api->errors, AccessLogErrors::sampled);            // the top level's
  EXPECT_FALSE(access_log_of(c, c.listeners[3]).has_value());  // tcp: no requests
}

TEST(AccessLogConfig, AListenerBlockAloneTurnsItOnThereOnly) {
  const std::string yaml =
      "listeners:\n"
      "  - {name: web, listen: '127.0.0.1:0'}\n"
      "  - {name: api, listen: '127.0.0.1:0', access_log: {path: stderr}}\n";
  const auto r = ok(yaml);
  EXPECT_FALSE(access_log_of(*r.config, r.config->listeners[0]).has_value());
  const auto api = access_log_of(*r.config, r.config->listeners[1]);
  ASSERT_TRUE(api.has_value());
  EXPECT_EQ(api->path, "stderr");
  EXPECT_TRUE(api->json);
}

TEST(AccessLogConfig, AnAccessLogOnATcpListenerIsIgnoredWithAWarning) {
  const std::string yaml =
      "listeners:\n"
      "  - {name: raw, listen: '127.0.0.1:0', protocol: tcp, backend: b, access_log: false}\n"
      "backends: {b: {servers: [{address: '127.0.0.1:1'}]}}\n";
  const auto r = ok(yaml);
  ASSERT_EQ(r.diagnostics.size(), 1u) << dump(r);
  EXPECT_EQ(r.diagnostics[0].message, "listener 'raw': access_log: ignored on a tcp listener");
}

TEST(AccessLogConfig, AMisspeltVariableIsRefusedWithTheOneMeant) {
  const std::string yaml = with_access_log("{format: '${method} ${stauts}'}");
  expect_error(yaml, "'${method}",
               "access_log.format: unknown variable '${stauts}' (did you mean '${status}'?)");
  expect_error(with_access_log("{format: '${nothing_like_it}'}"), "'${",
               "access_log.format: unknown variable '${nothing_like_it}'");
}

TEST(AccessLogConfig, AListenerFormatIsCheckedToo) {
  const std::string yaml = with_access_log("{}", ", access_log: {format: '${clientip}'}");
  expect_error(yaml, "'${clientip}'",
               "listener 'web': access_log.format: unknown variable '${clientip}' (did you mean "
               "'${client_ip}'?)");
}

TEST(AccessLogConfig, RejectedValuesNameWhereAndWhy) {
  expect_error(with_access_log("{format: 'GET $path'}"), "'GET",
               "access_log.format: a '$' must start a variable such as '${status}'; write '$$' "
               "for a '$'");
  expect_error(with_access_log("{format: '${path'}"), "'${path",
               "access_log.format: unclosed '${'");
  expect_error(with_access_log("{format: jsn}"), "jsn",
               "access_log.format: expected json, text or a format string with variables such "
               "as '${method} ${path} ${status}', got 'jsn' (did you mean 'json'?)");
  for (std::string_view bad : {"1.5", "-0.1", "abc", "150%", "'%'", "nan"}) {
    const std::string yaml = with_access_log("{sample: " + std::string(bad) + "}");
    expect_error(yaml, std::string(bad) + "}",
                 "access_log.sample: expected a share of requests from 0 to 1 (0.1) or a "
                 "percentage (10%), got '" +
                     std::string(bad == "'%'" ? "%" : bad) + "'");
  }
  expect_error(with_access_log("{errors: sometimes}"), "sometimes",
               "access_log.errors: expected always or sampled, got 'sometimes'");
  expect_error(with_access_log("{path: /no/such/dir/access.log}"), "/no/such",
               "access_log.path: the directory '/no/such/dir/' does not exist (sluice creates "
               "the file, not its directory)");
  expect_error(with_access_log("{path: ''}"), "''", "access_log.path: must not be empty");
  expect_error(with_access_log("/var/log/access.log"), "/var",
               "access_log: expected a map of settings (path, format, sample, errors), true or "
               "false, got '/var/log/access.log' (a file is written {path: FILE})");
  expect_error(with_access_log("[stdout]"), "[stdout]",
               "access_log: expected a map of settings, got a list");
}

TEST(AccessLogConfig, AMisspeltKeyIsRefusedWithTheOneMeant) {
  const auto r = load_string(with_access_log("{smaple: 0.1}"), "f.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_NE(dump(r).find("did you mean 'sample'"), std::string::npos) << dump(r);
}

}  // namespace
}  // namespace sluice::config
