// The pure parts of reproxy (issue 18): which fields are ours, which URL
// a backend may make us fetch (the SSRF guard), and single byte ranges.
#include "proxy/reproxy.h"

#include <gtest/gtest.h>

namespace sluice::proxy {
namespace {

void allow_only(ReproxyPlan& p, std::string host, std::uint16_t port, std::string prefix) {
  p.urls = true;
  p.allow.push_back(ReproxyTarget{std::move(host), port, std::move(prefix), "t", nullptr});
}

const ReproxyTarget* allowed(const ReproxyPlan& p, std::string_view url) {
  ReproxyUrl u;
  if (!parse_reproxy_url(url, u)) return nullptr;
  return allowed_target(p, u);
}

TEST(ReproxyFields, OnlyTheReproxyFamilyIsOurs) {
  EXPECT_TRUE(is_reproxy_field("X-Reproxy-URL"));
  EXPECT_TRUE(is_reproxy_field("x-reproxy-expected-size"));
  EXPECT_TRUE(is_reproxy_field("X-Accel-Redirect"));
  EXPECT_TRUE(is_reproxy_field("X-ACCEL-BUFFERING"));
  EXPECT_TRUE(is_reproxy_field("X-Sendfile"));
  EXPECT_FALSE(is_reproxy_field("X-Forwarded-For"));
  EXPECT_FALSE(is_reproxy_field("X-Sendfile-Type2"));
  EXPECT_FALSE(is_reproxy_field("Accel-Redirect"));
}

TEST(ReproxyAllowlist, OnlyTheOriginAndPrefixConfiguredMayBeFetched) {
  ReproxyPlan p;
  allow_only(p, "127.0.0.1", 8080, "/static/");
  EXPECT_NE(allowed(p, "http://127.0.0.1:8080/static/a.png"), nullptr);
  EXPECT_NE(allowed(p, "HTTP://127.0.0.1:8080/static/a?x=1"), nullptr);
  EXPECT_EQ(allowed(p, "http://127.0.0.1:8081/static/a"), nullptr);  // another port
  EXPECT_EQ(allowed(p, "http://127.0.0.1/static/a"), nullptr);       // port 80
  EXPECT_EQ(allowed(p, "http://127.0.0.2:8080/static/a"), nullptr);  // another host
  EXPECT_EQ(allowed(p, "http://127.0.0.1:8080/admin"), nullptr);     // another path
  EXPECT_EQ(allowed(p, "http://127.0.0.1:8080/static/../admin"), nullptr);
  EXPECT_EQ(allowed(p, "http://127.0.0.1:8080/static/%2e%2e/admin"), nullptr);
  EXPECT_EQ(allowed(p, "http://evil@127.0.0.1:8080/static/a"), nullptr);
  EXPECT_EQ(allowed(p, "https://127.0.0.1:8080/static/a"), nullptr);
  EXPECT_EQ(allowed(p, "file:///etc/passwd"), nullptr);
}

TEST(ReproxyUrl, IsSplitForTheRequestItBecomes) {
  ReproxyUrl u;
  ASSERT_TRUE(parse_reproxy_url("http://Store.Internal:81/a/b?c=d#frag", u));
  EXPECT_EQ(u.host, "store.internal");
  EXPECT_EQ(u.port, 81);
  EXPECT_EQ(u.authority, "Store.Internal:81");
  EXPECT_EQ(u.path, "/a/b");
  EXPECT_EQ(u.target, "/a/b?c=d");
  ASSERT_TRUE(parse_reproxy_url("http://[::1]/", u));
  EXPECT_EQ(u.host, "::1");
  EXPECT_EQ(u.port, 80);
  EXPECT_FALSE(parse_reproxy_url("http://h:0/", u));
  EXPECT_FALSE(parse_reproxy_url("http:///x", u));
}

TEST(ReproxyAsk, ThePlanDecidesWhichFieldIsFollowed) {
  ReproxyPlan p;
  p.urls = true;
  const http::HeaderField both[] = {{"X-Accel-Redirect", "/x"},
                                    {"X-Reproxy-URL", " http://a/ http://b/ "},
                                    {"X-Reproxy-Expected-Size", "12"}};
  ReproxyAsk a = reproxy_asked(p, both);
  EXPECT_EQ(a.kind, ReproxyAsk::Kind::urls);
  EXPECT_EQ(a.value, "http://a/ http://b/");
  EXPECT_EQ(a.expected_size, 12u);
  p.accel_redirect = true;
  a = reproxy_asked(p, both);
  EXPECT_EQ(a.kind, ReproxyAsk::Kind::accel_redirect);
  const http::HeaderField file[] = {{"X-Sendfile", "/f"}};
  EXPECT_EQ(reproxy_asked(p, file).kind, ReproxyAsk::Kind::none);  // no files.root
  p.files_root = "/srv";
  EXPECT_EQ(reproxy_asked(p, file).kind, ReproxyAsk::Kind::file);
}

TEST(ByteRange, SingleRangesAreReadAndTheRestServedWhole) {
  auto r = parse_byte_range("bytes=0-3", 10);
  EXPECT_EQ(r.kind, ByteRange::Kind::part);
  EXPECT_EQ(r.first, 0u);
  EXPECT_EQ(r.last, 3u);
  r = parse_byte_range("bytes=4-", 10);
  EXPECT_EQ(r.first, 4u);
  EXPECT_EQ(r.last, 9u);
  r = parse_byte_range("bytes=-3", 10);
  EXPECT_EQ(r.first, 7u);
  EXPECT_EQ(r.last, 9u);
  r = parse_byte_range("bytes=5-100", 10);
  EXPECT_EQ(r.last, 9u);
  EXPECT_EQ(parse_byte_range("bytes=10-", 10).kind, ByteRange::Kind::unsatisfiable);
  EXPECT_EQ(parse_byte_range("bytes=-0", 10).kind, ByteRange::Kind::unsatisfiable);
  EXPECT_EQ(parse_byte_range("bytes=0-1,3-4", 10).kind, ByteRange::Kind::whole);
  EXPECT_EQ(parse_byte_range("bytes=5-2", 10).kind, ByteRange::Kind::whole);
  EXPECT_EQ(parse_byte_range("items=0-1", 10).kind, ByteRange::Kind::whole);
}

}  // namespace
}  // namespace sluice::proxy
