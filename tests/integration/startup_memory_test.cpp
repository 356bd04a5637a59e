// Issue 13, item 17: a 5,000-route configuration used 52.9 MB resident
// right after start and 17.4 MB after reloading the same file: what the
// first load left behind (the YAML tree, the route table built to check
// the file) was never returned. Start must cost what a reload costs.
#include <gtest/gtest.h>
#include <signal.h>

#include <cstdio>
#include <regex>
#include <string>

#include "sluice_instance.h"
#include "support/http_client.h"

#if defined(__SANITIZE_ADDRESS__)
#define SLUICE_SANITIZED 1
#else
#define SLUICE_SANITIZED 0
#endif

namespace sluice::test {
namespace {

// 1,000 hosts x 5 routes (prefixes, an exact path, a regex with a rewrite,
// a direct answer), one backend per host: the router's scale case.
std::string five_thousand_routes() {
  std::string yaml =
      "workers: 2\nadmin: {listen: 127.0.0.1:0}\nlisteners:\n"
      "  - name: web\n    listen: 127.0.0.1:0\nroutes:\n";
  std::string backends = "backends:\n";
  for (int i = 0; i < 1'000; ++i) {
    const std::string n = std::to_string(i);
    const std::string host = "h" + n + ".example.com";
    yaml += "  - name: h" + n + "-home\n    match: {host: " + host +
            ", path_exact: /}\n    backend: app" + n + "\n";
    yaml += "  - name: h" + n + "-static\n    match: {host: " + host +
            ", path: /static/}\n    backend: app" + n + "\n";
    yaml += "  - name: h" + n + "-api\n    match: {host: " + host +
            ", path: /api/}\n    backend: app" + n + "\n";
    yaml += "  - name: h" + n + "-users\n    priority: 1\n    match: {host: " + host +
            ", path_regex: \"^/api/v[0-9]+/users/([0-9]+)$\"}\n    rewrite: {path: /users/$1}\n"
            "    backend: app" +
            n + "\n";
    yaml += "  - name: h" + n + "-admin\n    match: {host: " + host +
            ", path: /admin}\n    respond: {status: 403, body: \"forbidden\\n\"}\n";
    backends += "  app" + n + ":\n    servers: [10.0." + std::to_string(i / 250) + "." +
                std::to_string(i % 250 + 1) + ":8080]\n";
  }
  return yaml + backends;
}

long resident_bytes(const SluiceInstance& s) {
  auto r = s.admin_get("/debug/memory");
  std::smatch m;
  if (!r || !std::regex_search(r->body, m, std::regex(R"("resident_bytes": (\d+))"))) return -1;
  return std::stol(m[1].str());
}

TEST(StartupMemory, StartCostsNoMoreResidentMemoryThanAReloadOfTheSameFile) {
  SluiceInstance sluice(five_thousand_routes());
  ASSERT_TRUE(sluice.ready()) << sluice.process().output().substr(0, 4000);
  ASSERT_NE(sluice.process().output().find("5000 routes"), std::string::npos);
  const long at_start = resident_bytes(sluice);
  ::kill(sluice.process().pid(), SIGHUP);
  ASSERT_TRUE(sluice.process().wait_for_line("reload: applied", std::chrono::seconds(60)))
      << sluice.process().output().substr(0, 4000);
  const long after_reload = resident_bytes(sluice);
  ASSERT_GT(at_start, 0);
  ASSERT_GT(after_reload, 0);
  std::printf("resident after start %ld, after a reload of the same file %ld\n", at_start,
              after_reload);
#if !SLUICE_SANITIZED
  // (AddressSanitizer's allocator keeps freed memory in quarantine.) Today
  // the two are within a few percent; before, start was 2.6 times higher.
  EXPECT_LE(at_start, after_reload + after_reload / 4)
      << "start " << at_start << ", after a reload " << after_reload;
#endif
}

}  // namespace
}  // namespace sluice::test
