// Every shipped example must stay valid, and the quickstart must serve.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "sluice_instance.h"
#include "support/http_client.h"
#include "support/process.h"

namespace sluice::test {
namespace {

TEST(Examples, EveryExampleConfigPassesCheck) {
  int checked = 0;
  for (const auto& e : std::filesystem::directory_iterator(source_dir() + "/examples")) {
    if (e.path().extension() != ".yaml") continue;
    auto r = run_command({sluice_binary(), "check", "-c", e.path().string()});
    EXPECT_EQ(r.exit_code, 0) << e.path() << "\n" << r.output;
    ++checked;
  }
  EXPECT_GE(checked, 1);
}

TEST(Examples, QuickstartServesItsRoutes) {
  std::ifstream in(source_dir() + "/examples/quickstart.yaml");
  std::stringstream ss;
  ss << in.rdbuf();
  std::string yaml = ss.str();
  // The example listens on 8080; the test takes a port from the kernel.
  const std::string fixed = "127.0.0.1:8080";
  const auto at = yaml.find(fixed);
  ASSERT_NE(at, std::string::npos);
  yaml.replace(at, fixed.size(), "127.0.0.1:0");
  SluiceInstance s(yaml);
  ASSERT_TRUE(s.ready()) << s.process().output();
  RawConnection c(s.port("web"));
  ASSERT_TRUE(c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto hello = c.read_response();
  auto health = c.read_response();
  ASSERT_TRUE(hello && health);
  EXPECT_EQ(hello->body, "hello from sluice\n");
  EXPECT_EQ(health->body, "ok\n");
}

}  // namespace
}  // namespace sluice::test
