// The known HTTP/2 attacks (issue 17), each performed against sluice and
// answered as docs/operations.md ("Limits a client can meet") says, with sluice's resident
// memory bounded while it happens; and the limits and timeouts that end
// stalled or idle streams and connections, and the graceful GOAWAY.
// Budgets and timeouts are configured small so the file runs in seconds.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <chrono>
#include <functional>
#include <string>

#include "h2_fixtures.h"
#include "sluice_instance.h"
#include "support/h2_frames.h"
#include "support/test_backend.h"
#include "support/timing.h"

namespace sluice::test {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using h2::ErrorCode;
using h2::Fields;
using h2::FrameType;
using h2::H2Connection;
using h2::H2ConnectionOptions;
using h2::Setting;
using h2::StreamResult;

constexpr const char* kAuthority = "app.example";
// What an attack may leave behind in sluice's resident memory.
constexpr long kMemoryGrowthBound = 4L * 1024 * 1024;

Fields get(const std::string& path, const Fields& extra = {}) {
  return h2::request_fields("GET", kAuthority, path, extra);
}

std::string describe(const StreamResult& s) {
  std::string out = "status " + std::to_string(s.status());
  if (s.reset) out += ", reset " + h2::to_string(*s.reset);
  if (s.ended) out += ", ended";
  return out;
}

std::string describe(const std::optional<h2::Goaway>& g) {
  if (!g) return "no GOAWAY";
  return "GOAWAY last=" + std::to_string(g->last_stream_id) + " " + h2::to_string(g->error_code) +
         " \"" + g->debug_data + "\"";
}

// The frames received, one line each (the last `n`), for failure messages.
std::string frames_seen(const H2Connection& c, std::size_t n = 20) {
  std::string out;
  const auto& all = c.received();
  for (std::size_t i = all.size() > n ? all.size() - n : 0; i < all.size(); ++i)
    out += "  " + all[i].describe() + "\n";
  return std::to_string(all.size()) + " frames received; the last:\n" + out;
}

long ms_since(Clock::time_point t) {
  return static_cast<long>(
      std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - t).count());
}

// Resident memory before an attack, checked against after.
class MemoryWatch {
 public:
  explicit MemoryWatch(pid_t pid) : pid_(pid), before_(resident_bytes(pid)) {}
  void expect_bounded(const char* what) const {
    const long after = resident_bytes(pid_);
    // ASan's shadow memory and quarantine make resident sizes meaningless.
    if (kSanitizedAllocator) return;
    ASSERT_GT(before_, 0);
    EXPECT_LT(after - before_, kMemoryGrowthBound)
        << what << ": resident " << before_ / 1024 << " KiB before, " << after / 1024
        << " KiB after";
  }

 private:
  pid_t pid_;
  long before_;
};

#define H2_CONNECT(conn, sluice, ...)                                 \
  H2Connection conn((sluice).port("web") __VA_OPT__(, ) __VA_ARGS__); \
  ASSERT_TRUE(conn.connected());                                      \
  ASSERT_TRUE(conn.handshake()) << "no server SETTINGS\n" << (sluice).process().output()

// One exchange on a fresh connection, so that the connection machinery's
// first allocations are made before a MemoryWatch starts.
void warm_up(SluiceInstance& sluice) {
  H2_CONNECT(c, sluice);
  const StreamResult r = c.request(get("/warm-up"));
  ASSERT_EQ(r.status(), 200) << describe(r) << "\n" << sluice.process().output();
}

// Sends `frames` (as many as the server takes), then expects GOAWAY with
// ENHANCE_YOUR_CALM and the close.
void expect_enhance_your_calm(H2Connection& c, const std::string& frames, const std::string& what) {
  c.send(frames, 5s);  // the server may close before taking them all
  const auto goaway = c.wait_goaway(5s);
  ASSERT_TRUE(goaway) << what << ": no GOAWAY";
  EXPECT_EQ(goaway->error_code, ErrorCode::enhance_your_calm) << what << ": " << describe(goaway);
  EXPECT_TRUE(c.wait_closed(5s)) << what << ": the connection stays open after its GOAWAY";
}

// ---- Rapid Reset (CVE-2023-44487) ----

TEST(H2RapidReset, ResetsBeyondTheBudgetGetGoawayEnhanceYourCalmAndTheBackendSeesFew) {
  TestBackend backend(TestBackend::echo());
  // The default budget: a burst of 100 resets, 10 more a second.
  SluiceInstance sluice(h2_config(backend.address()));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  warm_up(sluice);
  const MemoryWatch memory(sluice.process().pid());
  constexpr int kConnections = 3;
  constexpr int kStreams = 1000;  // per connection
  const auto start = Clock::now();
  for (int n = 0; n < kConnections; ++n) {
    H2_CONNECT(c, sluice);
    // Open and at once cancel streams, 100 to a write, until the server
    // stops taking them.
    bool sending = true;
    for (int batch = 0; batch < kStreams / 100 && sending; ++batch) {
      std::string out;
      for (int i = 0; i < 100; ++i) {
        const std::uint32_t id = c.take_stream_id();
        out += h2::headers_frame(id, c.encode(get("/reset")), true);
        out += h2::rst_stream_frame(id, ErrorCode::cancel);
      }
      sending = c.send(out, 5s);
    }
    const auto goaway = c.wait_goaway(5s);
    ASSERT_TRUE(goaway) << "connection " << n << ": no GOAWAY after " << kStreams << " resets";
    EXPECT_EQ(goaway->error_code, ErrorCode::enhance_your_calm) << describe(goaway);
    EXPECT_TRUE(c.wait_closed(5s)) << "connection " << n << " stays open after its GOAWAY";
  }
  // Each connection's budget: the burst, plus what refills meanwhile.
  const long seconds = ms_since(start) / 1000 + 1;
  const std::size_t bound = kConnections * (100 + 10 * seconds) + 1;  // + the warm-up
  EXPECT_LE(backend.requests().size(), bound)
      << "of " << kConnections * kStreams << " reset streams";
  memory.expect_bounded("Rapid Reset");
  // sluice still serves.
  H2_CONNECT(after, sluice);
  EXPECT_EQ(after.request(get("/after")).status(), 200);
}

// ---- CONTINUATION flood ----

TEST(H2ContinuationFlood, MoreContinuationFramesThanAllowedGetGoawayAndClose) {
  TestBackend backend(TestBackend::echo());
  SluiceInstance sluice(h2_config(backend.address()));  // max_continuations: 8
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  warm_up(sluice);
  const MemoryWatch memory(sluice.process().pid());
  H2_CONNECT(c, sluice);
  // A header block of small fields, cut into 10-byte fragments: HEADERS
  // without END_HEADERS, then hundreds of CONTINUATION frames.
  Fields fields = get("/flood");
  for (int i = 0; i < 300; ++i)
    fields.emplace_back("x-f" + std::to_string(i), "v");
  const std::string block = c.encode(fields);
  ASSERT_GT(block.size(), 1000u);
  const std::uint32_t id = c.take_stream_id();
  std::string out = h2::headers_frame(id, block.substr(0, 10), true, false);
  std::size_t frames = 0;
  for (std::size_t at = 10; at < block.size(); at += 10, ++frames)
    out += h2::continuation_frame(id, block.substr(at, 10), at + 10 >= block.size());
  ASSERT_GT(frames, 8u * 10);
  c.send(out, 5s);
  const auto goaway = c.wait_goaway(5s);
  ASSERT_TRUE(goaway) << "no GOAWAY after " << frames << " CONTINUATION frames";
  EXPECT_NE(goaway->error_code, ErrorCode::no_error) << describe(goaway);
  EXPECT_TRUE(c.wait_closed(5s));
  EXPECT_EQ(backend.requests().size(), 1u) << "the flooded request reached the backend";
  memory.expect_bounded("CONTINUATION flood");
}

TEST(H2ContinuationFlood, HeaderBlockAboveTwiceTheListLimitGetsGoawayAndClose) {
  TestBackend backend(TestBackend::echo());
  // The list limit is the listener's max_header_size by default.
  SluiceInstance sluice(h2_config(backend.address(), "", "    max_header_size: 4KiB\n"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  H2_CONNECT(c, sluice);
  // 4,000-byte frames (HEADERS and four CONTINUATION, within
  // max_continuations) of fields that hardly compress: over 16 KB of wire,
  // four times the list limit.
  Fields fields = get("/big");
  std::uint32_t x = 12345;
  for (int i = 0; i < 50; ++i) {
    std::string value(400, '\0');
    for (auto& ch : value) {
      x = x * 1103515245u + 12345u;
      ch = static_cast<char>('!' + (x >> 16) % 90);
    }
    fields.emplace_back("x-big" + std::to_string(i), value);
  }
  const std::string block = c.encode(fields);
  ASSERT_GT(block.size(), 16'000u);
  const std::uint32_t id = c.take_stream_id();
  std::string out = h2::headers_frame(id, block.substr(0, 4000), true, false);
  for (std::size_t at = 4000; at < block.size(); at += 4000)
    out += h2::continuation_frame(id, block.substr(at, 4000), at + 4000 >= block.size());
  c.send(out, 5s);
  const auto goaway = c.wait_goaway(5s);
  ASSERT_TRUE(goaway) << "no GOAWAY for a " << block.size() << "-byte header block; "
                      << frames_seen(c) << describe(c.stream(id));
  EXPECT_NE(goaway->error_code, ErrorCode::no_error) << describe(goaway);
  EXPECT_TRUE(c.wait_closed(5s));
  EXPECT_EQ(backend.requests().size(), 0u);
}

// ---- HPACK bomb ----

TEST(H2HpackBomb, OneTableEntryReferencedManyTimesIs431AndTheConnectionGoesOn) {
  TestBackend backend(TestBackend::echo());
  SluiceInstance sluice(h2_config(backend.address()));  // list limit: max_header_size, 16 KiB
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  warm_up(sluice);
  const MemoryWatch memory(sluice.process().pid());
  H2_CONNECT(c, sluice);
  // One 2,000-byte field into the dynamic table, then 79 one-byte
  // references to it: 80 x (6 + 2000 + 32) = 163 KB of header list
  // (RFC 9113 §6.5.2) from about 2 KB of wire.
  Fields bomb = get("/bomb");
  for (int i = 0; i < 80; ++i)
    bomb.emplace_back("x-bomb", std::string(2000, 'z'));
  for (int round = 0; round < 20; ++round) {
    const std::string block = c.encode(bomb);
    ASSERT_LT(block.size(), 3000u) << "the premise: nghttp2 indexes the repeated field";
    const std::uint32_t id = c.take_stream_id();
    ASSERT_TRUE(c.send(h2::headers_frame(id, block, true)));
    const StreamResult r = c.wait_stream(id, 5s);
    ASSERT_EQ(r.status(), 431) << "round " << round << ": " << describe(r) << ", "
                               << describe(c.goaway());
  }
  const StreamResult ok = c.request(get("/after-bomb"));
  EXPECT_EQ(ok.status(), 200) << describe(ok);
  EXPECT_FALSE(c.goaway().has_value()) << describe(c.goaway());
  const auto seen = backend.requests();
  ASSERT_EQ(seen.size(), 2u);
  EXPECT_EQ(seen[1].target, "/after-bomb");
  memory.expect_bounded("HPACK bomb");
}

// ---- Control frame floods ----

class H2ControlFlood : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(sluice_.ready()) << sluice_.process().output();
    warm_up(sluice_);
  }
  // 10,000 copies of `frame`: ten times the default burst (1,000, then
  // 100 a second).
  void flood(const std::string& what, const std::function<std::string(int)>& frame) {
    const MemoryWatch memory(sluice_.process().pid());
    H2_CONNECT(c, sluice_);
    std::string out;
    for (int i = 0; i < 10'000; ++i)
      out += frame(i);
    expect_enhance_your_calm(c, out, what);
    memory.expect_bounded(what.c_str());
  }
  TestBackend backend_{TestBackend::echo()};
  SluiceInstance sluice_{h2_config(backend_.address())};
};

TEST_F(H2ControlFlood, SettingsFloodGetsGoawayEnhanceYourCalm) {
  flood("SETTINGS flood", [](int) { return h2::settings_frame(); });
}

TEST_F(H2ControlFlood, PingFloodGetsGoawayEnhanceYourCalm) {
  flood("PING flood", [](int i) { return h2::ping_frame(std::to_string(10'000'000 + i)); });
}

TEST_F(H2ControlFlood, WindowUpdateFloodGetsGoawayEnhanceYourCalm) {
  flood("WINDOW_UPDATE flood", [](int) { return h2::window_update_frame(0, 1); });
}

TEST_F(H2ControlFlood, PriorityFloodGetsGoawayEnhanceYourCalm) {
  flood("PRIORITY flood",
        [](int i) { return h2::priority_frame(static_cast<std::uint32_t>(2 * i + 101), 0, 16); });
}

TEST_F(H2ControlFlood, PingsWithinTheBudgetAreAnswered) {
  H2_CONNECT(c, sluice_);
  std::string out;
  for (int i = 0; i < 20; ++i)
    out += h2::ping_frame(std::to_string(10'000'000 + i));
  ASSERT_TRUE(c.send(out));
  int acks = 0;
  while (acks < 20) {
    const auto f = c.read_frame(3s);
    if (!f) break;
    if (f->type == FrameType::ping && f->has(h2::flags::ack)) ++acks;
  }
  EXPECT_EQ(acks, 20) << describe(c.goaway());
  EXPECT_EQ(c.request(get("/")).status(), 200);
}

// ---- Stalls and limits ----

TEST(H2ZeroWindow, StreamTheClientGivesNoWindowIsCancelledAfterTheTimeout) {
  TestBackend backend([](BackendConnection& conn) {
    ReceivedRequest r;
    while (conn.read_request(r))
      if (!conn.send(make_response(200, std::string(10'000, 'w')))) return;
  });
  SluiceInstance sluice(h2_config(backend.address(), "{zero_window_timeout: 300ms}"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  H2ConnectionOptions o;
  o.settings = {{Setting::enable_push, 0}, {Setting::initial_window_size, 0}};
  o.auto_window_update = false;
  H2_CONNECT(c, sluice, o);
  const auto start = Clock::now();
  const std::uint32_t id = c.open_stream(get("/stall"), true);
  const StreamResult r = c.wait_stream(id, 5s);
  const long waited = ms_since(start);
  ASSERT_TRUE(r.reset.has_value()) << describe(r) << " after " << waited << " ms";
  EXPECT_EQ(*r.reset, ErrorCode::cancel);
  EXPECT_EQ(r.body, "") << "DATA sent without window";
  EXPECT_GE(waited, 300 - kTimerEarliness.count());
  EXPECT_LT(waited, 3000);
}

TEST(H2MaxConcurrentStreams, StreamsAboveTheLimitAreRefusedAndTheOthersComplete) {
  HeldBackend held;
  SluiceInstance sluice(h2_config(held.address()));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  H2_CONNECT(c, sluice);
  ASSERT_EQ(c.server_setting(Setting::max_concurrent_streams), 100u);
  std::string out;
  std::vector<std::uint32_t> ids;
  for (int i = 0; i < 101; ++i) {
    ids.push_back(c.take_stream_id());
    out += h2::headers_frame(ids.back(), c.encode(get("/hold/" + std::to_string(i))), true);
  }
  ASSERT_TRUE(c.send(out));
  // §5.1.2: the 101st is refused while the 100 are open.
  const StreamResult extra = c.wait_stream(ids.back(), 5s);
  ASSERT_TRUE(extra.reset.has_value())
      << "stream " << ids.back() << ": " << describe(extra) << "; "
      << held.backend().requests().size() << " requests reached the backend\n"
      << frames_seen(c);
  EXPECT_TRUE(*extra.reset == ErrorCode::refused_stream ||
              *extra.reset == ErrorCode::protocol_error)
      << h2::to_string(*extra.reset);
  ASSERT_TRUE(held.backend().wait_for_requests(100, 10'000))
      << held.backend().requests().size() << " requests reached the backend";
  held.release();
  for (int i = 0; i < 100; ++i) {
    const StreamResult r = c.wait_stream(ids[i], 10s);
    EXPECT_EQ(r.status(), 200) << "stream " << ids[i] << ": " << describe(r);
    EXPECT_EQ(r.body, held.body()) << "stream " << ids[i];
  }
  EXPECT_EQ(held.backend().requests().size(), 100u);
  EXPECT_FALSE(c.goaway().has_value()) << describe(c.goaway());
}

TEST(H2StreamIdleTimeout, AStreamWithNoFrameEitherWayIsCancelledAndTheConnectionGoesOn) {
  HeldBackend held;
  SluiceInstance sluice(h2_config(held.address(), "{stream_idle_timeout: 300ms}"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  H2_CONNECT(c, sluice);
  const auto start = Clock::now();
  const std::uint32_t id = c.open_stream(get("/hold/idle"), true);
  const StreamResult r = c.wait_stream(id, 5s);
  const long waited = ms_since(start);
  ASSERT_TRUE(r.reset.has_value()) << describe(r) << " after " << waited << " ms";
  EXPECT_EQ(*r.reset, ErrorCode::cancel);
  EXPECT_GE(waited, 300 - kTimerEarliness.count());
  EXPECT_LT(waited, 3000);
  const StreamResult ok = c.request(get("/quick"));
  EXPECT_EQ(ok.status(), 200) << describe(ok);
}

TEST(H2ConnectionIdleTimeout, IdleConnectionGetsGoawayNoErrorThenClose) {
  TestBackend backend(TestBackend::echo());
  SluiceInstance sluice(h2_config(backend.address(), "", "    timeouts: {idle: 300ms}\n"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  H2_CONNECT(c, sluice);
  const StreamResult r = c.request(get("/once"));
  ASSERT_EQ(r.status(), 200) << describe(r);
  const auto idle_since = Clock::now();
  const auto goaway = c.wait_goaway(5s);
  const long waited = ms_since(idle_since);
  ASSERT_TRUE(goaway) << "no GOAWAY after " << waited << " ms idle";
  EXPECT_EQ(goaway->error_code, ErrorCode::no_error) << describe(goaway);
  EXPECT_EQ(goaway->last_stream_id, 1u);
  EXPECT_GE(waited, 300 - kTimerEarliness.count());
  EXPECT_TRUE(c.wait_closed(5s));
}

TEST(H2ConnectionIdleTimeout, ConnectionThatSendsOnlyThePrefaceIsClosedAfterTheHeaderTimeout) {
  TestBackend backend(TestBackend::echo());
  SluiceInstance sluice(
      h2_config(backend.address(), "", "    timeouts: {header: 300ms, idle: 60s}\n"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  // No automatic ACK of the server's SETTINGS: this client sends nothing
  // after the preface (an ACK would be a protocol error of its own).
  H2ConnectionOptions options;
  options.auto_ack = false;
  H2Connection c(sluice.port("web"), options);
  ASSERT_TRUE(c.connected());
  const auto start = Clock::now();
  ASSERT_TRUE(c.send(std::string(h2::kPreface, h2::kPrefaceSize)));  // and no SETTINGS
  // A GOAWAY may come first; the close must follow.
  const auto goaway = c.wait_goaway(5s);
  const long goaway_after = ms_since(start);
  EXPECT_TRUE(c.wait_closed(5s)) << describe(goaway) << " after " << goaway_after << " ms; "
                                 << frames_seen(c) << sluice.process().output();
  const long waited = ms_since(start);
  EXPECT_GE(waited, 300 - kTimerEarliness.count());
  EXPECT_LT(waited, 3000);
}

// ---- Graceful shutdown ----

TEST(H2Graceful, SigtermSendsGoawayNoErrorAndTheStreamInFlightFinishes) {
  HeldBackend held(std::string(100'000, 'g'));
  SluiceInstance sluice(h2_config(held.address()));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  H2_CONNECT(c, sluice);
  const std::uint32_t id = c.open_stream(get("/hold/slow"), true);
  ASSERT_TRUE(held.backend().wait_for_requests(1, 5000));
  ASSERT_EQ(::kill(sluice.process().pid(), SIGTERM), 0);
  const auto goaway = c.wait_goaway(5s);
  ASSERT_TRUE(goaway) << "no GOAWAY on SIGTERM\n" << sluice.process().output();
  EXPECT_EQ(goaway->error_code, ErrorCode::no_error) << describe(goaway);
  EXPECT_GE(goaway->last_stream_id, id) << "the stream in flight is not covered";
  held.release();
  const StreamResult r = c.wait_stream(id, 10s);
  EXPECT_EQ(r.status(), 200) << describe(r);
  EXPECT_TRUE(r.ended);
  EXPECT_EQ(r.body.size(), held.body().size());
  EXPECT_TRUE(c.wait_closed(10s)) << "the connection stays open after its last stream";
  // The final GOAWAY names the stream that was processed.
  EXPECT_EQ(c.goaway()->last_stream_id, id) << describe(c.goaway());
  const int status = sluice.process().wait(10s);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << sluice.process().output();
}

}  // namespace
}  // namespace sluice::test
