// The access log from a worker's call to the file: lines reach the file the
// configuration names; sampling keeps failed requests when told to; a
// listener turns it off or gets its own file and format; the files open
// again by name (logrotate); a new configuration moves lines to a new file
// without losing one; stopping writes what is left; a full ring drops and
// counts.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "config/loader.h"
#include "observe/access_log_writer.h"
#include "support/json_reader.h"
#include "support/temp_dir.h"

namespace sluice::observe {
namespace {

std::shared_ptr<const config::Config> load(const std::string& yaml) {
  auto r = config::load_string(yaml, "f.yaml", "/");
  for (const auto& d : r.diagnostics)
    ADD_FAILURE() << d.to_string();
  return r.config;
}

std::string config_with(const std::string& access_log, const std::string& listener_extra = "") {
  return "listeners:\n"
         "  - {name: web, listen: '127.0.0.1:0'}\n"
         "  - {name: api, listen: '127.0.0.1:0'" +
         listener_extra +
         "}\n"
         "routes: [{respond: {status: 200}}]\n"
         "access_log: " +
         access_log + "\n";
}

std::string read(const std::filesystem::path& p) {
  std::ifstream in(p);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);)
    out.push_back(line);
  return out;
}

RequestRecord record(std::string_view path, int status = 200, std::string_view listener = "web",
                     std::string_view termination = "--") {
  RequestRecord r;
  r.start_unix_us = 1'796'120'430'000'000ULL;
  r.listener = listener;
  r.method = "GET";
  r.target = path;
  r.status = status;
  r.termination = termination;
  return r;
}

// The "path" of each JSON line.
std::vector<std::string> paths_in(const std::string& text) {
  std::vector<std::string> out;
  for (const auto& line : lines_of(text)) {
    auto v = test::parse_json(line);
    EXPECT_TRUE(v.has_value()) << line;
    if (v && v->get("path")) out.push_back(v->get("path")->text);
  }
  return out;
}

struct Fixture {
  test::TempDir dir;
  std::string file = (dir.path() / "access.log").string();
  AccessLogWriter writer{1};
  std::shared_ptr<const AccessLogPolicy> policy;

  bool configure(const std::string& yaml) {
    auto config = load(yaml);
    if (!config) return false;
    std::string error;
    policy = writer.configure(*config, error);
    EXPECT_EQ(error, "");
    writer.worker(0).set_policy(policy);
    writer.retire_unused(policy.get());
    return true;
  }
  void log(const RequestRecord& r) { writer.worker(0).log(r); }
};

TEST(AccessLogWriter, LinesAreInTheFileOnceFlushReturns) {
  Fixture f;
  ASSERT_TRUE(f.configure(config_with("{path: " + f.file + "}")));
  for (const char* p : {"/a", "/b", "/c"})
    f.log(record(p));
  f.writer.flush();
  EXPECT_EQ(paths_in(read(f.file)), (std::vector<std::string>{"/a", "/b", "/c"}));
  EXPECT_EQ(f.writer.written(), 3u);
  EXPECT_EQ(f.writer.dropped(), 0u);
}

TEST(AccessLogWriter, NoAccessLogConfiguredMeansNoPolicy) {
  AccessLogWriter writer(1);
  auto config =
      load("listeners: [{name: web, listen: '127.0.0.1:0'}]\nroutes: [{respond: {status: 200}}]\n");
  ASSERT_TRUE(config);
  std::string error;
  EXPECT_EQ(writer.configure(*config, error), nullptr);
  EXPECT_EQ(error, "");
}

TEST(AccessLogWriter, SampleZeroStillWritesEveryFailedRequestWhenErrorsAreAlways) {
  Fixture f;
  ASSERT_TRUE(f.configure(config_with("{path: " + f.file + ", sample: 0, errors: always}")));
  f.log(record("/ok"));
  f.log(record("/server-error", 503));
  f.log(record("/no-answer", 0, "web", "SH"));
  f.log(record("/cut-short", 200, "web", "SD"));
  f.log(record("/not-found", 404, "web", "LR"));
  f.log(record("/redirect", 301, "web", "LR"));
  f.writer.flush();
  EXPECT_EQ(paths_in(read(f.file)),
            (std::vector<std::string>{"/server-error", "/no-answer", "/cut-short"}));
}

TEST(AccessLogWriter, SampleZeroWithErrorsSampledWritesNothing) {
  Fixture f;
  ASSERT_TRUE(f.configure(config_with("{path: " + f.file + ", sample: 0, errors: sampled}")));
  f.log(record("/server-error", 503));
  f.log(record("/ok"));
  f.writer.flush();
  EXPECT_EQ(read(f.file), "");
}

TEST(AccessLogWriter, ASampleWritesAboutThatShareOfRequests) {
  Fixture f;
  ASSERT_TRUE(f.configure(config_with("{path: " + f.file + ", sample: 10%}")));
  for (int i = 0; i < 20'000; ++i)
    f.log(record("/x"));
  f.writer.flush();
  const std::size_t n = lines_of(read(f.file)).size();
  // 2000 expected; a binomial's standard deviation here is 42.
  EXPECT_GT(n, 1700u);
  EXPECT_LT(n, 2300u);
}

TEST(AccessLogWriter, AListenerTurnsItOffOrHasItsOwnFileAndFormat) {
  Fixture f;
  const std::string api_file = (f.dir.path() / "api.log").string();
  ASSERT_TRUE(f.configure(config_with(
      "{path: " + f.file + "}",
      ", access_log: {path: " + api_file + ", format: '${method} ${path} ${status}'}")));
  f.log(record("/web", 200, "web"));
  f.log(record("/api", 201, "api"));
  f.log(record("/gone", 200, "removed-by-a-reload"));  // follows the top level
  f.writer.flush();
  EXPECT_EQ(paths_in(read(f.file)), (std::vector<std::string>{"/web", "/gone"}));
  EXPECT_EQ(read(api_file), "GET /api 201\n");

  ASSERT_TRUE(f.configure(config_with("{path: " + f.file + "}", ", access_log: false")));
  f.log(record("/api-off", 200, "api"));
  f.log(record("/web2", 200, "web"));
  f.writer.flush();
  EXPECT_EQ(paths_in(read(f.file)), (std::vector<std::string>{"/web", "/gone", "/web2"}));
  EXPECT_EQ(read(api_file), "GET /api 201\n");
}

TEST(AccessLogWriter, ReopenAfterARenameWritesNewLinesToANewFileAndLosesNone) {
  Fixture f;
  ASSERT_TRUE(f.configure(config_with("{path: " + f.file + "}")));
  f.log(record("/before"));
  std::filesystem::rename(f.file, f.file + ".1");
  f.log(record("/before-reopen"));  // handed over before the signal: the old file
  f.writer.reopen();
  f.writer.flush();
  ASSERT_TRUE(std::filesystem::exists(f.file));
  f.log(record("/after"));
  f.writer.flush();
  EXPECT_EQ(paths_in(read(f.file + ".1")), (std::vector<std::string>{"/before", "/before-reopen"}));
  EXPECT_EQ(paths_in(read(f.file)), (std::vector<std::string>{"/after"}));
}

TEST(AccessLogWriter, ANewConfigurationMovesLinesToItsFileWithoutLosingOne) {
  Fixture f;
  const std::string second = (f.dir.path() / "second.log").string();
  ASSERT_TRUE(f.configure(config_with("{path: " + f.file + "}")));
  f.log(record("/one"));  // not flushed: still in the ring at the switch
  ASSERT_TRUE(f.configure(config_with("{path: " + second + ", format: '${path}'}")));
  f.log(record("/two"));
  f.writer.flush();
  EXPECT_EQ(paths_in(read(f.file)), (std::vector<std::string>{"/one"}));
  EXPECT_EQ(read(second), "/two\n");
}

TEST(AccessLogWriter, StoppingWritesEveryLineLeft) {
  Fixture f;
  ASSERT_TRUE(f.configure(config_with("{path: " + f.file + "}")));
  for (int i = 0; i < 100; ++i)
    f.log(record("/" + std::to_string(i)));
  f.writer.stop();
  EXPECT_EQ(paths_in(read(f.file)).size(), 100u);
  f.writer.stop();  // again: nothing happens
}

TEST(AccessLogWriter, ALineThatDoesNotFitIsDroppedAndCounted) {
  test::TempDir dir;
  const std::string file = (dir.path() / "access.log").string();
  AccessLogWriter writer(1, 4096);
  auto config = load(config_with("{path: " + file + "}"));
  ASSERT_TRUE(config);
  std::string error;
  auto policy = writer.configure(*config, error);
  writer.worker(0).set_policy(policy);
  const std::string long_path = "/" + std::string(3000, 'x');
  writer.worker(0).log(record(long_path));
  writer.worker(0).log(record("/short"));
  writer.flush();
  EXPECT_EQ(writer.dropped(), 1u);
  EXPECT_EQ(writer.worker(0).dropped(), 1u);
  EXPECT_EQ(paths_in(read(file)), (std::vector<std::string>{"/short"}));
}

TEST(AccessLogWriter, AFileThatCannotBeOpenedIsAnErrorAndChangesNothing) {
  Fixture f;
  ASSERT_TRUE(f.configure(config_with("{path: " + f.file + "}")));
  std::filesystem::create_directory(f.dir.path() / "adir");
  auto config = load(config_with("{path: " + (f.dir.path() / "adir").string() + "}"));
  ASSERT_TRUE(config);
  std::string error;
  EXPECT_EQ(f.writer.configure(*config, error), nullptr);
  EXPECT_NE(error.find("cannot open"), std::string::npos) << error;
  f.log(record("/still"));
  f.writer.flush();
  EXPECT_EQ(paths_in(read(f.file)), (std::vector<std::string>{"/still"}));
}

}  // namespace
}  // namespace sluice::observe
