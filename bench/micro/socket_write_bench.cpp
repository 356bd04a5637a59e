// What a plain socket's write costs by how its pieces reach the kernel, over
// loopback TCP (the kernel's share is most of it): sendmsg(2) of a head and
// a body as two pieces, against the two copied into one buffer and sent with
// send(2), as Socket::write_some does for writes up to 2 KiB. Each iteration
// is one write and the read that drains it, on one thread, so the CPU time
// per iteration is both system calls and the TCP work between them; the
// difference between the two ways is the write's. Medians of repetitions,
// run interleaved: one run moves by a tenth on a shared machine.
#include <arpa/inet.h>
#include <benchmark/benchmark.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstring>
#include <vector>

namespace {

// A connected loopback pair; `from` has Nagle off, as the proxy's sockets.
struct LoopbackPair {
  int from = -1, to = -1;
  LoopbackPair() {
    const int listener = ::socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (::bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0 ||
        ::listen(listener, 1) != 0 ||
        ::getsockname(listener, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      std::abort();
    }
    from = ::socket(AF_INET, SOCK_STREAM, 0);
    if (::connect(from, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) std::abort();
    to = ::accept(listener, nullptr, nullptr);
    ::close(listener);
    int one = 1;
    ::setsockopt(from, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  }
  ~LoopbackPair() {
    ::close(from);
    ::close(to);
  }
  void drain(std::size_t bytes, std::vector<char>& buf) const {
    for (std::size_t got = 0; got < bytes;) {
      const ssize_t n = ::recv(to, buf.data(), buf.size(), 0);
      if (n <= 0) std::abort();
      got += static_cast<std::size_t>(n);
    }
  }
};

// A response head's usual size; the body is the rest of range(0).
constexpr std::size_t kHead = 200;

void BM_SendmsgOfTwoPieces(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  LoopbackPair p;
  std::vector<char> head(kHead, 'h'), body(size - kHead, 'b'), buf(1 << 16);
  for (auto _ : state) {
    iovec v[2] = {{head.data(), head.size()}, {body.data(), body.size()}};
    msghdr m{};
    m.msg_iov = v;
    m.msg_iovlen = 2;
    if (::sendmsg(p.from, &m, MSG_NOSIGNAL) != static_cast<ssize_t>(size)) std::abort();
    p.drain(size, buf);
  }
}

void BM_GatheredIntoOneSend(benchmark::State& state) {
  const auto size = static_cast<std::size_t>(state.range(0));
  LoopbackPair p;
  std::vector<char> head(kHead, 'h'), body(size - kHead, 'b'), buf(1 << 16), one(size);
  for (auto _ : state) {
    std::memcpy(one.data(), head.data(), head.size());
    std::memcpy(one.data() + head.size(), body.data(), body.size());
    if (::send(p.from, one.data(), size, MSG_NOSIGNAL) != static_cast<ssize_t>(size)) std::abort();
    p.drain(size, buf);
  }
}

// 812 bytes: the bench's keep-alive response (a 612-byte body); 2 KiB: where
// Socket::write_some stops gathering; 8 KiB: past it.
BENCHMARK(BM_SendmsgOfTwoPieces)
    ->Arg(812)
    ->Arg(2048)
    ->Arg(8192)
    ->Repetitions(15)
    ->ReportAggregatesOnly(true);
BENCHMARK(BM_GatheredIntoOneSend)
    ->Arg(812)
    ->Arg(2048)
    ->Arg(8192)
    ->Repetitions(15)
    ->ReportAggregatesOnly(true);

}  // namespace

// Repetitions run interleaved at random, so that a slow spell of the
// machine does not fall on one way of writing only.
int main(int argc, char** argv) {
  std::vector<char*> args(argv, argv + argc);
  char interleave[] = "--benchmark_enable_random_interleaving=true";
  args.insert(args.begin() + 1, interleave);
  int count = static_cast<int>(args.size());
  benchmark::Initialize(&count, args.data());
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
