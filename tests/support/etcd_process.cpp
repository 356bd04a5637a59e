#include "support/etcd_process.h"

#include <signal.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <thread>

#include "support/free_port.h"

namespace sluice::test {
namespace {

// etcd 3.4 prints "serving insecure client requests on ADDR" (http) or
// "serving client requests on ADDR" (https) once its client listener serves.
constexpr const char* kServingLine = "client requests on";
constexpr auto kStartTimeout = std::chrono::seconds(20);
// Ports come from the kernel and are released before etcd binds them:
// another test may take one meanwhile, so a start that fails to bind is
// retried on new ports (the first start only; a restart keeps its ports).
constexpr int kBindAttempts = 5;

// Every thread of `pid` is in the stopped state ('T' in /proc/PID/task/*/stat).
bool all_threads_stopped(pid_t pid) {
  std::error_code ec;
  const std::filesystem::path tasks = "/proc/" + std::to_string(pid) + "/task";
  for (const auto& task : std::filesystem::directory_iterator(tasks, ec)) {
    std::ifstream stat(task.path() / "stat");
    std::string line;
    std::getline(stat, line);
    // "TID (comm) S ...": the state follows the last ')'.
    const auto close = line.rfind(')');
    if (close == std::string::npos || close + 2 >= line.size()) return false;
    const char state = line[close + 2];
    if (state != 'T' && state != 't') return false;
  }
  return !ec;
}

// Runs one openssl(1) command; throws with its output when it fails.
void openssl(std::vector<std::string> args) {
  args.insert(args.begin(), "openssl");
  const CommandResult r = run_command(args);
  if (r.exit_code != 0) throw std::runtime_error("openssl failed: " + r.output);
}

}  // namespace

// etcd's gateway connects to etcd's own gRPC listener with the server's
// certificate, so with client certificates required that certificate must
// be good for clientAuth as well as serverAuth; TestPki gives one or the
// other, so these come from openssl(1): a CA, etcd's certificate, ours.
void EtcdProcess::make_certificates() {
  const std::string dir = dir_.path().string() + "/";
  ca_path_ = dir + "etcd-ca.pem";
  const std::string ca_key = dir + "etcd-ca.key";
  const std::vector<std::string> ec = {"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                                       "-nodes"};
  auto with = [](std::vector<std::string> a, const std::vector<std::string>& b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  };
  openssl(with({"req", "-x509", "-days", "2", "-subj", "/CN=etcd test CA", "-keyout", ca_key,
                "-out", ca_path_, "-addext", "basicConstraints=critical,CA:TRUE", "-addext",
                "keyUsage=critical,keyCertSign,cRLSign"},
               ec));
  auto issue = [&](const std::string& stem, const std::string& cn, const std::string& extensions) {
    IssuedCert cert;
    cert.cert_path = dir + stem + ".crt";
    cert.key_path = dir + stem + ".key";
    const std::string csr = dir + stem + ".csr";
    const std::string ext = dir_.write(stem + ".ext", extensions);
    openssl(with({"req", "-subj", "/CN=" + cn, "-keyout", cert.key_path, "-out", csr}, ec));
    openssl({"x509", "-req", "-in", csr, "-CA", ca_path_, "-CAkey", ca_key, "-CAcreateserial",
             "-days", "2", "-extfile", ext, "-out", cert.cert_path});
    return cert;
  };
  server_cert_ = issue("etcd-server", "localhost",
                       "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n"
                       "extendedKeyUsage=serverAuth,clientAuth\n"
                       "subjectAltName=IP:127.0.0.1,DNS:localhost\n");
  client_cert_ = issue("etcd-client", "sluice",
                       "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\n"
                       "extendedKeyUsage=clientAuth\n");
}

EtcdProcess::EtcdProcess(EtcdOptions options) : options_(std::move(options)) {
  if (options_.tls) make_certificates();
  for (int attempt = 0; attempt < kBindAttempts && !ready_; ++attempt) {
    client_port_ = free_loopback_port();
    peer_port_ = free_loopback_port();
    ready_ = launch();
    if (ready_ || process_->output().find("address already in use") == std::string::npos) break;
  }
}

EtcdProcess::~EtcdProcess() = default;

std::string EtcdProcess::endpoint() const {
  return std::string(options_.tls ? "https" : "http") +
         "://127.0.0.1:" + std::to_string(client_port_);
}

bool EtcdProcess::launch() {
  if (process_) past_output_ += process_->output();
  const std::string client_url = endpoint();
  const std::string peer_url = "http://127.0.0.1:" + std::to_string(peer_port_);
  std::vector<std::string> argv = {
      "etcd",
      "--name",
      "test",
      "--data-dir",
      (data_dir_.path() / "data").string(),
      "--listen-client-urls",
      client_url,
      "--advertise-client-urls",
      client_url,
      "--listen-peer-urls",
      peer_url,
      "--initial-advertise-peer-urls",
      peer_url,
      "--initial-cluster",
      "test=" + peer_url,
      // A fleet test writes thousands of keys in one transaction (etcd's
      // defaults: 128 operations, 1.5 MB).
      "--max-txn-ops",
      "20000",
      "--max-request-bytes",
      "33554432",
      // etcd logs a request slower than this whole, key by key: 300 KB and
      // more for those transactions, on a machine busy with other tests.
      "--experimental-warning-apply-duration",
      "10s",
  };
  if (options_.tls) {
    argv.insert(argv.end(),
                {"--cert-file", server_cert_.cert_path, "--key-file", server_cert_.key_path});
    if (options_.client_cert_auth) {
      argv.insert(argv.end(), {"--client-cert-auth", "--trusted-ca-file", ca_path_});
    }
  }
  argv.insert(argv.end(), options_.extra_args.begin(), options_.extra_args.end());
  process_ = std::make_unique<Process>(argv);
  return process_->wait_for_line(kServingLine, kStartTimeout).has_value();
}

void EtcdProcess::stop() {
  if (process_ && process_->running()) process_->stop(SIGKILL);
  ready_ = false;
}

bool EtcdProcess::start() {
  stop();
  ready_ = launch();
  return ready_;
}

void EtcdProcess::freeze() {
  if (!process_) return;
  ::kill(process_->pid(), SIGSTOP);
  // kill() only starts the stop: each of etcd's threads stops when it
  // next runs, and until then one may still answer. Wait (bounded) until
  // /proc shows every thread stopped.
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
  while (!all_threads_stopped(process_->pid()) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(std::chrono::milliseconds(1));  // poll interval
  }
}

void EtcdProcess::thaw() {
  if (process_) ::kill(process_->pid(), SIGCONT);
}

bool EtcdProcess::running() const {
  return process_ && process_->running();
}

CommandResult EtcdProcess::etcdctl(const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {"etcdctl", "--endpoints",       endpoint(), "--dial-timeout",
                                   "5s",      "--command-timeout", "20s"};
  if (options_.tls) {
    argv.insert(argv.end(), {"--cacert", ca_path_});
    if (options_.client_cert_auth) {
      argv.insert(argv.end(), {"--cert", client_cert_.cert_path, "--key", client_cert_.key_path});
    }
  }
  argv.insert(argv.end(), args.begin(), args.end());
  return run_command(argv);
}

bool EtcdProcess::enable_auth(const std::string& password, std::string* error) const {
  for (const auto& step : std::vector<std::vector<std::string>>{
           {"user", "add", "root:" + password},
           {"role", "add", "root"},
           {"user", "grant-role", "root", "root"},
           {"auth", "enable"},
       }) {
    const CommandResult r = etcdctl(step);
    if (r.exit_code != 0) {
      if (error != nullptr) *error = r.output;
      return false;
    }
  }
  return true;
}

bool EtcdProcess::reset_root_password(const std::string& password, std::string* error) const {
  // `user passwd` reads the new password from its standard input.
  std::vector<std::string> argv = {"sh", "-c", "p=$1; shift; printf '%s\\n' \"$p\" | \"$@\"", "sh",
                                   password};
  std::vector<std::string> ctl = {"etcdctl", "--endpoints", endpoint(), "--user",
                                  "root:" + password};
  if (options_.tls) ctl.insert(ctl.end(), {"--cacert", ca_path_});
  ctl.insert(ctl.end(), {"user", "passwd", "root", "--interactive=false"});
  argv.insert(argv.end(), ctl.begin(), ctl.end());
  const CommandResult r = run_command(argv);
  if (r.exit_code != 0 && error != nullptr) *error = r.output;
  return r.exit_code == 0;
}

std::string EtcdProcess::output() const {
  return past_output_ + (process_ ? process_->output() : std::string());
}

}  // namespace sluice::test
