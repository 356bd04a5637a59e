// A real single-node etcd (the Debian etcd-server binary) on loopback for a
// test: its data in a temporary directory, its ports from the kernel, plain
// HTTP or HTTPS with certificates from a test CA (made with openssl(1)).
// It can be stopped and started again on the same data and port ("etcd
// away / back"), frozen (a server that hangs), and driven with etcdctl.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "support/process.h"
#include "support/temp_dir.h"
#include "support/test_pki.h"  // IssuedCert

namespace sluice::test {

struct EtcdOptions {
  bool tls = false;               // https:// client URL, certificate for 127.0.0.1 and localhost
  bool client_cert_auth = false;  // with tls: etcd asks for a client certificate from the CA
  // Appended to etcd's command line (they override the defaults below).
  std::vector<std::string> extra_args;
};

class EtcdProcess {
 public:
  // Starts etcd and waits until it serves clients; check ready().
  explicit EtcdProcess(EtcdOptions options = {});
  ~EtcdProcess();
  EtcdProcess(const EtcdProcess&) = delete;
  EtcdProcess& operator=(const EtcdProcess&) = delete;

  bool ready() const { return ready_; }
  // "http://127.0.0.1:PORT" (https with tls).
  std::string endpoint() const;
  std::uint16_t port() const { return client_port_; }

  // Kills it (SIGKILL: no goodbye to its clients, as a crash or a cut
  // network looks) and waits for the exit.
  void stop();
  // Starts it again on the same data directory and ports; waits until it
  // serves clients. False if it does not within 20 s.
  bool start();
  // Freezes it (SIGSTOP) and waits until every thread has stopped:
  // connections are accepted, nothing is answered.
  void freeze();
  void thaw();
  bool running() const;

  // With tls: the CA that signed etcd's certificate, and a client
  // certificate it accepts.
  const std::string& ca_path() const { return ca_path_; }
  const std::string& client_cert_path() const { return client_cert_.cert_path; }
  const std::string& client_key_path() const { return client_cert_.key_path; }

  // etcdctl against this etcd (endpoint and TLS files given), e.g.
  // etcdctl({"put", "/k", "v"}) or etcdctl({"--user", "root:pw", "get", "/k"}).
  CommandResult etcdctl(const std::vector<std::string>& args) const;
  // Enables authentication: a user "root" with `password` and the root
  // role, then `auth enable`. False (with the output in `error`) if a step failed.
  bool enable_auth(const std::string& password, std::string* error = nullptr) const;
  // Sets root's password again (to the same one, if so): etcd forgets
  // every token it gave root, as after a password change.
  bool reset_root_password(const std::string& password, std::string* error = nullptr) const;

  // Everything etcd printed (for failure messages).
  std::string output() const;

 private:
  bool launch();
  void make_certificates();

  EtcdOptions options_;
  TempDir dir_;
  // etcd syncs its log to disk at every commit: in memory, a test measures
  // etcd and sluice, not whatever else is writing to the disk.
  TempDir data_dir_{TempDir::memory_backed_parent()};
  std::uint16_t client_port_ = 0;
  std::uint16_t peer_port_ = 0;
  std::string ca_path_;
  IssuedCert server_cert_;
  IssuedCert client_cert_;
  std::unique_ptr<Process> process_;
  std::string past_output_;  // of the runs before this one
  bool ready_ = false;
};

}  // namespace sluice::test
