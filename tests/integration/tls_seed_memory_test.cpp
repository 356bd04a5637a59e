// Issue 16, seed 002: about 800 sites behind one TLS listener, most on one
// wildcard certificate and 50 on their own, reloading often. Traefik holds
// about 3 MB per connection there; HAProxy's certificate loading grows
// faster than linearly. Here: the generated configuration (800 hosts x 6
// routes, the wildcard certificate listed 750 times) starts under 30 MB,
// an idle TLS connection holds no record buffers, 50 reloads with 1,000
// idle TLS connections open leave resident memory flat and every
// connection usable, and 1,000 certificates load in about a second of CPU
// at most. It found that a keep-alive TLS client waited for its next request
// inside a read, counted active and holding a 20 KiB buffer (36 KB per idle
// TLS connection instead of 16 KB).
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/time.h>

#include <chrono>
#include <fstream>
#include <iostream>
#include <regex>
#include <string>
#include <thread>

#include "sluice_instance.h"
#include "support/process.h"
#include "support/temp_dir.h"
#include "support/test_backend.h"
#include "support/test_pki.h"

namespace sluice::test {
namespace {

#if defined(__SANITIZE_ADDRESS__)
constexpr bool kSanitizedAllocator = true;
#else
constexpr bool kSanitizedAllocator = false;
#endif

constexpr int kSites = 800;
constexpr int kExactSites = 50;  // the last 50: their own certificates
constexpr int kWildcardSites = kSites - kExactSites;
constexpr int kIdleClients = 1'000;
constexpr int kReloads = 50;
constexpr long kMiB = 1024 * 1024;
// What an idle TLS connection may cost in resident memory, its handshake
// over and its record buffers given back.
constexpr long kIdleTlsConnectionBytes = 20'000;

// Site i's name: on the wildcard certificate, or on one of its own.
std::string site_name(int i) {
  char name[64];
  if (i < kWildcardSites) {
    std::snprintf(name, sizeof name, "site%04d.example.com", i);
  } else {
    std::snprintf(name, sizeof name, "site%04d.other-domain.net", i - kWildcardSites + 1);
  }
  return name;
}

// The six routes of site i, as a generator writes them: a root and an
// /api prefix, /static rewritten to the asset server, a user regex
// rewritten, an exact health check, and a redirect or a fixed answer.
// `generation` changes the health answer, so each reload applies a new
// configuration.
std::string site_routes(int i, int generation) {
  const std::string host = site_name(i);
  const std::string n = std::to_string(i);
  const std::string backend = "site" + n;
  std::string r;
  r += "  - name: s" + n + "-root\n    match: {host: " + host + ", path: /}\n";
  r += (i % 3 == 0) ? "    backend: " + backend + "\n"
                    : "    respond: {status: 200, body: \"" + host + "\\n\"}\n";
  r += "  - name: s" + n + "-api\n    match: {host: " + host +
       ", path: /api}\n    backend: " + backend + "\n";
  r += "  - name: s" + n + "-static\n    match: {host: " + host +
       ", path: /static}\n    rewrite: {strip_prefix: /static, add_prefix: /assets}\n"
       "    backend: assets\n";
  r += "  - name: s" + n + "-users\n    priority: 10\n    match: {host: " + host +
       ", path_regex: \"^/app/users/([0-9]{4})$\"}\n    rewrite: {path: /users/$1}\n"
       "    backend: " +
       backend + "\n";
  r += "  - name: s" + n + "-health\n    match: {host: " + host +
       ", path_exact: /health}\n    respond: {status: 200, body: \"ok " +
       std::to_string(generation) + "\\n\"}\n";
  if (i % 2 == 0) {
    r += "  - name: s" + n + "-old\n    match: {host: " + host +
         ", path: /old}\n    redirect: {status: 301, scheme: https, path: /}\n";
  } else {
    r += "  - name: s" + n + "-gone\n    match: {host: " + host +
         ", path: /gone}\n    respond: {status: 410}\n";
  }
  return r;
}

CertSpec for_names(std::vector<std::string> dns_names) {
  CertSpec spec;
  spec.dns_names = std::move(dns_names);
  return spec;
}

struct SeedPki {
  std::string ca_path;
  IssuedCert wildcard;
  std::vector<IssuedCert> exact;  // kExactSites
};

SeedPki make_seed_pki(const TempDir& dir) {
  TestPki pki(dir.path().string(), "seed-ca");
  SeedPki out;
  out.ca_path = pki.ca_path();
  out.wildcard = pki.issue("wildcard", for_names({"*.example.com", "example.com"}));
  for (int i = kWildcardSites; i < kSites; ++i)
    out.exact.push_back(pki.issue("exact" + std::to_string(i), for_names({site_name(i)})));
  return out;
}

// Seed 002 as a generator writes it: every site lists its certificate, so
// the wildcard one appears 750 times (first: the listener's default).
std::string seed_config(const SeedPki& pki, const std::string& backend, int generation) {
  std::string y = R"(workers: 1
admin: {listen: 127.0.0.1:0}
listeners:
  - name: web
    listen: 127.0.0.1:0
    timeouts: {idle: 600s}
    tls:
      certificates:
)";
  for (int i = 0; i < kWildcardSites; ++i)
    y += "        - {cert: " + pki.wildcard.cert_path + ", key: " + pki.wildcard.key_path + "}\n";
  for (const auto& c : pki.exact)
    y += "        - {cert: " + c.cert_path + ", key: " + c.key_path + "}\n";
  y += "routes:\n";
  for (int i = 0; i < kSites; ++i)
    y += site_routes(i, generation);
  y += "backends:\n  assets:\n    servers: [" + backend + "]\n";
  for (int i = 0; i < kSites; ++i)
    y += "  site" + std::to_string(i) + ":\n    servers: [" + backend + "]\n";
  return y;
}

long resident_bytes(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("VmRSS:", 0) == 0) return std::stol(line.substr(6)) * 1024;
  return -1;
}

// The CPU time (user + system) of the children reaped so far.
double children_cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_CHILDREN, &u);
  auto s = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return s(u.ru_utime) + s(u.ru_stime);
}

struct Timed {
  CommandResult result;
  double wall_s = 0;
  double cpu_s = 0;
};

Timed timed_check(const std::string& config_path) {
  Timed t;
  const double cpu_before = children_cpu_seconds();
  const auto start = std::chrono::steady_clock::now();
  t.result = run_command({sluice_binary(), "check", "-c", config_path});
  t.wall_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  t.cpu_s = children_cpu_seconds() - cpu_before;
  return t;
}

// One descriptor per client connection, in this process's children.
void raise_descriptor_limit() {
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }
}

// A client holding many idle TLS connections (Python's ssl module: an
// implementation other than the one under test). Each connection verifies
// the certificate for its site's name (so SNI chose the right one), gets
// `GET /` answered, and idles. On SIGUSR1 it sends one more request on
// every tenth connection and reports how many were answered 200 with the
// body the last configuration gives.
constexpr const char* kIdleClientScript = R"PY(
import resource, signal, socket, ssl, sys
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
socket.setdefaulttimeout(20)
port, ca, count, sites, wildcard_sites = (int(sys.argv[1]), sys.argv[2], int(sys.argv[3]),
                                          int(sys.argv[4]), int(sys.argv[5]))
expected_after = sys.argv[6]  # the /health answer once told to check again

def name(i):
    i %= sites
    if i < wildcard_sites:
        return "site%04d.example.com" % i
    return "site%04d.other-domain.net" % (i - wildcard_sites + 1)

def get(conn, host, path):
    conn.sendall(("GET %s HTTP/1.1\r\nHost: %s\r\n\r\n" % (path, host)).encode())
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = conn.recv(4096)
        if not chunk:
            return None
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n")[1:]:
        key, _, value = line.partition(b":")
        if key.strip().lower() == b"content-length":
            length = int(value)
    while len(body) < length:
        chunk = conn.recv(4096)
        if not chunk:
            return None
        body += chunk
    return int(head.split(b" ")[1]), body.decode()

ctx = ssl.create_default_context(cafile=ca)
conns = []
for i in range(count):
    host = name(i)
    try:
        c = ctx.wrap_socket(socket.create_connection(("127.0.0.1", port)), server_hostname=host)
        r = get(c, host, "/health")
    except Exception as e:
        r = repr(e)
    if r is None or isinstance(r, str) or r[0] != 200:
        print("connection %d (%s) failed: %r" % (i, host, r), flush=True)
        sys.exit(1)
    conns.append((host, c))
print("idle %d" % len(conns), flush=True)
signal.sigwait({signal.SIGUSR1})
answered = 0
sample = conns[::10]
for host, c in sample:
    try:
        r = get(c, host, "/health")
    except Exception as e:
        r = repr(e)
    if r is not None and not isinstance(r, str) and r == (200, expected_after):
        answered += 1
    else:
        print("%s: %r" % (host, r), flush=True)
print("sample: %d of %d answered 200 %r" % (answered, len(sample), expected_after), flush=True)
)PY";

// A number from /debug/memory: "key": N inside its JSON object `object`;
// -1 when the admin listener does not answer or has no such number.
long debug_memory(const SluiceInstance& sluice, const std::string& object, const std::string& key) {
  const auto r = sluice.admin_get("/debug/memory", 10'000);
  if (!r || r->status != 200) return -1;
  const auto at = r->body.find("\"" + object + "\": {");
  if (at == std::string::npos) return -1;
  const std::string rest = r->body.substr(at, r->body.find('}', at) - at);
  std::smatch m;
  return std::regex_search(rest, m, std::regex("\"" + key + "\": (\\d+)")) ? std::stol(m[1].str())
                                                                           : -1;
}

// POST /config answers once the new configuration is in force and the
// reload's own garbage (the YAML tree, the previous generation) is freed,
// so resident memory read afterwards is settled.
void reload(const SluiceInstance& sluice, const std::string& yaml, int nth) {
  const std::uint16_t port = sluice.port("admin");
  RawConnection admin(port);
  ASSERT_TRUE(admin.send("POST /config HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(port) +
                         "\r\nContent-Type: application/yaml\r\nContent-Length: " +
                         std::to_string(yaml.size()) + "\r\n\r\n" + yaml));
  const auto r = admin.read_response(false, 30'000);
  ASSERT_TRUE(r) << "reload " << nth;
  ASSERT_EQ(r->status, 200) << "reload " << nth << ": " << r->body;
  ASSERT_EQ(r->body.rfind("applied", 0), 0u) << r->body;
}

TEST(TlsSeedMemory,
     EightHundredSitesStartUnder30MiBAndStayFlatOver50ReloadsWith1000IdleTlsClients) {
  raise_descriptor_limit();
  rlimit files{};
  getrlimit(RLIMIT_NOFILE, &files);
  if (files.rlim_cur < 2 * kIdleClients + 200) GTEST_SKIP() << "descriptor limit too low";

  TempDir certs;
  const SeedPki pki = make_seed_pki(certs);
  TestBackend backend(TestBackend::echo());

  // Loading: `sluice check` reads, checks and compiles all of it.
  const std::string config = seed_config(pki, backend.address(), 0);
  const std::string check_path = certs.write("seed.yaml", config);
  const Timed check = timed_check(check_path);
  ASSERT_EQ(check.result.exit_code, 0) << check.result.output;
  std::cout << "seed 002 (" << config.size() << " bytes of YAML): sluice check took "
            << check.wall_s << " s wall, " << check.cpu_s << " s CPU\n";
  // Reported, not asserted: speed is measured in bench/, never in a test
  // (a sanitised build takes several times as long).

  const auto start = std::chrono::steady_clock::now();
  SluiceInstance sluice(config);
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  const double ready_s =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const pid_t pid = sluice.process().pid();
  const long started = resident_bytes(pid);
  std::cout << "seed 002: ready after " << ready_s << " s, resident " << started / 1024 << " KiB\n";
  // ASan's shadow memory and quarantine make resident sizes meaningless.
  if (!kSanitizedAllocator) {
    EXPECT_LT(started, 30 * kMiB) << "resident memory after start";
  }

  // 1,000 clients, on all 800 names, each with one answered request.
  const std::string script = certs.write("idle_clients.py", kIdleClientScript);
  Process clients({"python3", script, std::to_string(sluice.port("web")), pki.ca_path,
                   std::to_string(kIdleClients), std::to_string(kSites),
                   std::to_string(kWildcardSites), "ok " + std::to_string(kReloads) + "\n"});
  ASSERT_TRUE(
      clients.wait_for_line("idle " + std::to_string(kIdleClients), std::chrono::seconds(120)))
      << clients.output();
  // Sluice counts them idle once each has had its answer.
  long idle = -1;
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(20);
  while ((idle = debug_memory(sluice, "client_connections", "idle")) != kIdleClients &&
         std::chrono::steady_clock::now() < deadline)
    std::this_thread::sleep_for(std::chrono::milliseconds(20));  // pacing of the poll only
  ASSERT_EQ(idle, kIdleClients) << "an idle TLS connection waits in a read, holding a buffer";
  EXPECT_EQ(debug_memory(sluice, "buffers", "in_use"), 0);
  const long with_idle = resident_bytes(pid);
  const long per_connection = (with_idle - started) / kIdleClients;
  std::cout << "seed 002: resident with " << kIdleClients << " idle TLS clients "
            << with_idle / 1024 << " KiB: " << per_connection << " bytes per idle TLS connection\n";
  // Measured: about 15.7 KB (OpenSSL's connection state, sluice's session),
  // 25 KB when OpenSSL keeps its record buffers (no SSL_MODE_RELEASE_BUFFERS),
  // 36 KB when the session keeps its 20 KiB buffer while idle.
  if (!kSanitizedAllocator) {
    EXPECT_LT(per_connection, kIdleTlsConnectionBytes) << "bytes per idle TLS connection";
  }

  // 50 reloads with them all open.
  long after_five = 0;
  for (int n = 1; n <= kReloads; ++n) {
    reload(sluice, seed_config(pki, backend.address(), n), n);
    if (HasFatalFailure()) return;
    if (n == 5) after_five = resident_bytes(pid);
  }
  const long after_all = resident_bytes(pid);
  std::cout << "seed 002: resident after 5 reloads " << after_five / 1024 << " KiB, after "
            << kReloads << " " << after_all / 1024 << " KiB\n";

  // Every sampled connection survived and sees the last configuration.
  ::kill(clients.pid(), SIGUSR1);
  const auto sample = clients.wait_for_line("sample: ", std::chrono::seconds(60));
  ASSERT_TRUE(sample) << clients.output();
  EXPECT_NE(sample->find("sample: 100 of 100 answered 200"), std::string::npos) << clients.output();

  if (!kSanitizedAllocator) {
    EXPECT_LT(after_all, after_five + 3 * kMiB) << "resident memory grows with reloads";
  }
}

// HAProxy loads 5,000 certificates in 7.6 s and 50,000 in 501 s: its cost
// per certificate grows with their number. The issue's target: 1,000 load
// in under a second. Measured: 0.6 to 0.8 s of CPU (OpenSSL 3.0's PEM key
// decoding is most of it, about 0.7 ms a certificate), up to 1.0 s on a
// loaded machine. This test prints the time; it asserts that all of them
// load and serve.
TEST(TlsSeedMemory, AThousandCertificatesLoadAndTheLastAnswersForItsName) {
  constexpr int kCertificates = 1'000;
  TempDir dir;
  TestPki pki(dir.path().string(), "many-ca");
  std::string y =
      "listeners:\n  - name: web\n    listen: 127.0.0.1:0\n    tls:\n      certificates:\n";
  for (int i = 0; i < kCertificates; ++i) {
    const std::string name = "cert" + std::to_string(i) + ".example.net";
    const IssuedCert c = pki.issue("cert" + std::to_string(i), for_names({name}));
    y += "        - {cert: " + c.cert_path + ", key: " + c.key_path + "}\n";
  }
  y += "routes:\n  - name: hello\n    respond: {status: 200, body: \"hello\\n\"}\n";
  const std::string path = dir.write("many.yaml", y);

  const Timed check = timed_check(path);
  ASSERT_EQ(check.result.exit_code, 0) << check.result.output;
  std::cout << kCertificates << " certificates: sluice check took " << check.wall_s << " s wall, "
            << check.cpu_s << " s CPU\n";
  // Reported, not asserted (see above): 0.6-1.0 s of CPU in a normal build.

  // The names are all served: the last certificate listed answers for its name.
  const auto start = std::chrono::steady_clock::now();
  SluiceInstance sluice(y);
  ASSERT_TRUE(sluice.ready()) << sluice.process().output();
  std::cout << kCertificates << " certificates: sluice ready after "
            << std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()
            << " s\n";
  const std::string last = "cert" + std::to_string(kCertificates - 1) + ".example.net";
  const CommandResult r = run_command(
      {"openssl", "s_client", "-connect", "127.0.0.1:" + std::to_string(sluice.port("web")),
       "-servername", last, "-verify_hostname", last, "-CAfile", pki.ca_path(),
       "-verify_return_error", "-brief"},
      std::chrono::seconds(20));
  EXPECT_EQ(r.exit_code, 0) << r.output;
  EXPECT_NE(r.output.find("Verification: OK"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace sluice::test
