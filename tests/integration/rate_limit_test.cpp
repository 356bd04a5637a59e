// The rate_limit middleware (issue 18) through the real binary: one budget
// per definition across routes and workers (not Traefik's one per router),
// 429 with Retry-After, separate budgets per client key, state kept across a
// reload that leaves the definition alone, and a fleet sharing one budget
// through a real Redis that fails open when Redis goes away.
//
// Every budget here is 10 per hour with a burst of 10: no token comes back
// while a test runs, so counts are exact and nothing depends on timing.
#include <gtest/gtest.h>
#include <signal.h>

#include <fstream>
#include <string>
#include <vector>

#include "sluice_instance.h"
#include "support/free_port.h"
#include "support/http_client.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace sluice::test {
namespace {

// Two respond routes, /a and /b, each naming `a_list` / `b_list`.
std::string config(const std::string& limit_settings, int workers = 2,
                   const std::string& a_list = "[limit]", const std::string& b_list = "[limit]") {
  return "workers: " + std::to_string(workers) + R"(
listeners:
  - name: web
    listen: 127.0.0.1:0
middlewares:
  limit:
    rate_limit: )" +
         limit_settings + R"(
routes:
  - name: a
    match: {path: /a}
    middlewares: )" +
         a_list + R"(
    respond: {status: 200, body: "a"}
  - name: b
    match: {path: /b}
    middlewares: )" +
         b_list + R"(
    respond: {status: 200, body: "b"}
)";
}

const std::string kBudget = "{average: 10, period: 1h, burst: 10}";

// One request on a new connection (so that connections spread over the
// workers); the response, or status 0.
HttpResponse get(std::uint16_t port, const std::string& path, const std::string& fields = "") {
  RawConnection c(port);
  if (!c.send("GET " + path + " HTTP/1.1\r\nHost: t\r\n" + fields + "Connection: close\r\n\r\n"))
    return {};
  auto r = c.read_response();
  return r ? *r : HttpResponse{};
}

struct Counts {
  int passed = 0;
  int limited = 0;
  int other = 0;
};

Counts send_many(std::uint16_t port, const std::string& path, int n,
                 const std::string& fields = "") {
  Counts c;
  for (int i = 0; i < n; ++i) {
    const int status = get(port, path, fields).status;
    (status == 200 ? c.passed : status == 429 ? c.limited : c.other)++;
  }
  return c;
}

void rewrite(const SluiceInstance& s, const std::string& yaml) {
  std::ofstream(s.config_path(), std::ios::trunc) << yaml;
}

void reload(SluiceInstance& s, std::size_t nth) {
  ::kill(s.process().pid(), SIGHUP);
  ASSERT_TRUE(s.process().wait_for_count("reload: applied", nth, std::chrono::seconds(10)))
      << s.process().output();
}

TEST(RateLimit, RequestsOverTheBurstGet429WithRetryAfterAndAShortBody) {
  SluiceInstance sluice(config(kBudget, 1));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection c(sluice.port("web"));
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(c.send("GET /a HTTP/1.1\r\nHost: t\r\n\r\n"));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200) << "request " << i;
  }
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(c.send("GET /a HTTP/1.1\r\nHost: t\r\n\r\n"));
    auto r = c.read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 429);
    ASSERT_TRUE(r->header("retry-after")) << r->raw_head;
    // One token comes back every 360 s: that is the wait, in whole seconds.
    const int seconds = std::stoi(*r->header("retry-after"));
    EXPECT_GT(seconds, 300);
    EXPECT_LE(seconds, 360);
    EXPECT_NE(r->body.find("too many requests"), std::string::npos) << r->body;
  }
}

TEST(RateLimit, ConnectionsOverTwoWorkersShareOneBudget) {
  SluiceInstance sluice(config(kBudget, 2));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  // 60 connections: SO_REUSEPORT spreads them over both workers; were the
  // budget per worker, up to 20 would pass.
  const Counts c = send_many(sluice.port("web"), "/a", 60);
  EXPECT_EQ(c.passed, 10);
  EXPECT_EQ(c.limited, 50);
  EXPECT_EQ(c.other, 0);
}

TEST(RateLimit, TwoRoutesNamingTheMiddlewareShareOneBudget) {
  SluiceInstance sluice(config(kBudget, 2));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const Counts a = send_many(sluice.port("web"), "/a", 6);
  const Counts b = send_many(sluice.port("web"), "/b", 10);
  EXPECT_EQ(a.passed, 6);
  EXPECT_EQ(b.passed, 4) << "route b spends what is left of the one budget";
  EXPECT_EQ(b.limited, 6);
}

TEST(RateLimit, PerRouteGivesEachRouteItsOwnBudget) {
  SluiceInstance sluice(config("{average: 10, period: 1h, burst: 10, per_route: true}", 2));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const Counts a = send_many(sluice.port("web"), "/a", 12);
  const Counts b = send_many(sluice.port("web"), "/b", 12);
  EXPECT_EQ(a.passed, 10);
  EXPECT_EQ(a.limited, 2);
  EXPECT_EQ(b.passed, 10);
  EXPECT_EQ(b.limited, 2);
}

TEST(RateLimit, EachApiKeyHasItsOwnBudgetAndRequestsWithoutOneShareOne) {
  SluiceInstance sluice(config("{average: 3, period: 1h, burst: 3, key: 'header:X-Api-Key'}", 2));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const std::uint16_t port = sluice.port("web");
  EXPECT_EQ(send_many(port, "/a", 5, "X-Api-Key: alice\r\n").passed, 3);
  EXPECT_EQ(send_many(port, "/a", 5, "x-api-key: bob\r\n").passed, 3);
  EXPECT_EQ(send_many(port, "/a", 5).passed, 3) << "no key: one shared budget";
  EXPECT_EQ(send_many(port, "/a", 1, "X-Api-Key: alice\r\n").limited, 1);
}

TEST(RateLimit, AReloadKeepsTheSpentBudgetUnlessTheDefinitionChanged) {
  SluiceInstance sluice(config(kBudget, 2));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const std::uint16_t port = sluice.port("web");
  EXPECT_EQ(send_many(port, "/a", 8).passed, 8);

  // Another route changes; the definition does not: 2 tokens are left.
  std::string same = config(kBudget, 2);
  same.replace(same.find("body: \"b\""), 9, "body: \"B\"");
  rewrite(sluice, same);
  reload(sluice, 1);
  EXPECT_EQ(get(port, "/b").body, "B") << "the reload applied";
  EXPECT_EQ(send_many(port, "/a", 5).passed, 1);

  // A new burst is a new definition: a full bucket of 12.
  rewrite(sluice, config("{average: 10, period: 1h, burst: 12}", 2));
  reload(sluice, 2);
  const Counts fresh = send_many(port, "/a", 15);
  EXPECT_EQ(fresh.passed, 12);
  EXPECT_EQ(fresh.limited, 3);
}

// ------------------------------------------------------------ Redis

class RedisServer {
 public:
  RedisServer()
      : port_(free_loopback_port()),
        process_(std::make_unique<Process>(std::vector<std::string>{
            "redis-server", "--port", std::to_string(port_), "--bind", "127.0.0.1", "--save", "",
            "--appendonly", "no", "--dir", dir_.path().string()})) {
    ready_ = process_->wait_for_line("Ready to accept connections", std::chrono::seconds(20))
                 .has_value();
  }
  bool ready() const { return ready_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  void stop() { process_->stop(SIGKILL); }
  // Freezes it: connections are still accepted by the kernel, nothing is
  // answered (a Redis that hangs rather than dies).
  void freeze() { ::kill(process_->pid(), SIGSTOP); }
  void thaw() { ::kill(process_->pid(), SIGCONT); }
  std::string output() { return process_->output(); }

 private:
  TempDir dir_;
  std::uint16_t port_;
  std::unique_ptr<Process> process_;
  bool ready_ = false;
};

std::string redis_budget(const std::string& address, const std::string& timeout = "2s") {
  return "{average: 10, period: 1h, burst: 10, redis: {address: '" + address +
         "', timeout: " + timeout + ", prefix: 'test:'}}";
}

TEST(RateLimitRedis, TwoInstancesSharingOneRedisShareOneBudget) {
  RedisServer redis;
  ASSERT_TRUE(redis.ready()) << redis.output();
  SluiceInstance one(config(redis_budget(redis.address()), 2));
  SluiceInstance two(config(redis_budget(redis.address()), 2));
  ASSERT_TRUE(one.ready()) << one.process().output();
  ASSERT_TRUE(two.ready()) << two.process().output();
  Counts total;
  for (int i = 0; i < 15; ++i) {
    for (SluiceInstance* s : {&one, &two}) {
      const HttpResponse r = get(s->port("web"), "/a");
      (r.status == 200 ? total.passed : r.status == 429 ? total.limited : total.other)++;
      if (r.status == 429) {
        EXPECT_TRUE(r.header("retry-after")) << r.raw_head;
      }
    }
  }
  EXPECT_EQ(total.passed, 10);
  EXPECT_EQ(total.limited, 20);
  EXPECT_EQ(total.other, 0);
  EXPECT_EQ(one.process().count("unreachable"), 0u) << one.process().output();
}

TEST(RateLimitRedis, WithRedisGoneRequestsFailOpenToLocalBucketsWithOneWarning) {
  RedisServer redis;
  ASSERT_TRUE(redis.ready()) << redis.output();
  SluiceInstance sluice(config(redis_budget(redis.address()), 1));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const std::uint16_t port = sluice.port("web");
  EXPECT_EQ(send_many(port, "/a", 12).passed, 10) << "the shared budget is spent";

  redis.stop();
  // Over the spent shared budget, yet they pass: this instance's own bucket
  // (untouched while Redis decided) takes over, so the limit is looser,
  // never gone.
  const Counts away = send_many(port, "/a", 14);
  EXPECT_EQ(away.passed, 10);
  EXPECT_EQ(away.limited, 4);
  EXPECT_EQ(sluice.process().count("unreachable"), 1u)
      << "one warning per outage, not per request\n"
      << sluice.process().output();
}

TEST(RateLimitRedis, ARedisThatStopsAnsweringFailsOpenAfterTheTimeoutWithOneWarning) {
  RedisServer redis;
  ASSERT_TRUE(redis.ready()) << redis.output();
  SluiceInstance sluice(config(redis_budget(redis.address(), "100ms"), 1));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const std::uint16_t port = sluice.port("web");
  EXPECT_EQ(send_many(port, "/a", 12).passed, 10) << "the shared budget is spent";

  redis.freeze();
  const Counts away = send_many(port, "/a", 14);
  redis.thaw();
  EXPECT_EQ(away.passed, 10) << "decided by this instance's buckets";
  EXPECT_EQ(away.limited, 4);
  EXPECT_EQ(away.other, 0);
  EXPECT_EQ(sluice.process().count("unreachable (no answer within 100 ms)"), 1u)
      << sluice.process().output();
}

}  // namespace
}  // namespace sluice::test
