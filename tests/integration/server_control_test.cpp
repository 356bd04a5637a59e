// Drain, disable and enable a server from outside, through the admin
// listener (issue 14: the states existed in src/balance but nothing could
// set them): a drained server finishes what it has and gets nothing new
// but its sticky clients, a disabled one gets nothing new at all, and the
// state outlives a reload.
#include <gtest/gtest.h>
#include <signal.h>

#include <condition_variable>
#include <fstream>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "server_fleet.h"
#include "sluice_instance.h"
#include "support/free_port.h"
#include "support/http_client.h"
#include "support/test_backend.h"

namespace sluice::test {
namespace {

std::string control_config(const Fleet& fleet, const std::string& backend_extra = "",
                           const std::string& more_routes = "") {
  return R"(workers: 2
admin: {listen: 127.0.0.1:0}
listeners:
  - name: web
    listen: 127.0.0.1:0
routes:
)" + more_routes +
         R"(  - name: app
    backend: app
backends:
  app:
    servers: [)" +
         fleet.list() + "]\n" + backend_extra;
}

HttpResponse admin_call(SluiceInstance& s, const std::string& method, const std::string& path,
                        const std::string& body = {}) {
  const std::uint16_t port = s.port("admin");
  RawConnection c(port);
  std::string request =
      method + " " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) + "\r\n";
  if (method != "GET") request += "Content-Length: " + std::to_string(body.size()) + "\r\n";
  c.send(request + "\r\n" + body);
  auto r = c.read_response();
  return r ? *r : HttpResponse{};
}

std::string state_path(const std::string& backend, const std::string& address) {
  return "/backends/" + backend + "/servers/" + address + "/state";
}

// A server as GET /backends and the state endpoint show it.
std::string server_json(const std::string& address, const std::string& admin_state,
                        int in_flight = 0, const std::string& health = "up") {
  return "{\"address\": \"" + address + "\", \"weight\": 1, \"backup\": false, \"health\": \"" +
         health + "\", \"admin_state\": \"" + admin_state +
         "\", \"in_flight\": " + std::to_string(in_flight) + "}";
}

// Requests one after another on one connection until stopped, keeping
// every answer (a server's name, or a marker for a failure) in order.
class Traffic {
 public:
  explicit Traffic(std::uint16_t port) : thread_([this, port] { run(port); }) {}
  ~Traffic() { stop(); }
  // Waits until `n` requests have been answered (or failed).
  bool wait_for(std::size_t n) {
    std::unique_lock lock(mutex_);
    return cv_.wait_for(lock, std::chrono::seconds(10), [&] { return bodies_.size() >= n; });
  }
  std::size_t done() {
    std::lock_guard lock(mutex_);
    return bodies_.size();
  }
  std::vector<std::string> stop() {
    stopping_ = true;
    if (thread_.joinable()) thread_.join();
    std::lock_guard lock(mutex_);
    return bodies_;
  }

 private:
  void run(std::uint16_t port) {
    RawConnection c(port);
    while (!stopping_) {
      std::string body = get(c, "/");
      std::lock_guard lock(mutex_);
      bodies_.push_back(std::move(body));
      cv_.notify_all();
    }
  }
  std::atomic<bool> stopping_{false};
  std::mutex mutex_;
  std::condition_variable cv_;
  std::vector<std::string> bodies_;
  std::thread thread_;
};

TEST(ServerControl, DrainedServerFinishesItsRequestAndGetsNoNewOnesUnderTrafficUntilEnabled) {
  auto gate = std::make_shared<Gate>();
  Fleet fleet(2, gate);
  OpenAtExit release{gate};
  SluiceInstance sluice(control_config(fleet));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();

  RawConnection holder(sluice.port("web"));
  ASSERT_TRUE(holder.send("GET /hold HTTP/1.1\r\nHost: t\r\n\r\n"));
  ASSERT_TRUE(fleet.ledger->wait_for(1));
  const std::string drained = fleet.ledger->server_of(0);
  const std::string other = drained == "a" ? "b" : "a";
  const std::string address = fleet.address(drained == "a" ? 0 : 1);

  Traffic traffic(sluice.port("web"));
  ASSERT_TRUE(traffic.wait_for(20));
  const HttpResponse drain = admin_call(sluice, "POST", state_path("app", address), "drain");
  const std::size_t at_drain = traffic.done();
  EXPECT_EQ(drain.status, 200) << drain.body;
  // In flight: the held request, and maybe one of the traffic's.
  EXPECT_TRUE(drain.body == server_json(address, "draining", 1) + "\n" ||
              drain.body == server_json(address, "draining", 2) + "\n")
      << drain.body;
  EXPECT_TRUE(sluice.process().wait_for_line("server " + address + ": draining (was enabled)",
                                             std::chrono::seconds(5)));
  ASSERT_TRUE(traffic.wait_for(at_drain + 60));
  const std::vector<std::string> bodies = traffic.stop();

  // No request failed, and after the one that may have been on its way
  // when the drain was answered, none reached the drained server.
  EXPECT_EQ(share(bodies, "a") + share(bodies, "b"), bodies.size());
  EXPECT_GE(share(std::vector<std::string>(bodies.begin(), bodies.begin() + 20), drained), 5u)
      << "before the drain both servers took requests";
  const std::vector<std::string> after(bodies.begin() + static_cast<long>(at_drain) + 1,
                                       bodies.end());
  EXPECT_EQ(share(after, other), after.size());

  const std::string listing = admin_call(sluice, "GET", "/backends").body;
  EXPECT_NE(listing.find(server_json(address, "draining", 1)), std::string::npos) << listing;

  // The request it held finishes normally.
  gate->open();
  auto held = holder.read_response();
  ASSERT_TRUE(held);
  EXPECT_EQ(held->status, 200);
  EXPECT_EQ(held->body, drained);
  // The next request on that connection starts after the held one ended.
  EXPECT_EQ(get(holder, "/"), other);
  EXPECT_NE(admin_call(sluice, "GET", "/backends").body.find(server_json(address, "draining", 0)),
            std::string::npos);

  const HttpResponse enable = admin_call(sluice, "POST", state_path("app", address), "enable\n");
  EXPECT_EQ(enable.status, 200);
  EXPECT_EQ(enable.body, server_json(address, "enabled", 0) + "\n");
  RawConnection client(sluice.port("web"));
  EXPECT_EQ(share(get_n(client, 20), drained), 10u) << "round robin again";
}

// The value of the sticky cookie `srv` a response sets, or "".
std::string sticky_id(const HttpResponse& r) {
  const auto cookie = r.header("set-cookie");
  if (!cookie || cookie->rfind("srv=", 0) != 0) return "";
  return cookie->substr(4, cookie->find(';') - 4);
}

TEST(ServerControl, DrainKeepsStickyClientsAndDisableSendsEveryoneElsewhere) {
  auto gate = std::make_shared<Gate>();
  Fleet fleet(2, gate);
  OpenAtExit release{gate};
  SluiceInstance sluice(control_config(fleet, "    sticky: {cookie: srv}\n"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();

  // Learn each server's cookie: round robin alternates on one connection.
  std::map<std::string, std::string> id;
  RawConnection learner(sluice.port("web"));
  for (int i = 0; i < 2; ++i) {
    ASSERT_TRUE(learner.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n"));
    auto r = learner.read_response();
    ASSERT_TRUE(r);
    id[r->body] = sticky_id(*r);
  }
  ASSERT_FALSE(id["a"].empty());
  ASSERT_FALSE(id["b"].empty());
  const std::string to_a = "Cookie: srv=" + id["a"] + "\r\n";

  ASSERT_EQ(admin_call(sluice, "POST", state_path("app", fleet.address(0)), "drain").status, 200);
  RawConnection sticky(sluice.port("web"));
  EXPECT_EQ(share(get_n(sticky, 5, "/", to_a), "a"), 5u) << "a drained server keeps its sticky "
                                                            "clients";
  RawConnection fresh(sluice.port("web"));
  EXPECT_EQ(share(get_n(fresh, 10), "b"), 10u) << "and gets no new ones";

  // A request in flight on a server being disabled finishes.
  RawConnection holder(sluice.port("web"));
  const std::size_t before = fleet.ledger->served();
  ASSERT_TRUE(holder.send("GET /hold HTTP/1.1\r\nHost: t\r\n" + to_a + "\r\n"));
  ASSERT_TRUE(fleet.ledger->wait_for(before + 1));
  ASSERT_EQ(fleet.ledger->server_of(before), "a");

  const HttpResponse disable =
      admin_call(sluice, "PUT", state_path("app", fleet.address(0)), "disable");
  EXPECT_EQ(disable.status, 200);
  EXPECT_EQ(disable.body, server_json(fleet.address(0), "disabled", 1) + "\n");
  ASSERT_TRUE(sticky.send("GET / HTTP/1.1\r\nHost: t\r\n" + to_a + "\r\n"));
  auto moved = sticky.read_response();
  ASSERT_TRUE(moved);
  EXPECT_EQ(moved->body, "b") << "a disabled server takes not even its sticky clients";
  EXPECT_EQ(sticky_id(*moved), id["b"]) << "the cookie now names the server that answered";

  gate->open();
  auto held = holder.read_response();
  ASSERT_TRUE(held);
  EXPECT_EQ(held->status, 200);
  EXPECT_EQ(held->body, "a");

  ASSERT_EQ(admin_call(sluice, "POST", state_path("app", fleet.address(0)), "enable").status, 200);
  EXPECT_EQ(get(sticky, "/", to_a), "a");
}

TEST(ServerControl, UnknownBackendOrServerIs404AndABadStateIs400AndNothingChanges) {
  Fleet fleet(2);
  SluiceInstance sluice(control_config(fleet));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();

  HttpResponse r = admin_call(sluice, "POST", state_path("nope", fleet.address(0)), "drain");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "no backend 'nope'\n");
  RefusingPort elsewhere;
  r = admin_call(sluice, "POST", state_path("app", elsewhere.address()), "drain");
  EXPECT_EQ(r.status, 404);
  EXPECT_EQ(r.body, "backend 'app' has no server " + elsewhere.address() + "\n");
  r = admin_call(sluice, "POST", state_path("app", fleet.address(0)), "pause");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(r.body, "the body must be one of: drain, disable, enable\n");
  r = admin_call(sluice, "POST", state_path("app", fleet.address(0)), "");
  EXPECT_EQ(r.status, 400);
  EXPECT_EQ(admin_call(sluice, "GET", state_path("app", fleet.address(0))).status, 405);
  EXPECT_EQ(admin_call(sluice, "DELETE", state_path("app", fleet.address(0))).status, 405);
  EXPECT_EQ(admin_call(sluice, "POST", "/backends", "drain").status, 405);
  EXPECT_EQ(admin_call(sluice, "POST", "/backends/app/servers", "drain").status, 404);
  EXPECT_EQ(admin_call(sluice, "POST", state_path("a%zzp", fleet.address(0)), "drain").status, 400);
  EXPECT_EQ(admin_call(sluice, "POST", state_path("app%0A", fleet.address(0)), "drain").status,
            400);
  // Escapes are decoded: %61 is 'a'.
  r = admin_call(sluice, "POST", state_path("%61pp", fleet.address(0)), "enable");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, server_json(fleet.address(0), "enabled") + "\n");

  const HttpResponse listing = admin_call(sluice, "GET", "/backends");
  EXPECT_EQ(listing.status, 200);
  EXPECT_EQ(listing.header("content-type"), "application/json");
  EXPECT_EQ(listing.body,
            "{\"backends\": [\n  {\"name\": \"app\", \"balance\": \"round_robin\", "
            "\"servers\": [\n    " +
                server_json(fleet.address(0), "enabled") + ",\n    " +
                server_json(fleet.address(1), "enabled") + "\n  ]}\n]}\n");
  RawConnection client(sluice.port("web"));
  EXPECT_EQ(share(get_n(client, 10), "a"), 5u);
}

TEST(ServerControl, ListingShowsHealthOfEachServer) {
  Fleet fleet(1);
  RefusingPort dead;
  SluiceInstance sluice(R"(workers: 1
admin: {listen: 127.0.0.1:0}
listeners:
  - name: web
    listen: 127.0.0.1:0
routes:
  - name: app
    backend: app
backends:
  app:
    balance: least_conn
    servers: [)" + fleet.address(0) +
                        ", {address: " + dead.address() +
                        R"(, backup: true, weight: 3}]
    health_check: {path: /health, interval: 50ms, rise: 1, fall: 1}
)");
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  ASSERT_TRUE(sluice.process().wait_for_line("server " + dead.address() + ": down",
                                             std::chrono::seconds(5)));
  EXPECT_EQ(admin_call(sluice, "GET", "/backends").body,
            "{\"backends\": [\n  {\"name\": \"app\", \"balance\": \"least_conn\", "
            "\"servers\": [\n    " +
                server_json(fleet.address(0), "enabled") + ",\n    {\"address\": \"" +
                dead.address() +
                "\", \"weight\": 3, \"backup\": true, \"health\": \"down\", "
                "\"admin_state\": \"enabled\", \"in_flight\": 0}\n  ]}\n]}\n");
}

TEST(ServerControl, StateSurvivesAReloadAndDisablingEveryServerAnswers503) {
  Fleet fleet(2);
  SluiceInstance sluice(control_config(fleet));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  ASSERT_EQ(admin_call(sluice, "POST", state_path("app", fleet.address(0)), "drain").status, 200);

  // A reload that changes the routes and keeps the server.
  std::ofstream(sluice.config_path(), std::ios::trunc) << control_config(
      fleet, "", "  - {name: ping, match: {path: /ping}, respond: {status: 200, body: pong}}\n");
  ::kill(sluice.process().pid(), SIGHUP);
  ASSERT_TRUE(sluice.process().wait_for_line("reload: applied", std::chrono::seconds(10)))
      << sluice.process().output();
  RawConnection client(sluice.port("web"));
  ASSERT_EQ(get(client, "/ping"), "pong") << "the new configuration is in force";
  EXPECT_NE(
      admin_call(sluice, "GET", "/backends").body.find(server_json(fleet.address(0), "draining")),
      std::string::npos);
  EXPECT_EQ(share(get_n(client, 10), "b"), 10u);

  ASSERT_EQ(admin_call(sluice, "POST", state_path("app", fleet.address(1)), "disable").status, 200);
  ASSERT_TRUE(client.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n"));
  auto r = client.read_response();
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 503);
}

}  // namespace
}  // namespace sluice::test
