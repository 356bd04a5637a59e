// A response body's pieces reach the client as the server sends them.
// sluice lets the kernel hold a piece (MSG_MORE) while more of the body is
// already waiting, so that a large body leaves in fewer, fuller segments;
// when the server then pauses instead, what was held must still go out at
// once, not after the kernel's own 200 ms.
#include <gtest/gtest.h>
#include <poll.h>
#include <sys/socket.h>

#include <atomic>
#include <chrono>
#include <string>
#include <vector>

#include "sluice_instance.h"
#include "support/http_client.h"
#include "support/test_backend.h"

namespace sluice::test {
namespace {

// Piece sizes in steps of 4 KiB up to 64 KiB: whatever the size of sluice's
// read buffer (a multiple of 4 KiB), some piece ends exactly on a full read.
std::vector<std::size_t> piece_sizes() {
  std::vector<std::size_t> sizes{100};
  for (std::size_t k = 1; k <= 16; ++k)
    sizes.push_back(k * 4096);
  return sizes;
}

std::size_t total(const std::vector<std::size_t>& sizes) {
  std::size_t n = 0;
  for (std::size_t s : sizes)
    n += s;
  return n;
}

// Reads from `fd` until `want` bytes in all have come, or `deadline_ms` passes.
bool read_until(int fd, std::string& got, std::size_t want, int deadline_ms) {
  const auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(deadline_ms);
  char buf[65536];
  while (got.size() < want) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
                          end - std::chrono::steady_clock::now())
                          .count();
    if (left <= 0) return false;
    pollfd p{fd, POLLIN, 0};
    if (::poll(&p, 1, static_cast<int>(left)) <= 0) continue;
    const ssize_t n = ::recv(fd, buf, sizeof buf, 0);
    if (n <= 0) return false;
    got.append(buf, static_cast<std::size_t>(n));
  }
  return true;
}

TEST(BodyPacing, APieceTheServerPausesAfterReachesTheClientWithoutWaitingForTheNext) {
  const std::vector<std::size_t> sizes = piece_sizes();
  std::atomic<std::size_t> client_has{0};  // body bytes the client has, for the server's pace
  std::atomic<bool> client_gave_up{false};
  TestBackend backend([&](BackendConnection& c) {
    ReceivedRequest req;
    if (!c.read_request(req)) return;
    std::string out =
        "HTTP/1.1 200 OK\r\nContent-Length: " + std::to_string(total(sizes)) + "\r\n\r\n";
    std::size_t sent = 0;
    for (std::size_t s : sizes) {
      out.append(s, 'x');
      if (!c.send(out)) return;
      out.clear();
      sent += s;
      // Lockstep: the next piece only once the client has this one. A
      // piece held back waits for a piece that never comes before it.
      while (client_has.load() < sent && !client_gave_up.load())
        c.readable(1);  // a bounded wait between looks at the client's count
      if (client_gave_up.load()) return;
    }
  });
  SluiceInstance s(
      "listeners:\n  - name: web\n    listen: 127.0.0.1:0\n"
      "routes:\n  - backend: app\nbackends:\n  app:\n    servers: [" +
      backend.address() + "]\n");
  ASSERT_TRUE(s.ready()) << s.process().output();
  RawConnection client(s.port("web"));
  ASSERT_TRUE(client.send("GET /pieces HTTP/1.1\r\nHost: x\r\n\r\n"));
  std::string got;
  ASSERT_TRUE(read_until(client.fd(), got, 1, 10'000));
  const std::size_t head_end = [&] {
    while (got.find("\r\n\r\n") == std::string::npos &&
           read_until(client.fd(), got, got.size() + 1, 10'000)) {
    }
    return got.find("\r\n\r\n") + 4;
  }();
  std::size_t want = head_end;
  for (std::size_t i = 0; i < sizes.size(); ++i) {
    want += sizes[i];
    // Well under the kernel's 200 ms hold, well over a relay's time.
    const bool came = read_until(client.fd(), got, want, 120);
    if (!came) client_gave_up = true;
    ASSERT_TRUE(came) << "piece " << i << " of " << sizes[i]
                      << " bytes: " << (got.size() - (want - sizes[i]))
                      << " bytes came within 120 ms";
    client_has = want - head_end;
  }
}

}  // namespace
}  // namespace sluice::test
