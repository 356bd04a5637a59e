// The test harness's own promise (support/process.h): a child's output is
// read as it comes, so a child is never held up writing it, whether or not
// the test ever looks. A child blocked on a full pipe once held etcd's log
// lock and stalled a 5,000-key transaction in CI.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

#include "support/process.h"

namespace sluice::test {
namespace {

TEST(ProcessHarness, AChildWritingFourTimesWhatItsPipeHoldsGoesOnWithoutTheTestReading) {
  const int listener = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(listener, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  socklen_t len = sizeof addr;
  ASSERT_EQ(::bind(listener, reinterpret_cast<sockaddr*>(&addr), len), 0);
  ASSERT_EQ(::listen(listener, 1), 0);
  ASSERT_EQ(::getsockname(listener, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  const std::string port = std::to_string(ntohs(addr.sin_port));

  // 4 MB to stdout (the pipe holds 1 MiB), and only then a connection to
  // the test: it arrives only if someone read the output meanwhile.
  Process child({"bash", "-c",
                 "head -c 4000000 /dev/zero; exec 3<>/dev/tcp/127.0.0.1/" + port + "; echo >&3"});
  pollfd p{listener, POLLIN, 0};
  ASSERT_EQ(::poll(&p, 1, 20'000), 1) << "the child is still blocked writing its output";
  // Accepted and read to its end before the listener closes: closing it
  // with the connection still queued would reset it under the child's
  // write, and the child would exit 1.
  const int conn = ::accept4(listener, nullptr, nullptr, SOCK_CLOEXEC);
  ASSERT_GE(conn, 0);
  char buf[16];
  while (::read(conn, buf, sizeof buf) > 0) {
  }
  ::close(conn);
  ::close(listener);
  EXPECT_EQ(child.wait(), 0);
  EXPECT_EQ(child.output().size(), 4'000'000u);
}

}  // namespace
}  // namespace sluice::test
