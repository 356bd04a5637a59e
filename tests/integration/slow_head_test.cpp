// Slowloris (issue 13 item 7): a crowd of clients that each send a few
// bytes of a head and then trickle. Each gets 408 at the header timeout;
// while waiting, a slow head holds its few bytes, not a pooled buffer; and
// the log names the crowd once a second, not once per client.
#include <gtest/gtest.h>

#include <chrono>
#include <memory>
#include <regex>
#include <string>
#include <vector>

#include "one_backend_config.h"
#include "sluice_instance.h"
#include "support/http_client.h"
#include "support/test_backend.h"

namespace sluice::test {
namespace {

long buffers_in_use(const SluiceInstance& sluice) {
  auto r = sluice.admin_get("/debug/memory");
  std::smatch m;
  if (!r || !std::regex_search(r->body, m, std::regex(R"("buffers": \{"in_use": (\d+))"))) {
    return -1;
  }
  return std::stol(m[1].str());
}

std::string config(const std::string& server, const std::string& header_timeout) {
  return "workers: 1\n"
         "admin: {listen: 127.0.0.1:0}\n"
         "listeners:\n"
         "  - name: web\n"
         "    listen: 127.0.0.1:0\n"
         "    timeouts: {header: " +
         header_timeout +
         "}\n"
         "routes:\n"
         "  - backend: app\n"
         "backends:\n"
         "  app:\n"
         "    servers: [" +
         server + "]\n";
}

TEST(SlowHead, SlowHeadsHoldNoBufferWhileTheyWait) {
  TestBackend backend(TestBackend::echo());
  SluiceInstance sluice(config(backend.address(), "20s"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  std::vector<std::unique_ptr<RawConnection>> crowd;
  for (int i = 0; i < 50; ++i) {
    crowd.push_back(std::make_unique<RawConnection>(sluice.port("web")));
    ASSERT_TRUE(crowd.back()->send("GET /slow HTTP/1.1\r\nHost: t\r\nX-Fi"));
  }
  // A complete request behind them is served: its answer means sluice has
  // read every earlier connection's bytes (one worker, in order).
  RawConnection normal(sluice.port("web"));
  ASSERT_TRUE(normal.send("GET /ok HTTP/1.1\r\nHost: t\r\n\r\n"));
  auto r = normal.read_response(false, 5'000);
  ASSERT_TRUE(r) << sluice.process().output();
  EXPECT_EQ(r->status, 200);
  // No worker buffer is held (the admin listener uses its own); polled
  // with a bound, since the worker counts on request.
  long in_use = -1;
  for (int i = 0; i < 50 && in_use != 0; ++i)
    in_use = buffers_in_use(sluice);
  EXPECT_EQ(in_use, 0);
  // The rest of a slow head still arrives and is served.
  ASSERT_TRUE(crowd.front()->send("ll: 1\r\n\r\n"));
  auto late = crowd.front()->read_response(false, 5'000);
  ASSERT_TRUE(late) << sluice.process().output();
  EXPECT_EQ(late->status, 200);
}

TEST(SlowHead, ACrowdOfHeaderTimeoutsGets408EachAndIsLoggedOnce) {
  TestBackend backend(TestBackend::echo());
  SluiceInstance sluice(config(backend.address(), "300ms"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  std::vector<std::unique_ptr<RawConnection>> crowd;
  for (int i = 0; i < 8; ++i) {
    crowd.push_back(std::make_unique<RawConnection>(sluice.port("web")));
    ASSERT_TRUE(crowd.back()->send("GET /slow HTTP/1.1\r\nHost: t\r\nX-Fi"));
  }
  for (auto& c : crowd) {
    auto r = c->read_response(false, 5'000);
    ASSERT_TRUE(r) << sluice.process().output();
    EXPECT_EQ(r->status, 408);
  }
  EXPECT_EQ(sluice.process().count("408 Request Timeout (request header not received in time)"), 1u)
      << sluice.process().output();
}

}  // namespace
}  // namespace sluice::test
