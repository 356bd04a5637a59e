// `sluice config push` and `sluice config get` against a real etcd on
// loopback, checked with etcdctl: what a user sees in etcd and on the
// command line.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <string>

#include "sluice_instance.h"
#include "support/etcd_process.h"
#include "support/process.h"
#include "support/temp_dir.h"
#include "support/test_pki.h"

namespace sluice::test {
namespace {

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

constexpr const char* kSite = R"(# the site, as pushed
listeners:
  - name: web
    listen: 127.0.0.1:0
routes:
  - match: {path_exact: /old}
    redirect: {path: /new}
  - name: api
    match: {path: /api}
    backend: app
  - name: hello
    match: {path: /hello}
    respond: {status: 200, body: "hi\n"}   # kept as written
backends:
  app:
    servers:
      - address: 127.0.0.1:9
log:
  level: warn
)";

// kSite without the route 'hello', and the backend with a second server.
constexpr const char* kSiteChanged = R"(listeners:
  - name: web
    listen: 127.0.0.1:0
routes:
  - match: {path_exact: /old}
    redirect: {path: /new}
  - name: api
    match: {path: /api}
    backend: app
backends:
  app:
    servers:
      - address: 127.0.0.1:9
      - address: 127.0.0.1:10
log:
  level: warn
)";

// One key as etcdctl sees it.
struct Kv {
  std::string value;
  long long mod_revision = 0;
};

class ConfigPush : public ::testing::Test {
 protected:
  void SetUp() override { ASSERT_TRUE(etcd_.ready()) << etcd_.output(); }

  CommandResult push(const std::string& path, std::vector<std::string> extra = {}) {
    std::vector<std::string> argv{sluice_binary(), "config",        "push", path,
                                  "--etcd",        etcd_.endpoint()};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return run_command(argv);
  }

  // Every key under /sluice/ with its value and mod_revision, and the
  // store's revision, read with etcdctl's JSON output.
  std::map<std::string, Kv> keys(long long* revision = nullptr) {
    const auto r = etcd_.etcdctl({"get", "--prefix", "/sluice/", "-w", "json"});
    EXPECT_EQ(r.exit_code, 0) << r.output;
    const YAML::Node json = YAML::Load(r.output);
    if (revision) *revision = json["header"]["revision"].as<long long>();
    std::map<std::string, Kv> out;
    for (const auto& kv : json["kvs"]) {
      out[base64(kv["key"].as<std::string>())] = {base64(kv["value"].as<std::string>()),
                                                  kv["mod_revision"].as<long long>()};
    }
    return out;
  }

  static std::string base64(const std::string& in) {
    static const std::string kAlphabet =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    std::string out;
    unsigned bits = 0;
    int count = 0;
    for (const char c : in) {
      const auto at = kAlphabet.find(c);
      if (at == std::string::npos) continue;  // '=' padding
      bits = (bits << 6) | static_cast<unsigned>(at);
      count += 6;
      if (count >= 8) {
        count -= 8;
        out += static_cast<char>((bits >> count) & 0xff);
      }
    }
    return out;
  }

  EtcdProcess etcd_;
  TempDir dir_;
};

TEST_F(ConfigPush, PushWritesOneKeyPerItemAndBumpsTheGenerationInOneRevision) {
  const auto r = push(dir_.write("site.yaml", kSite));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "6 keys written, 0 deleted, 0 unchanged; generation 1"))
      << r.output;

  long long revision = 0;
  const auto kvs = keys(&revision);
  std::set<std::string> names;
  for (const auto& [key, kv] : kvs) {
    names.insert(key);
    EXPECT_EQ(kv.mod_revision, revision) << key << ": not written by the one transaction";
  }
  EXPECT_EQ(names, (std::set<std::string>{"/sluice/generation", "/sluice/listeners/web",
                                          "/sluice/routes/api", "/sluice/routes/hello",
                                          "/sluice/routes/route-0001", "/sluice/backends/app",
                                          "/sluice/settings/log"}));
  EXPECT_EQ(kvs.at("/sluice/generation").value, "1");
  EXPECT_EQ(kvs.at("/sluice/routes/hello").value,
            "name: hello\nmatch: {path: /hello}\nrespond: {status: 200, body: \"hi\\n\"}   # kept "
            "as written\n");
}

TEST_F(ConfigPush, PushAgainDeletesWhatIsGoneAndLeavesUnchangedKeysAlone) {
  ASSERT_EQ(push(dir_.write("site.yaml", kSite)).exit_code, 0);
  long long first_revision = 0;
  const auto before = keys(&first_revision);

  const auto r = push(dir_.write("site.yaml", kSiteChanged));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_TRUE(contains(r.output, "1 key written, 1 deleted, 4 unchanged; generation 2"))
      << r.output;

  long long revision = 0;
  const auto after = keys(&revision);
  EXPECT_EQ(revision, first_revision + 1) << "more than one transaction";
  EXPECT_FALSE(after.contains("/sluice/routes/hello"));
  EXPECT_EQ(after.at("/sluice/generation").value, "2");
  EXPECT_EQ(after.at("/sluice/generation").mod_revision, revision);
  EXPECT_EQ(after.at("/sluice/backends/app").mod_revision, revision);
  EXPECT_TRUE(contains(after.at("/sluice/backends/app").value, "127.0.0.1:10"));
  for (const char* untouched : {"/sluice/listeners/web", "/sluice/routes/api",
                                "/sluice/routes/route-0001", "/sluice/settings/log"}) {
    EXPECT_EQ(after.at(untouched).mod_revision, before.at(untouched).mod_revision) << untouched;
  }
}

TEST_F(ConfigPush, KeysWrittenByHandThatTheFileLacksAreDeletedByTheNextPush) {
  ASSERT_EQ(etcd_.etcdctl({"put", "/sluice/routes/stray", "backend: app\n"}).exit_code, 0);
  const auto r = push(dir_.write("site.yaml", kSite));
  ASSERT_EQ(r.exit_code, 0) << r.output;
  EXPECT_FALSE(keys().contains("/sluice/routes/stray"));
}

// What a file means, section by section: items by name, as YAML trees
// (formatting and comments aside).
std::map<std::string, std::string> meaning(const std::string& text) {
  const YAML::Node root = YAML::Load(text);
  std::map<std::string, std::string> out;
  for (const auto& section : root) {
    const std::string s = section.first.as<std::string>();
    if (s == "listeners" || s == "routes") {
      for (const auto& item : section.second)
        out[s + "/" + item["name"].as<std::string>()] = YAML::Dump(item);
    } else if (s == "backends" || s == "middlewares") {
      for (const auto& kv : section.second)
        out[s + "/" + kv.first.as<std::string>()] = YAML::Dump(kv.second);
    } else {
      out[s] = YAML::Dump(section.second);
    }
  }
  return out;
}

TEST_F(ConfigPush, GetWritesYamlThatCheckAcceptsAndThatMeansWhatThePushedFileMeant) {
  // Every route named: the unnamed one would come back named by its key.
  std::string site = kSite;
  site.replace(site.find("  - match: {path_exact: /old}"), 29,
               "  - name: route-0001\n    match: {path_exact: /old}");
  const std::string path = dir_.write("site.yaml", site);
  ASSERT_EQ(push(path).exit_code, 0);

  const auto got = run_command({sluice_binary(), "config", "get", "--etcd", etcd_.endpoint()});
  ASSERT_EQ(got.exit_code, 0) << got.output;
  EXPECT_TRUE(contains(got.output, "# kept as written")) << got.output;
  EXPECT_EQ(meaning(got.output), meaning(site)) << got.output;

  const std::string copy = dir_.write("from-etcd.yaml", got.output);
  const auto checked = run_command({sluice_binary(), "check", "-c", copy});
  EXPECT_EQ(checked.exit_code, 0) << checked.output;
  EXPECT_EQ(checked.output, copy + ": ok (1 listener, 3 routes, 1 backend, 1 server)\n");
}

TEST_F(ConfigPush, AnInvalidFileIsReportedAtItsLineAndNothingIsWritten) {
  ASSERT_EQ(push(dir_.write("site.yaml", kSite)).exit_code, 0);
  long long revision = 0;
  const auto before = keys(&revision);

  std::string bad = kSiteChanged;  // line 9: "backend: app" becomes an undefined backend
  bad.replace(bad.find("backend: app"), 12, "backend: nowhere");
  const std::string path = dir_.write("bad.yaml", bad);
  const auto r = push(path);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.output, path + ":9:14: error: route 'api' refers to backend 'nowhere'"))
      << r.output;
  long long revision_after = 0;
  const auto after = keys(&revision_after);
  EXPECT_EQ(revision_after, revision);
  EXPECT_EQ(after.size(), before.size());
  EXPECT_EQ(after.at("/sluice/generation").value, "1");
}

TEST_F(ConfigPush, RoutesWhoseOrderOnlyTheFileDecidesMustKeepItInEtcd) {
  // Both match GET /a with the same rank: the file says 'zeta' first, etcd's
  // key order would say 'alpha'.
  const std::string path = dir_.write("order.yaml", R"(listeners:
  - name: web
    listen: 127.0.0.1:0
routes:
  - name: zeta
    match: {path: /a, headers: {X-Canary: "1"}}
    respond: {status: 200}
  - name: alpha
    match: {path: /a}
    respond: {status: 404}
)");
  const auto r = push(path);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(
      contains(r.output, path + ":8:5: error: route 'alpha' comes after route 'zeta' (line 5)"))
      << r.output;
  EXPECT_TRUE(keys().empty());

  // With priorities saying it, the order no longer depends on names.
  const std::string fixed = dir_.write("fixed.yaml", R"(listeners:
  - name: web
    listen: 127.0.0.1:0
routes:
  - name: zeta
    priority: 1
    match: {path: /a, headers: {X-Canary: "1"}}
    respond: {status: 200}
  - name: alpha
    match: {path: /a}
    respond: {status: 404}
)");
  const auto ok = push(fixed);
  EXPECT_EQ(ok.exit_code, 0) << ok.output;
}

TEST_F(ConfigPush, ACertificateFileIsPushedAsAKeyTheListenerRefersTo) {
  TestPki pki(dir_.path().string());
  CertSpec spec;
  spec.dns_names = {"site.example.com"};
  const IssuedCert site = pki.issue("site", spec);
  const std::string path =
      dir_.write("tls.yaml",
                 "listeners:\n  - name: web\n    listen: 127.0.0.1:0\n    tls:\n"
                 "      certificates: [{cert: " +
                     site.cert_path + ", key: " + site.key_path +
                     "}]\nroutes:\n  - name: hi\n    respond: {status: 200}\n");
  const auto r = push(path);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto kvs = keys();
  std::ifstream cert(site.cert_path);
  std::ifstream key(site.key_path);
  std::stringstream pem;
  pem << cert.rdbuf() << key.rdbuf();
  ASSERT_TRUE(kvs.contains("/sluice/certificates/site"));
  EXPECT_EQ(kvs.at("/sluice/certificates/site").value, pem.str());
  const YAML::Node listener = YAML::Load(kvs.at("/sluice/listeners/web").value);
  EXPECT_EQ(listener["tls"]["certificates"][0]["etcd"].as<std::string>(), "site");
  EXPECT_FALSE(contains(kvs.at("/sluice/listeners/web").value, site.key_path));
}

TEST_F(ConfigPush, GetWithACertificateDirWritesTheCertificatesAndAFileCheckAccepts) {
  TestPki pki(dir_.path().string());
  CertSpec spec;
  spec.dns_names = {"site.example.com"};
  const IssuedCert site = pki.issue("site", spec);
  const std::string path =
      dir_.write("tls.yaml",
                 "listeners:\n  - name: web\n    listen: 127.0.0.1:0\n    tls:\n"
                 "      certificates: [{cert: " +
                     site.cert_path + ", key: " + site.key_path +
                     "}]\nroutes:\n  - name: hi\n    respond: {status: 200}\n");
  ASSERT_EQ(push(path).exit_code, 0);

  const std::string certs = (dir_.path() / "from-etcd").string();
  const auto got = run_command(
      {sluice_binary(), "config", "get", "--etcd", etcd_.endpoint(), "--certificate-dir", certs});
  ASSERT_EQ(got.exit_code, 0) << got.output;
  EXPECT_TRUE(contains(got.output, certs + "/site.crt")) << got.output;
  struct stat key_stat {};
  ASSERT_EQ(::stat((certs + "/site.key").c_str(), &key_stat), 0);
  EXPECT_EQ(key_stat.st_mode & 0777, 0600u);

  const std::string copy = dir_.write("from-etcd.yaml", got.output);
  const auto checked = run_command({sluice_binary(), "check", "-c", copy});
  EXPECT_EQ(checked.exit_code, 0) << checked.output << got.output;
}

TEST_F(ConfigPush, PushWhenEtcdIsDownSaysSoAndExitsOne) {
  const std::string path = dir_.write("site.yaml", kSite);
  etcd_.stop();
  const auto r = push(path);
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_TRUE(contains(r.output, "sluice config push: etcd " + etcd_.endpoint())) << r.output;
  EXPECT_TRUE(contains(r.output, "nothing pushed")) << r.output;
}

TEST_F(ConfigPush, GetWithNothingUnderThePrefixSaysSo) {
  const auto r = run_command(
      {sluice_binary(), "config", "get", "--etcd", etcd_.endpoint(), "--prefix", "/empty/"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(r.output, "sluice config get: no keys under /empty/\n");
}

TEST_F(ConfigPush, AGuardedEtcdTakesTheUserAndThePasswordFile) {
  std::string error;
  ASSERT_TRUE(etcd_.enable_auth("pw", &error)) << error;
  const std::string path = dir_.write("site.yaml", kSite);

  const auto refused = push(path);
  EXPECT_EQ(refused.exit_code, 1);
  EXPECT_TRUE(contains(refused.output, "nothing pushed")) << refused.output;

  // As `echo pw > file` writes it: the line feed is not part of it.
  const std::string password = dir_.write("password", "pw\n");
  const auto r = push(path, {"--user", "root", "--password-file", password});
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto got =
      etcd_.etcdctl({"--user", "root:pw", "get", "/sluice/generation", "--print-value-only"});
  EXPECT_EQ(got.output, "1\n");
}

TEST_F(ConfigPush, FiveThousandRoutesArePushedInOneTransaction) {
  std::string file = "listeners:\n  - name: web\n    listen: 127.0.0.1:0\nroutes:\n";
  for (int i = 0; i < 5'000; ++i) {
    file += "  - name: r" + std::to_string(i) + "\n    match: {path_exact: /r" + std::to_string(i) +
            "}\n    respond: {status: 200}\n";
  }
  const auto start = std::chrono::steady_clock::now();
  const auto r = push(dir_.write("big.yaml", file));
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - start)
                      .count();
  ASSERT_EQ(r.exit_code, 0) << r.output;
  std::printf("[fleet] config push of 5,000 routes: %lld ms\n", static_cast<long long>(ms));
  long long revision = 0;
  const auto kvs = keys(&revision);
  EXPECT_EQ(kvs.size(), 5'002u);
  EXPECT_EQ(kvs.at("/sluice/routes/r4999").mod_revision, revision);
  EXPECT_EQ(kvs.at("/sluice/generation").mod_revision, revision);
}

TEST(ConfigPushTls, AnHttpsEtcdAskingForAClientCertificateIsReachedWithCacertCertAndKey) {
  EtcdOptions options;
  options.tls = true;
  options.client_cert_auth = true;
  EtcdProcess etcd(options);
  ASSERT_TRUE(etcd.ready()) << etcd.output();
  TempDir dir;
  const std::string path = dir.write("site.yaml", kSite);
  const std::vector<std::string> base{sluice_binary(), "config",        "push",     path,
                                      "--etcd",        etcd.endpoint(), "--cacert", etcd.ca_path()};

  const auto anonymous = run_command(base);
  EXPECT_EQ(anonymous.exit_code, 1);
  EXPECT_TRUE(contains(anonymous.output, "nothing pushed")) << anonymous.output;

  auto argv = base;
  argv.insert(argv.end(), {"--cert", etcd.client_cert_path(), "--key", etcd.client_key_path()});
  const auto r = run_command(argv);
  ASSERT_EQ(r.exit_code, 0) << r.output;
  const auto got = etcd.etcdctl({"get", "/sluice/generation", "--print-value-only"});
  EXPECT_EQ(got.output, "1\n");
}

}  // namespace
}  // namespace sluice::test
