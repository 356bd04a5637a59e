#include "fleet/key_layout.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <map>
#include <string>

#include "config/loader.h"
#include "config/model.h"

namespace sluice::fleet {
namespace {

constexpr std::string_view kPrefix = "/sluice/";

// Every diagnostic of a load, one a line.
std::string dump(const config::LoadResult& r) {
  std::string s;
  for (const auto& d : r.diagnostics)
    s += d.to_string() + "\n";
  return s;
}

std::string errors_of(const ComposedConfig& c) {
  std::string s;
  for (const auto& e : c.errors)
    s += e + "\n";
  return s;
}

std::map<std::string, std::string> as_map(const SplitConfig& s) {
  return {s.keys.begin(), s.keys.end()};
}

// Loads the composed document as the provider does, with every message
// passed through locate().
std::string located_errors(const ComposedConfig& c) {
  const auto r = config::load_string(c.text, kComposedOrigin);
  std::string s;
  for (const auto& d : r.diagnostics)
    s += c.locate(d.to_string()) + "\n";
  return s;
}

// Line and column of `needle` in `text`, 1-based, as a diagnostic names them.
std::string position_of(std::string_view text, std::string_view needle) {
  const auto at = text.find(needle);
  EXPECT_NE(at, std::string_view::npos) << needle;
  std::size_t line = 1;
  std::size_t column = 1;
  for (std::size_t i = 0; i < at; ++i) {
    if (text[i] == '\n') {
      ++line;
      column = 1;
    } else {
      ++column;
    }
  }
  return std::to_string(line) + ":" + std::to_string(column);
}

constexpr const char* kFile = R"(# the whole site
workers: 2
listeners:
  - name: web
    listen: 127.0.0.1:8080
routes:
  # the API first
  - name: api
    match: {path: /api}   # prefix
    backend: app

  - match:
      path_exact: /hello
    respond:
      status: 200
      body: |
        hello
        # not a comment: body text
  # a comment before the next route
  - name: legacy
    redirect: {host: example.com}
backends:
  app:
    servers:
      - address: 127.0.0.1:9000
middlewares:
  gzip:
    compress: {}
log:
  level: debug
provider: {etcd: {endpoints: [http://127.0.0.1:2379]}}
)";

TEST(SplitConfig, EveryItemIsOneKeyAndProviderStaysLocal) {
  const SplitConfig s = split_config(kFile, "site.yaml", kPrefix);
  ASSERT_TRUE(s.errors.empty()) << s.errors.front();
  std::vector<std::string> keys;
  for (const auto& [k, v] : s.keys)
    keys.push_back(k);
  EXPECT_EQ(keys, (std::vector<std::string>{"/sluice/settings/workers", "/sluice/listeners/web",
                                            "/sluice/routes/api", "/sluice/routes/route-0002",
                                            "/sluice/routes/legacy", "/sluice/backends/app",
                                            "/sluice/middlewares/gzip", "/sluice/settings/log"}));
}

TEST(SplitConfig, ValuesKeepTheUsersTextDedented) {
  const auto keys = as_map(split_config(kFile, "site.yaml", kPrefix));
  EXPECT_EQ(keys.at("/sluice/routes/api"),
            "name: api\nmatch: {path: /api}   # prefix\nbackend: app\n");
  // The block scalar's '#' line is body text and stays; the comment before
  // the next route is not part of this one.
  EXPECT_EQ(keys.at("/sluice/routes/route-0002"),
            "match:\n  path_exact: /hello\nrespond:\n  status: 200\n  body: |\n    hello\n"
            "    # not a comment: body text\n");
  EXPECT_EQ(keys.at("/sluice/backends/app"), "servers:\n  - address: 127.0.0.1:9000\n");
  EXPECT_EQ(keys.at("/sluice/settings/workers"), "2\n");
  EXPECT_EQ(keys.at("/sluice/settings/log"), "level: debug\n");
}

TEST(SplitConfig, FlowStyleAndAliasesBecomeRenderedValuesWithTheSameMeaning) {
  const std::string file =
      "listeners: [{name: web, listen: '127.0.0.1:8080'}, {name: b, listen: '127.0.0.1:8081'}]\n"
      "backends:\n"
      "  one: &servers\n"
      "    servers: [{address: '127.0.0.1:9000'}]\n"
      "  two: *servers\n";
  const SplitConfig s = split_config(file, "f.yaml", kPrefix);
  ASSERT_TRUE(s.errors.empty()) << s.errors.front();
  const auto keys = as_map(s);
  const YAML::Node original = YAML::Load(file);
  for (const auto& [key, node] : std::vector<std::pair<std::string, YAML::Node>>{
           {"/sluice/listeners/web", original["listeners"][0]},
           {"/sluice/listeners/b", original["listeners"][1]},
           {"/sluice/backends/two", original["backends"]["two"]}}) {
    const YAML::Node value = YAML::Load(keys.at(key));
    EXPECT_EQ(YAML::Dump(value), YAML::Dump(node)) << key;
  }
  EXPECT_EQ(keys.at("/sluice/backends/two").find('*'), std::string::npos);
}

TEST(SplitConfig, UnnamedRoutesArePaddedSoKeyOrderIsFileOrder) {
  std::string file = "routes:\n";
  for (int i = 0; i < 10'001; ++i)
    file += "  - respond: {status: 204}\n";
  const SplitConfig s = split_config(file, "f.yaml", kPrefix);
  ASSERT_EQ(s.keys.size(), 10'001u);
  EXPECT_EQ(s.keys[0].first, "/sluice/routes/route-00001");
  EXPECT_EQ(s.keys[9'999].first, "/sluice/routes/route-10000");
  EXPECT_LT(s.keys[8].first, s.keys[9].first);  // route-00009 < route-00010
}

TEST(SplitConfig, ErrorsNameTheFilePosition) {
  EXPECT_EQ(
      split_config("listeners:\n  - name: [x\n", "f.yaml", kPrefix).errors.at(0).substr(0, 13),
      "f.yaml:3:1: e");
  const SplitConfig s = split_config("listeners:\n  - listen: 127.0.0.1:1\n", "f.yaml", kPrefix);
  ASSERT_EQ(s.errors.size(), 1u);
  EXPECT_EQ(s.errors[0],
            "f.yaml:2:5: error: listeners 1: has no name; in etcd each one is a key named by its "
            "name");
  const SplitConfig twice = split_config(
      "routes:\n  - {name: route-0002, respond: {status: 204}}\n  - respond: {status: 204}\n",
      "f.yaml", kPrefix);
  ASSERT_EQ(twice.errors.size(), 1u);
  EXPECT_EQ(twice.errors[0],
            "f.yaml:3:5: error: key '/sluice/routes/route-0002' would be written twice");
}

TEST(ComposeConfig, SplitThenComposedLoadsAsTheSameConfiguration) {
  const std::string file = std::string(kFile).substr(0, std::string(kFile).find("provider:"));
  const auto direct = config::load_string(file, "site.yaml");
  ASSERT_TRUE(direct.ok()) << dump(direct);
  const ComposedConfig c =
      compose_config(as_map(split_config(file, "site.yaml", kPrefix)), kPrefix, "", "site.yaml");
  ASSERT_TRUE(c.errors.empty()) << errors_of(c);
  const auto composed = config::load_string(c.text, kComposedOrigin);
  ASSERT_TRUE(composed.ok()) << dump(composed) << c.text;
  EXPECT_EQ(config::summary(*composed.config), config::summary(*direct.config));
  EXPECT_EQ(composed.config->workers, 2);
  EXPECT_EQ(composed.config->log.level, config::LogLevel::debug);
  // Routes come in key order; the unnamed one is named by its key.
  std::vector<std::string> names;
  for (const auto& r : composed.config->routes)
    names.push_back(r.name);
  EXPECT_EQ(names, (std::vector<std::string>{"api", "legacy", "route-0002"}));
  EXPECT_EQ(composed.config->routes[2].respond->body, "hello\n# not a comment: body text\n");
}

constexpr const char* kLocalFile = R"(listeners:
  - name: web
    listen: 127.0.0.1:8080
backends:
  app:
    servers: [{address: 127.0.0.1:9000}]
)";

TEST(ComposeConfig, ALoaderMessageAboutAValueNamesTheKeyAndTheValuesOwnPosition) {
  const std::string value = "name: api\nmatch:\n  path: nope\nbackend: app\n";
  const ComposedConfig c =
      compose_config({{"/sluice/generation", "7"}, {"/sluice/routes/api", value}}, kPrefix,
                     kLocalFile, "local.yaml");
  ASSERT_TRUE(c.errors.empty()) << errors_of(c);
  const std::string errors = located_errors(c);
  EXPECT_NE(errors.find("/sluice/routes/api:" + position_of(value, "nope") + ": error: "),
            std::string::npos)
      << errors << c.text;
  EXPECT_EQ(errors.find("<etcd>"), std::string::npos) << errors;
}

TEST(ComposeConfig, AMessageAboutTheFileNamesTheFileAsLoadingItAloneWould) {
  const std::string file = std::string(kLocalFile) + "log:\n  level: loud\n";
  const auto alone = config::load_string(file + "routes: [{backend: app}]\n", "local.yaml");
  ASSERT_FALSE(alone.ok());
  const ComposedConfig c =
      compose_config({{"/sluice/routes/a", "backend: app\n"}}, kPrefix, file, "local.yaml");
  ASSERT_TRUE(c.errors.empty()) << errors_of(c);
  EXPECT_EQ(located_errors(c), dump(alone));
}

TEST(ComposeConfig, AnUnnamedRouteIsNamedByItsKeyAndItsLinesStayItsOwn) {
  const std::string value = "match: {path: /x}\nbackend: nowhere\n";
  const ComposedConfig c =
      compose_config({{"/sluice/routes/x", value}}, kPrefix, kLocalFile, "local.yaml");
  ASSERT_TRUE(c.errors.empty()) << errors_of(c);
  const std::string errors = located_errors(c);
  EXPECT_NE(errors.find("/sluice/routes/x:" + position_of(value, "nowhere") +
                        ": error: route 'x' refers to backend 'nowhere'"),
            std::string::npos)
      << errors << c.text;
}

TEST(ComposeConfig, AnUnknownSettingNamesItsKey) {
  const ComposedConfig c = compose_config({{"/sluice/settings/lgo", "level: info\n"}}, kPrefix,
                                          kLocalFile, "local.yaml");
  ASSERT_TRUE(c.errors.empty()) << errors_of(c);
  const std::string errors = located_errors(c);
  EXPECT_EQ(errors.rfind("/sluice/settings/lgo:0:0: error: configuration: unknown key 'lgo'", 0),
            0u)
      << errors;
}

TEST(ComposeConfig, ASectionFromBothTheFileAndEtcdIsAnErrorNamingTheKey) {
  const ComposedConfig c =
      compose_config({{"/sluice/backends/other", "servers: [{address: 127.0.0.1:1}]\n"}}, kPrefix,
                     kLocalFile, "local.yaml");
  ASSERT_EQ(c.errors.size(), 1u);
  EXPECT_EQ(c.errors[0],
            "/sluice/backends/other:0:0: error: 'backends' is in local.yaml too: a top-level "
            "section comes from the file or from etcd, not both");
}

TEST(ComposeConfig, KeysOutsideTheLayoutBrokenValuesAndMismatchedNamesAreErrors) {
  const ComposedConfig c =
      compose_config({{"/sluice/generation", "3"},
                      {"/sluice/certificates/site", "-----BEGIN CERTIFICATE-----\n"},
                      {"/sluice/route/api", "backend: app\n"},
                      {"/sluice/routes/bad", "match: {path: /x\nbackend: app\n"},
                      {"/sluice/routes/b", "name: c\nbackend: app\n"},
                      {"/sluice/settings/provider", "{}\n"}},
                     kPrefix, kLocalFile, "local.yaml");
  const std::string errors = errors_of(c);
  EXPECT_NE(errors.find("/sluice/route/api:0:0: error: not a key of the layout"), std::string::npos)
      << errors;
  EXPECT_NE(errors.find("/sluice/routes/bad:2:8: error: invalid YAML"), std::string::npos)
      << errors;
  EXPECT_NE(errors.find("/sluice/routes/b:1:7: error: the route is named 'c', but its key says "
                        "'b'"),
            std::string::npos)
      << errors;
  EXPECT_NE(errors.find("/sluice/settings/provider:0:0: error: the provider is configured in "
                        "the local file only"),
            std::string::npos)
      << errors;
  EXPECT_EQ(c.errors.size(), 4u) << errors;
}

// A value is pasted into the composed document indented; a document
// marker or directive in it would mean something else there than alone
// (and YAML::Load alone drops what follows a second "---"): refused.
TEST(ComposeConfig, AValueWithADocumentMarkerOrDirectiveIsRefusedNamingTheLine) {
  const ComposedConfig c = compose_config(
      {{"/sluice/generation", "3"},
       {"/sluice/routes/a", "backend: app\n---\nlisteners: [{name: x, listen: ':1'}]\n"},
       {"/sluice/routes/b", "backend: app\n...\n"},
       {"/sluice/routes/c", "%YAML 1.2\nbackend: app\n"},
       {"/sluice/routes/d", "backend: app\nx: '---'\n"}},
      kPrefix, kLocalFile, "local.yaml");
  const std::string errors = errors_of(c);
  EXPECT_NE(errors.find("/sluice/routes/a:2:1: error: a value is one YAML document"),
            std::string::npos)
      << errors;
  EXPECT_NE(errors.find("/sluice/routes/b:2:1: error"), std::string::npos) << errors;
  EXPECT_NE(errors.find("/sluice/routes/c:1:1: error"), std::string::npos) << errors;
  EXPECT_EQ(errors.find("/sluice/routes/d"), std::string::npos) << errors;  // "---" quoted is text
  EXPECT_EQ(c.errors.size(), 3u) << errors;
}

TEST(ComposedConfigLocate, LeavesOtherMessagesAloneAndMapsEveryMention) {
  const ComposedConfig c =
      compose_config({{"/sluice/routes/a", "backend: app\n"}}, kPrefix, kLocalFile, "local.yaml");
  EXPECT_EQ(c.locate("nothing to see"), "nothing to see");
  EXPECT_EQ(c.locate("<etcd>:0:0: error: the file is empty"),
            "<etcd>:0:0: error: the file is empty");
  EXPECT_EQ(c.locate("<etcd>:2:5: x; <etcd>:9:9: y; <etcd>:999:1: z"),
            "local.yaml:2:5: x; /sluice/routes/a:1:5: y; <etcd>:999:1: z");
}

}  // namespace
}  // namespace sluice::fleet
