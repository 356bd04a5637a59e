// The access log (issue 19), as an operator reads it: one JSON line per
// request whatever became of it (proxied, no route, a dead server, a
// respond route, HEAD, HTTP/2), valid JSON whatever bytes the client sent;
// logrotate (rename, SIGUSR1) loses no line; sample 0 with errors: always
// keeps the failures; a reload changes the format between two lines; a
// listener can be left out; SIGTERM writes the last lines before exit.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "sluice_instance.h"
#include "support/free_port.h"
#include "support/http_client.h"
#include "support/json_reader.h"
#include "support/test_backend.h"

namespace sluice::test {
namespace {

// The access log is access.log beside the configuration file.
std::string config(const std::string& backend, const std::string& access_log = "{path: access.log}",
                   const std::string& top = "workers: 1\n") {
  const std::string dead = "127.0.0.1:" + std::to_string(free_loopback_port());
  return top + "listeners:\n" +
         "  - {name: web, listen: '127.0.0.1:0'}\n"
         "  - {name: quiet, listen: '127.0.0.1:0', access_log: false}\n"
         "routes:\n"
         "  - {name: hello, match: {path: /hello}, respond: {status: 200, body: hi}}\n"
         "  - {name: gone, match: {path: /gone}, backend: dead}\n"
         "  - {name: api, match: {path: /}, backend: app}\n"
         "backends:\n"
         "  app: {servers: [{address: '" +
         backend +
         "'}]}\n"
         "  dead: {servers: [{address: '" +
         dead +
         "'}], retries: {attempts: 0}}\n"
         "access_log: " +
         access_log + "\n";
}

std::string read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> lines_of(const std::string& text) {
  std::vector<std::string> out;
  std::size_t at = 0;
  while (at < text.size()) {
    const std::size_t nl = text.find('\n', at);
    if (nl == std::string::npos) break;  // a line not yet complete
    out.push_back(text.substr(at, nl - at));
    at = nl + 1;
  }
  return out;
}

// Waits until `file` holds at least `n` complete lines (the writer writes
// within 50 ms), at most 10 s; returns them.
std::vector<std::string> wait_for_lines(const std::filesystem::path& file, std::size_t n) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  std::vector<std::string> lines;
  while (true) {
    lines = lines_of(read_file(file));
    if (lines.size() >= n || std::chrono::steady_clock::now() > deadline) return lines;
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // polling the file, bounded
  }
}

JsonValue json(const std::string& line) {
  std::string error;
  auto v = parse_json(line, &error);
  EXPECT_TRUE(v.has_value()) << error << " in: " << line;
  return v.value_or(JsonValue{});
}

std::string str(const JsonValue& v, std::string_view key) {
  const JsonValue* f = v.get(key);
  if (f == nullptr) return "<absent>";
  if (f->is_null()) return "<null>";
  return f->text;  // a string's text, or a number as written
}

// One request on a new connection; returns the status (0: no answer).
int request(std::uint16_t port, const std::string& method, const std::string& target,
            const std::string& host = "t") {
  RawConnection c(port);
  if (!c.send(method + " " + target + " HTTP/1.1\r\nHost: " + host + "\r\n\r\n")) return 0;
  auto r = c.read_response(method == "HEAD");
  return r ? r->status : 0;
}

struct Started {
  TestBackend backend{TestBackend::echo()};
  SluiceInstance sluice;
  std::filesystem::path log;
  explicit Started(const std::string& access_log = "{path: access.log}",
                   const std::string& top = "workers: 1\n")
      : sluice(config(backend.address(), access_log, top)),
        log(sluice.dir().path() / "access.log") {}
};

TEST(AccessLog, AProxiedRequestGetsAJsonLineWithWhereItWentAndHowLongItTook) {
  Started s;
  ASSERT_TRUE(s.sluice.ready()) << s.sluice.process().output();
  ASSERT_EQ(request(s.sluice.port("web"), "GET", "/items?id=7", "shop.example"), 200);
  const auto lines = wait_for_lines(s.log, 1);
  ASSERT_EQ(lines.size(), 1u);
  const JsonValue v = json(lines[0]);
  EXPECT_TRUE(
      std::regex_match(str(v, "time"), std::regex(R"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z)")))
      << str(v, "time");
  EXPECT_EQ(str(v, "client_ip"), "127.0.0.1");
  EXPECT_NE(str(v, "client_port"), "<null>");
  EXPECT_EQ(str(v, "listener"), "web");
  EXPECT_EQ(str(v, "protocol"), "HTTP/1.1");
  EXPECT_EQ(str(v, "method"), "GET");
  EXPECT_EQ(str(v, "host"), "shop.example");
  EXPECT_EQ(str(v, "path"), "/items?id=7");
  EXPECT_EQ(str(v, "status"), "200");
  EXPECT_EQ(str(v, "route"), "api");
  EXPECT_EQ(str(v, "backend"), "app");
  EXPECT_EQ(str(v, "server"), s.backend.address());
  EXPECT_EQ(str(v, "retries"), "0");
  EXPECT_EQ(str(v, "termination"), "--");
  EXPECT_GT(std::stoll(str(v, "bytes_in")), 40);   // the request head
  EXPECT_GT(std::stoll(str(v, "bytes_out")), 40);  // the response head
  EXPECT_NE(str(v, "duration_ms"), "<null>");
  EXPECT_NE(str(v, "first_byte_ms"), "<null>");
  EXPECT_NE(str(v, "connect_ms"), "<null>");  // the first request opened the connection
  EXPECT_EQ(str(v, "tls_version"), "<null>");
}

TEST(AccessLog, EveryOutcomeGetsItsLine) {
  Started s;
  ASSERT_TRUE(s.sluice.ready()) << s.sluice.process().output();
  const std::uint16_t port = s.sluice.port("web");
  const int dead_status = request(port, "GET", "/gone");
  EXPECT_TRUE(dead_status == 502 || dead_status == 503) << dead_status;
  EXPECT_EQ(request(port, "GET", "/hello"), 200);
  EXPECT_EQ(request(port, "HEAD", "/hello"), 200);
  const int malformed = request(port, "GET", "*");  // asterisk-form is for OPTIONS only
  EXPECT_EQ(malformed / 100, 4) << malformed;
  const auto lines = wait_for_lines(s.log, 4);
  ASSERT_EQ(lines.size(), 4u) << read_file(s.log);
  const JsonValue dead = json(lines[0]);
  EXPECT_EQ(str(dead, "status"), std::to_string(dead_status));
  EXPECT_EQ(str(dead, "route"), "gone");
  EXPECT_EQ(str(dead, "backend"), "dead");
  EXPECT_NE(str(dead, "termination"), "--");
  const JsonValue respond = json(lines[1]);
  EXPECT_EQ(str(respond, "status"), "200");
  EXPECT_EQ(str(respond, "route"), "hello");
  EXPECT_EQ(str(respond, "backend"), "<null>");
  const JsonValue head = json(lines[2]);
  EXPECT_EQ(str(head, "method"), "HEAD");
  EXPECT_EQ(str(head, "status"), "200");
  const JsonValue bad = json(lines[3]);
  EXPECT_EQ(str(bad, "status"), std::to_string(malformed));
  EXPECT_EQ(str(bad, "route"), "<null>");
}

TEST(AccessLog, ARequestNoRouteMatchesGetsA404Line) {
  TestBackend backend(TestBackend::echo());
  SluiceInstance sluice(
      "workers: 1\nlisteners: [{name: web, listen: '127.0.0.1:0'}]\n"
      "routes: [{match: {path: /only}, respond: {status: 200}}]\n"
      "access_log: {path: access.log}\n");
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  EXPECT_EQ(request(sluice.port("web"), "GET", "/elsewhere"), 404);
  const auto lines = wait_for_lines(sluice.dir().path() / "access.log", 1);
  ASSERT_EQ(lines.size(), 1u);
  const JsonValue v = json(lines[0]);
  EXPECT_EQ(str(v, "status"), "404");
  EXPECT_EQ(str(v, "path"), "/elsewhere");
  EXPECT_EQ(str(v, "route"), "<null>");
}

TEST(AccessLog, AnHttp2RequestSaysSo) {
  Started s;
  ASSERT_TRUE(s.sluice.ready()) << s.sluice.process().output();
  const auto r =
      run_command({"curl", "-s", "--http2-prior-knowledge", "-o", "/dev/null", "-w", "%{http_code}",
                   "http://127.0.0.1:" + std::to_string(s.sluice.port("web")) + "/hello"});
  ASSERT_EQ(r.output, "200") << r.output;
  const auto lines = wait_for_lines(s.log, 1);
  ASSERT_EQ(lines.size(), 1u);
  const JsonValue v = json(lines[0]);
  EXPECT_EQ(str(v, "protocol"), "HTTP/2");
  EXPECT_EQ(str(v, "method"), "GET");
  EXPECT_EQ(str(v, "path"), "/hello");
  EXPECT_EQ(str(v, "status"), "200");
  EXPECT_EQ(str(v, "route"), "hello");
}

TEST(AccessLog, HostileBytesInPathAndHostStillGiveValidJson) {
  Started s;
  ASSERT_TRUE(s.sluice.ready()) << s.sluice.process().output();
  const std::uint16_t port = s.sluice.port("web");
  const std::vector<std::pair<std::string, std::string>> hostile{
      {"/a\"b\\c", "t"},      {"/caf\xc3\xa9/\xff\xfe", "t"},
      {"/x", "evil\"host\\"}, {"/x", "h\xc0\xaf"},
      {"/\x7f", "t"},         {"/%0a%22", "t"},
  };
  for (const auto& [path, host] : hostile)
    request(port, "GET", path, host);  // whatever the answer
  const auto lines = wait_for_lines(s.log, hostile.size());
  ASSERT_EQ(lines.size(), hostile.size()) << read_file(s.log);
  for (const auto& line : lines) {
    std::string error;
    EXPECT_TRUE(parse_json(line, &error).has_value()) << error << " in: " << line;
  }
  // What was accepted reads back as it was sent.
  const JsonValue first = json(lines[0]);
  if (str(first, "status") == "200") {
    EXPECT_EQ(str(first, "path"), "/a\"b\\c");
  }
  EXPECT_EQ(str(json(lines[5]), "path"), "/%0a%22");
}

TEST(AccessLog, LogrotateRenameAndSigusr1LosesNoLine) {
  Started s;
  ASSERT_TRUE(s.sluice.ready()) << s.sluice.process().output();
  const std::uint16_t port = s.sluice.port("web");
  for (int i = 0; i < 5; ++i)
    ASSERT_EQ(request(port, "GET", "/before/" + std::to_string(i)), 200);
  ASSERT_EQ(wait_for_lines(s.log, 5).size(), 5u);
  const std::string rotated_name = s.log.string() + ".1";
  std::filesystem::rename(s.log, rotated_name);
  // Requests that end while the file is renamed: their lines go to the
  // renamed file, or (handed over after the signal) to the new one.
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(request(port, "GET", "/renamed/" + std::to_string(i)), 200);
  ::kill(s.sluice.process().pid(), SIGUSR1);
  ASSERT_TRUE(s.sluice.process().wait_for_line("access log: reopened 1 file(s)"))
      << s.sluice.process().output();
  ASSERT_TRUE(std::filesystem::exists(s.log));
  for (int i = 0; i < 4; ++i)
    ASSERT_EQ(request(port, "GET", "/after/" + std::to_string(i)), 200);
  // Every line, once, in one of the two files.
  std::vector<std::string> fresh;
  std::vector<std::string> rotated;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
  do {
    fresh = lines_of(read_file(s.log));
    rotated = lines_of(read_file(rotated_name));
  } while (fresh.size() + rotated.size() < 12 && std::chrono::steady_clock::now() < deadline &&
           (std::this_thread::sleep_for(std::chrono::milliseconds(5)), true));
  std::multiset<std::string> all;
  std::vector<std::string> fresh_paths;
  for (const auto& line : fresh) {
    fresh_paths.push_back(str(json(line), "path"));
    all.insert(fresh_paths.back());
  }
  for (std::size_t i = 0; i < rotated.size(); ++i) {
    const std::string path = str(json(rotated[i]), "path");
    all.insert(path);
    if (i < 5) {
      EXPECT_EQ(path, "/before/" + std::to_string(i));
    }
    EXPECT_EQ(path.rfind("/after/", 0), std::string::npos) << "after the reopen, in the old file";
  }
  std::multiset<std::string> sent;
  for (int i = 0; i < 5; ++i)
    sent.insert("/before/" + std::to_string(i));
  for (int i = 0; i < 3; ++i)
    sent.insert("/renamed/" + std::to_string(i));
  for (int i = 0; i < 4; ++i)
    sent.insert("/after/" + std::to_string(i));
  EXPECT_EQ(all, sent) << "old file:\n"
                       << read_file(rotated_name) << "new file:\n"
                       << read_file(s.log);
  // The new file ends with the requests sent after the reopen, in order.
  ASSERT_GE(fresh_paths.size(), 4u);
  for (int i = 0; i < 4; ++i)
    EXPECT_EQ(fresh_paths[fresh_paths.size() - 4 + i], "/after/" + std::to_string(i));
}

TEST(AccessLog, SampleZeroWithErrorsAlwaysWritesOnlyTheFailures) {
  Started s("{path: access.log, sample: 0, errors: always}");
  ASSERT_TRUE(s.sluice.ready()) << s.sluice.process().output();
  const std::uint16_t port = s.sluice.port("web");
  for (int i = 0; i < 10; ++i)
    ASSERT_EQ(request(port, "GET", "/hello"), 200);
  const int failed = request(port, "GET", "/gone");
  ASSERT_EQ(request(port, "GET", "/gone?again"), failed);
  // One worker, one ring: once the second failure's line is out, any line
  // of the requests before the first would be too.
  const auto lines = wait_for_lines(s.log, 2);
  ASSERT_EQ(lines.size(), 2u) << read_file(s.log);
  EXPECT_EQ(str(json(lines[0]), "status"), std::to_string(failed));
  EXPECT_EQ(str(json(lines[0]), "path"), "/gone");
  EXPECT_EQ(str(json(lines[1]), "path"), "/gone?again");
}

TEST(AccessLog, AReloadChangesTheFormatBetweenTwoLinesAndLosesNone) {
  Started s;
  ASSERT_TRUE(s.sluice.ready()) << s.sluice.process().output();
  const std::uint16_t port = s.sluice.port("web");
  ASSERT_EQ(request(port, "GET", "/hello"), 200);
  std::ofstream(s.sluice.config_path(), std::ios::trunc) << config(
      s.backend.address(), "{path: access.log, format: '${method} ${path} ${status} ${route}'}");
  ::kill(s.sluice.process().pid(), SIGHUP);
  ASSERT_TRUE(s.sluice.process().wait_for_line("reload: applied")) << s.sluice.process().output();
  ASSERT_EQ(request(port, "GET", "/hello?v=2"), 200);
  const auto lines = wait_for_lines(s.log, 2);
  ASSERT_EQ(lines.size(), 2u) << read_file(s.log);
  EXPECT_EQ(str(json(lines[0]), "path"), "/hello");
  EXPECT_EQ(lines[1], "GET /hello?v=2 200 hello");
}

TEST(AccessLog, AReloadCanMoveTheLogToStdoutAsText) {
  Started s;
  ASSERT_TRUE(s.sluice.ready()) << s.sluice.process().output();
  std::ofstream(s.sluice.config_path(), std::ios::trunc)
      << config(s.backend.address(), "{path: stdout, format: 'access ${method} ${path}'}");
  ::kill(s.sluice.process().pid(), SIGHUP);
  ASSERT_TRUE(s.sluice.process().wait_for_line("reload: applied")) << s.sluice.process().output();
  ASSERT_EQ(request(s.sluice.port("web"), "GET", "/hello"), 200);
  EXPECT_TRUE(s.sluice.process().wait_for_line("access GET /hello")) << s.sluice.process().output();
  EXPECT_EQ(read_file(s.log), "");
}

TEST(AccessLog, AListenerWithAccessLogFalseWritesNoLine) {
  Started s;
  ASSERT_TRUE(s.sluice.ready()) << s.sluice.process().output();
  ASSERT_EQ(request(s.sluice.port("quiet"), "GET", "/hello"), 200);
  ASSERT_EQ(request(s.sluice.port("web"), "GET", "/hello?web"), 200);
  const auto lines = wait_for_lines(s.log, 1);
  ASSERT_EQ(lines.size(), 1u) << read_file(s.log);
  EXPECT_EQ(str(json(lines[0]), "path"), "/hello?web");
}

TEST(AccessLog, SigtermWritesTheLastLinesBeforeExit) {
  Started s("{path: access.log}", "workers: 2\n");
  ASSERT_TRUE(s.sluice.ready()) << s.sluice.process().output();
  const std::uint16_t port = s.sluice.port("web");
  constexpr int kRequests = 40;
  for (int i = 0; i < kRequests; ++i)
    ASSERT_EQ(request(port, "GET", "/hello"), 200);
  const int status = s.sluice.process().stop(SIGTERM);
  ASSERT_TRUE(WIFEXITED(status)) << s.sluice.process().output();
  EXPECT_EQ(lines_of(read_file(s.log)).size(), static_cast<std::size_t>(kRequests));
}

TEST(AccessLog, AFileThatCannotBeOpenedStopsStartUpWithTheReason) {
  TempDir dir;
  SluiceInstance sluice(
      "listeners: [{name: web, listen: '127.0.0.1:0'}]\n"
      "routes: [{respond: {status: 200}}]\n"
      "access_log: {path: " +
      dir.path().string() + "}\n");
  EXPECT_FALSE(sluice.ready());
  EXPECT_TRUE(sluice.process().wait_for_line("access_log: cannot open"))
      << sluice.process().output();
}

}  // namespace
}  // namespace sluice::test
