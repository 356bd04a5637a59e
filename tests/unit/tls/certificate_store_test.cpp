// Which certificate a server name gets: exact names, then one-label
// wildcards, then the default; an EC and an RSA certificate for one name
// are offered together; a replacement takes over its names only.
#include "tls/certificate_store.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <vector>

#include "support/temp_dir.h"
#include "support/test_pki.h"
#include "tls/certificate_cache.h"

namespace sluice::tls {
namespace {

using test::CertSpec;
using test::KeyKind;

class CertificateStoreTest : public ::testing::Test {
 protected:
  std::shared_ptr<const Certificate> make(const std::string& stem, std::vector<std::string> names,
                                          KeyKind kind = KeyKind::ec_p256) {
    CertSpec spec;
    spec.dns_names = std::move(names);
    spec.key = kind;
    const auto issued = pki.issue(stem, spec);
    std::string error;
    auto c = cache.load(issued.cert_path, issued.key_path, error);
    EXPECT_TRUE(c) << error;
    return c;
  }

  test::TempDir dir;
  test::TestPki pki{dir.path().string()};
  CertificateCache cache;
};

TEST_F(CertificateStoreTest, ExactNamesThenOneLabelWildcardsThenTheDefault) {
  const auto def = make("default", {"default.example.com"});
  const auto exact = make("exact", {"a.example.com", "B.Example.com"});
  const auto wild = make("wild", {"*.w.example.com"});
  const CertificateStore store({def, exact, wild});

  EXPECT_EQ(store.find("a.example.com").first, exact.get());
  EXPECT_EQ(store.find("b.EXAMPLE.com.").first, exact.get()) << "no case, one trailing dot";
  EXPECT_EQ(store.find("x.w.example.com").first, wild.get());
  // RFC 6125 §6.4.3: a wildcard stands for exactly one label.
  EXPECT_EQ(store.find("w.example.com").first, def.get());
  EXPECT_EQ(store.find("a.b.w.example.com").first, def.get());
  EXPECT_EQ(store.find("unknown.example.org").first, def.get());
  EXPECT_EQ(store.find("").first, def.get()) << "a client without SNI gets the default";
  EXPECT_EQ(store.find("a.example.com").second, nullptr);
}

TEST_F(CertificateStoreTest, AnExactNameBeatsAWildcardListedFirst) {
  const auto wild = make("wild", {"*.example.com"});
  const auto exact = make("exact", {"a.example.com"});
  const CertificateStore store({wild, exact});
  EXPECT_EQ(store.find("a.example.com").first, exact.get());
  EXPECT_EQ(store.find("b.example.com").first, wild.get());
}

TEST_F(CertificateStoreTest, OneNameMayHaveAnEcAndAnRsaCertificate) {
  const auto ec = make("ec", {"a.example.com"});
  const auto rsa = make("rsa", {"a.example.com"}, KeyKind::rsa2048);
  const auto ec_again = make("ec2", {"a.example.com"});
  const CertificateStore store({ec, rsa, ec_again});
  const auto choice = store.find("a.example.com");
  EXPECT_EQ(choice.first, ec.get()) << "the first listed of each key kind";
  EXPECT_EQ(choice.second, rsa.get());
}

TEST_F(CertificateStoreTest, ACertificateListedManyTimesIsHeldOnce) {
  const auto wild = make("wild", {"*.example.com"});
  std::vector<std::shared_ptr<const Certificate>> listed(800, wild);
  const CertificateStore store(std::move(listed));
  EXPECT_EQ(store.certificates().size(), 1u);
  // And the cache hands out the one loaded copy for the same files.
  std::string error;
  const auto a =
      cache.load(dir.path().string() + "/wild.crt", dir.path().string() + "/wild.key", error);
  EXPECT_EQ(a.get(), wild.get()) << error;
}

TEST_F(CertificateStoreTest, AReplacementAnswersForItsNamesAndLeavesTheRest) {
  const auto def = make("default", {"default.example.com"});
  const auto a = make("a", {"a.example.com", "keep.example.com"});
  const auto store = std::make_shared<const CertificateStore>(
      std::vector<std::shared_ptr<const Certificate>>{def, a});
  const auto renewed = make("a2", {"a.example.com"});
  const auto added = make("new", {"new.example.com"});
  const auto next = store->with(renewed)->with(added);
  EXPECT_EQ(next->find("a.example.com").first, renewed.get());
  EXPECT_EQ(next->find("keep.example.com").first, a.get());
  EXPECT_EQ(next->find("new.example.com").first, added.get());
  EXPECT_EQ(next->find("").first, def.get());
  // The store it came from is unchanged: handshakes under way keep it.
  EXPECT_EQ(store->find("a.example.com").first, a.get());
  EXPECT_EQ(store->find("new.example.com").first, def.get());

  const auto new_default = make("d2", {"default.example.com"});
  EXPECT_EQ(next->with(new_default)->find("").first, new_default.get());
}

TEST_F(CertificateStoreTest, TheCacheReadsAFileAgainOnlyWhenItChanged) {
  const auto first = make("site", {"site.example.com"});
  std::string error;
  const std::string crt = dir.path().string() + "/site.crt";
  const std::string key = dir.path().string() + "/site.key";
  EXPECT_EQ(cache.load(crt, key, error).get(), first.get());
  CertSpec spec;
  spec.dns_names = {"site.example.com"};
  pki.issue("site", spec);  // rewrites both files
  const auto again = cache.load(crt, key, error);
  ASSERT_TRUE(again) << error;
  EXPECT_NE(again.get(), first.get());
}

TEST_F(CertificateStoreTest, BrokenFilesSayWhatIsWrong) {
  CertSpec spec;
  spec.dns_names = {"a.example.com"};
  const auto a = pki.issue("a", spec);
  spec.dns_names = {"b.example.com"};
  const auto b = pki.issue("b", spec);
  std::string error;
  EXPECT_FALSE(Certificate::load(a.cert_path, b.key_path, error));
  EXPECT_NE(error.find("does not match"), std::string::npos) << error;
  EXPECT_FALSE(Certificate::load(a.key_path, a.key_path, error));
  EXPECT_NE(error.find("no PEM certificate"), std::string::npos) << error;
  EXPECT_FALSE(Certificate::load(a.cert_path, a.cert_path, error));
  EXPECT_NE(error.find("private key"), std::string::npos) << error;
  EXPECT_FALSE(cache.load(dir.path().string() + "/missing.crt", a.key_path, error));
  EXPECT_NE(error.find("missing.crt"), std::string::npos) << error;
}

}  // namespace
}  // namespace sluice::tls
