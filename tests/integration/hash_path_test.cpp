// balance: hash with key path hashed the target as received, so spellings
// of one path (`/a/./b`, `/a//b`, `/a/%62`) could land on different servers.
// It hashes the path as routed and forwarded now.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>

#include "one_backend_config.h"
#include "sluice_instance.h"
#include "support/http_client.h"
#include "support/test_backend.h"

namespace sluice::test {
namespace {

TEST(HashByPath, EverySpellingOfAPathLandsOnTheSameServer) {
  TestBackend a(TestBackend::echo());
  TestBackend b(TestBackend::echo());
  TestBackend c(TestBackend::echo());
  SluiceInstance sluice(one_backend_config(a.address() + ", " + b.address() + ", " + c.address(),
                                           "    balance: hash\n    hash: {key: path}\n"));
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const char* spellings[] = {"/a/b",      "/a/./b",   "/a//b", "/a/%62",
                             "/x/../a/b", "/a/b?q=1", "/%61/b"};
  for (const char* path : spellings) {
    RawConnection conn(sluice.port("web"));
    ASSERT_TRUE(conn.send(std::string("GET ") + path + " HTTP/1.1\r\nHost: t\r\n\r\n"));
    auto r = conn.read_response(false, 5'000);
    ASSERT_TRUE(r) << path << "\n" << sluice.process().output();
    EXPECT_EQ(r->status, 200) << path;
  }
  const std::size_t n = std::size(spellings);
  const std::size_t most =
      std::max({a.requests().size(), b.requests().size(), c.requests().size()});
  EXPECT_EQ(most, n) << "a: " << a.requests().size() << " b: " << b.requests().size()
                     << " c: " << c.requests().size();
}

}  // namespace
}  // namespace sluice::test
