// Socket activation: sluice serves on listening sockets the service
// manager opened for it (LISTEN_PID, LISTEN_FDS, LISTEN_FDNAMES), started
// through sluice_socket_activate as systemd would start it.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <arpa/inet.h>
#include <cstring>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "service_fixtures.h"
#include "sluice_instance.h"
#include "support/http_client.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace sluice::test {
namespace {

// A listening socket on `host` (127.0.0.1 by default), port from the
// kernel, that children inherit (no close-on-exec): the test plays the
// service manager.
struct ManagerSocket {
  explicit ManagerSocket(const char* host = "127.0.0.1") {
    fd = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    inet_pton(AF_INET, host, &a.sin_addr);
    socklen_t len = sizeof a;
    if (::bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 || ::listen(fd, 128) != 0 ||
        ::getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len) != 0)
      ADD_FAILURE() << "listen: " << std::strerror(errno);
    port = ntohs(a.sin_port);
  }
  ~ManagerSocket() { close(); }
  // systemd keeps its copy open while the service runs (so a listener
  // that binds its own instead fails: address in use); the test closes
  // its copy to see whether sluice closed the socket.
  void close() {
    if (fd >= 0) ::close(fd);
    fd = -1;
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(port); }
  int fd = -1;
  std::uint16_t port = 0;
};

// sluice run -c `yaml`, started as a socket-activated service with `sockets`
// (name, socket) as descriptors 3, 4, ...
std::unique_ptr<Process> activated(
    const TempDir& dir, const std::string& yaml,
    const std::vector<std::pair<std::string, ManagerSocket*>>& sockets) {
  std::vector<std::string> argv{SLUICE_SOCKET_ACTIVATE};
  for (const auto& [name, s] : sockets) {
    argv.push_back("--fd");
    argv.push_back(std::to_string(s->fd) + "=" + name);
  }
  argv.insert(argv.end(), {"--", sluice_binary(), "run", "-c", dir.write("sluice.yaml", yaml)});
  return std::make_unique<Process>(argv, dir.path().string());
}

TEST(SocketActivation, ListenersServeOnTheSocketsTheManagerOpened) {
  // Matched by address, not by spelling: the listener's "*:PORT" is the
  // manager's 0.0.0.0:PORT.
  ManagerSocket web("0.0.0.0");
  ManagerSocket admin;
  TempDir dir;
  auto sluice = activated(
      dir, hello_config("hello", "\"*:" + std::to_string(web.port) + "\"", admin.address()),
      {{"web", &web}, {"admin", &admin}});
  ASSERT_TRUE(sluice->wait_for_line("sluice ready")) << sluice->output();
  EXPECT_TRUE(sluice->wait_for_line("listener 'web' took over")) << sluice->output();
  // Connections spread over both workers' loops are all served.
  for (int i = 0; i < 20; ++i) {
    const auto hello = get(web.port, "/");
    ASSERT_TRUE(hello) << sluice->output();
    EXPECT_EQ(hello->body, "hello");
  }
  const auto memory = get(admin.port, "/debug/memory");
  ASSERT_TRUE(memory) << sluice->output();
  EXPECT_EQ(memory->status, 200);
  EXPECT_EQ(sluice->stop(SIGTERM), 0) << sluice->output();
}

TEST(SocketActivation, ASocketNoListenerWantsIsLoggedAndClosed) {
  ManagerSocket web;
  ManagerSocket stray;
  TempDir dir;
  const std::string stray_address = stray.address();
  auto sluice =
      activated(dir, hello_config("hello", web.address()), {{"web", &web}, {"stray", &stray}});
  stray.close();
  ASSERT_TRUE(sluice->wait_for_line("sluice ready")) << sluice->output();
  EXPECT_TRUE(sluice->wait_for_line("no listener is configured on " + stray_address))
      << sluice->output();
  RawConnection refused(stray.port);
  EXPECT_FALSE(refused.connected()) << "the stray socket still accepts connections";
  const auto hello = get(web.port, "/");
  ASSERT_TRUE(hello) << sluice->output();
  EXPECT_EQ(hello->body, "hello");
}

}  // namespace
}  // namespace sluice::test
