// What a burst of clients leaves behind once they all sit idle. Issue 13,
// item 18: 10,000 clients arriving 200 at a time, each doing one GET and
// then idling, grew sluice's resident memory by about 1 KB per connection:
// the buffers and coroutine frames the burst took stayed cached, and what
// was freed stayed in malloc. Once the burst is over, a worker gives back
// what traffic no longer uses, without closing anyone's connection.
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <regex>
#include <string>
#include <thread>
#include <vector>

#include "sluice_instance.h"
#include "support/http_client.h"
#include "support/test_backend.h"

namespace sluice::test {
namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitizedAllocator = true;
#else
constexpr bool kSanitizedAllocator = false;
#endif

constexpr int kClients = 2'000;
constexpr int kWave = 200;  // clients arriving together
// Buffers a worker keeps once traffic stops (BufferPool's idle_cached).
constexpr long kIdleBuffers = 4;
// Frames it keeps: 4 of each size a request uses, a few tens of KiB.
constexpr long kIdleFrameBytes = 256 * 1024;

// /debug/memory over one keep-alive admin connection ("" if it fails).
std::string debug_memory(RawConnection& admin, std::uint16_t admin_port) {
  if (!admin.send("GET /debug/memory HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(admin_port) +
                  "\r\n\r\n")) {
    return {};
  }
  auto r = admin.read_response(false, 10'000);
  return r && r->status == 200 ? r->body : std::string();
}

// The number after "key": inside the JSON object named `object`, or -1.
long json_number(const std::string& json, const std::string& object, const std::string& key) {
  const auto at = json.find("\"" + object + "\": {");
  if (at == std::string::npos) return -1;
  std::smatch m;
  const std::string rest = json.substr(at, json.find('}', at) - at);
  if (!std::regex_search(rest, m, std::regex("\"" + key + "\": (\\d+)"))) return -1;
  return std::stol(m[1].str());
}

long resident_bytes(const std::string& json) {
  std::smatch m;
  return std::regex_search(json, m, std::regex(R"("resident_bytes": (\d+))"))
             ? std::stol(m[1].str())
             : -1;
}

// One descriptor per client, plus the backend's side of sluice's
// connections, in this process.
void raise_descriptor_limit() {
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }
}

TEST(IdleMemory, WhatABurstTookIsGivenBackOnceItsClientsIdle) {
  raise_descriptor_limit();
  rlimit files{};
  getrlimit(RLIMIT_NOFILE, &files);
  if (files.rlim_cur < kClients + 2 * kWave + 100) GTEST_SKIP() << "descriptor limit too low";

  TestBackend backend(TestBackend::echo());
  SluiceInstance sluice(R"(workers: 1
admin: {listen: 127.0.0.1:0}
listeners:
  - name: web
    listen: 127.0.0.1:0
    timeouts: {idle: 300s}
routes:
  - name: all
    backend: app
backends:
  app:
    servers: [)" + backend.address() +
                        "]\n    pool: {max_idle_per_server: 256}\n");
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  RawConnection admin(sluice.port("admin"));

  // The burst: each wave's clients send their GET together, and the next
  // wave arrives once all of this one's answers are in.
  std::vector<std::unique_ptr<RawConnection>> clients;
  long peak_resident = 0;
  while (clients.size() < kClients) {
    const std::size_t first = clients.size();
    for (int i = 0; i < kWave; ++i) {
      clients.push_back(std::make_unique<RawConnection>(sluice.port("web")));
      ASSERT_TRUE(clients.back()->connected());
      ASSERT_TRUE(clients.back()->send("GET /burst HTTP/1.1\r\nHost: web\r\n\r\n"));
    }
    for (std::size_t i = first; i < clients.size(); ++i) {
      auto r = clients[i]->read_response();
      ASSERT_TRUE(r) << "client " << i;
      ASSERT_EQ(r->status, 200) << "client " << i;
    }
    peak_resident =
        std::max(peak_resident, resident_bytes(debug_memory(admin, sluice.port("admin"))));
  }

  // Every client now idles. Wait, bounded, for the worker to give back the
  // cached buffers and frames the burst took.
  std::string memory;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  do {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // pacing of the poll only
    memory = debug_memory(admin, sluice.port("admin"));
    if (json_number(memory, "client_connections", "idle") == kClients &&
        json_number(memory, "buffers", "cached") <= kIdleBuffers &&
        json_number(memory, "frames", "cached_bytes") <= kIdleFrameBytes &&
        json_number(memory, "frames", "cached_bytes") >= 0) {
      break;
    }
  } while (std::chrono::steady_clock::now() < deadline);

  EXPECT_EQ(json_number(memory, "client_connections", "idle"), kClients) << memory;
  EXPECT_EQ(json_number(memory, "buffers", "in_use"), 0) << memory;
  EXPECT_LE(json_number(memory, "buffers", "cached"), kIdleBuffers)
      << "the buffers 200 concurrent requests took stay cached\n"
      << memory;
  const long frames = json_number(memory, "frames", "cached_bytes");
  EXPECT_GE(frames, 0) << "no frame count in /debug/memory\n" << memory;
  EXPECT_LE(frames, kIdleFrameBytes) << "the request frames of the burst stay cached\n" << memory;
  // What was given back left the process: resident memory fell well below
  // the burst's peak (the burst's buffers alone were megabytes).
  const long settled = resident_bytes(memory);
  EXPECT_GT(settled, 0) << memory;
  // Under AddressSanitizer the allocator is ASan's, which quarantines and
  // keeps freed memory: resident memory measures it, not sluice.
  if (!kSanitizedAllocator) {
    EXPECT_LT(settled, peak_resident - 2 * 1024 * 1024)
        << "resident " << settled << " bytes, peak " << peak_resident << "\n"
        << memory;
  }

  // Nobody was disconnected for it: idle clients are served at once.
  for (RawConnection* c : {clients.front().get(), clients.back().get()}) {
    ASSERT_TRUE(c->send("GET /again HTTP/1.1\r\nHost: web\r\n\r\n"));
    auto r = c->read_response();
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
    EXPECT_EQ(r->header("x-target"), "/again");
  }
}

}  // namespace
}  // namespace sluice::test
