// Every shipped example must stay valid, and the quickstart must serve.
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "sluice_instance.h"
#include "support/free_port.h"
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
  // The example listens on 8080 and proxies to its own listener on 8081.
  // The test takes the first port from the kernel (port 0) and, for the
  // second, which the backend must name, a port the kernel just gave out.
  auto replace_all = [&](const std::string& from, const std::string& to) {
    std::size_t at = 0;
    int n = 0;
    while ((at = yaml.find(from, at)) != std::string::npos) {
      yaml.replace(at, from.size(), to);
      at += to.size();
      ++n;
    }
    return n;
  };
  const std::string app = "127.0.0.1:" + std::to_string(free_loopback_port());
  ASSERT_EQ(replace_all("listen: 127.0.0.1:8080", "listen: 127.0.0.1:0"), 1);
  ASSERT_EQ(replace_all("listen: 127.0.0.1:8081", "listen: " + app), 1);
  ASSERT_EQ(replace_all("address: 127.0.0.1:8081", "address: " + app), 1);
  ASSERT_EQ(replace_all("listen: 127.0.0.1:9901", "listen: 127.0.0.1:0"), 1);
  SluiceInstance s(yaml);
  ASSERT_TRUE(s.ready()) << s.process().output();
  RawConnection c(s.port("web"));
  ASSERT_TRUE(c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /health HTTP/1.1\r\nHost: x\r\n\r\n"));
  auto hello = c.read_response();
  auto health = c.read_response();
  ASSERT_TRUE(hello && health) << s.process().output();
  EXPECT_EQ(hello->body, "hello from sluice's app listener\n");
  EXPECT_EQ(health->body, "ok\n");
  RawConnection admin(s.port("admin"));
  ASSERT_TRUE(admin.send("GET /debug/memory HTTP/1.1\r\nHost: 127.0.0.1:" +
                         std::to_string(s.port("admin")) + "\r\n\r\n"));
  auto memory = admin.read_response();
  ASSERT_TRUE(memory);
  EXPECT_NE(memory->body.find("\"route_tables_alive\": 1"), std::string::npos) << memory->body;
}

}  // namespace
}  // namespace sluice::test
