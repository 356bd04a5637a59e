// Real TLS clients for the TLS integration tests: `openssl s_client` and
// `curl`, run as child processes against a sluice listener, and the few
// readings a test takes from their output (which certificate was served,
// whether the session was resumed, which protocol ALPN agreed).
#pragma once

#include <fcntl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "support/process.h"

namespace sluice::test {

inline std::string shell_quote(const std::string& s) {
  std::string out = "'";
  for (char c : s) {
    if (c == '\'') {
      out += "'\\''";
    } else {
      out += c;
    }
  }
  return out + "'";
}

inline std::string read_whole_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

inline std::size_t count_of(const std::string& haystack, const std::string& needle) {
  std::size_t n = 0;
  for (auto p = haystack.find(needle); p != std::string::npos; p = haystack.find(needle, p + 1))
    ++n;
  return n;
}

inline bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

// A GET that ends the connection after its response, so that a client
// reading until the server closes (`s_client -ign_eof`) ends too.
inline std::string closing_get(const std::string& host, const std::string& path = "/") {
  return "GET " + path + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n\r\n";
}

// `openssl s_client -connect 127.0.0.1:PORT ARGS`. With `request`, sends it
// and reads until sluice closes the connection (the request should say
// `Connection: close`); by then a TLS 1.3 ticket has arrived, so -sess_out
// has something to write. Without, stdin is empty: the client completes the
// handshake, prints what it got and leaves.
inline CommandResult s_client(std::uint16_t port, const std::vector<std::string>& args,
                              const std::string& request = {}) {
  std::string cmd = "openssl s_client -connect 127.0.0.1:" + std::to_string(port) + " -nocommands";
  for (const auto& a : args)
    cmd += " " + shell_quote(a);
  if (request.empty()) {
    cmd += " </dev/null";
  } else {
    cmd = "printf '%s' " + shell_quote(request) + " | " + cmd + " -ign_eof";
  }
  return run_command({"/bin/sh", "-c", cmd}, std::chrono::seconds(30));
}

// "AB:CD:..." (SHA-256, as TestPki's fingerprint_sha256) of the first PEM
// certificate in `text` (s_client prints the server's leaf); "" if none.
inline std::string first_certificate_fingerprint(const std::string& text) {
  const auto begin = text.find("-----BEGIN CERTIFICATE-----");
  if (begin == std::string::npos) return "";
  const std::string end_marker = "-----END CERTIFICATE-----";
  const auto end = text.find(end_marker, begin);
  if (end == std::string::npos) return "";
  const std::string pem = text.substr(begin, end + end_marker.size() - begin) + "\n";
  BIO* bio = BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size()));
  X509* cert = PEM_read_bio_X509(bio, nullptr, nullptr, nullptr);
  BIO_free(bio);
  if (cert == nullptr) return "";
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int n = 0;
  X509_digest(cert, EVP_sha256(), md, &n);
  X509_free(cert);
  std::string out;
  char hex[4];
  for (unsigned int i = 0; i < n; ++i) {
    std::snprintf(hex, sizeof hex, i + 1 < n ? "%02X:" : "%02X", md[i]);
    out += hex;
  }
  return out;
}

// The certificate a client asking for `server_name` (empty: no SNI) is given.
inline std::string served_fingerprint(std::uint16_t port, const std::string& server_name,
                                      std::vector<std::string> extra = {}) {
  std::vector<std::string> args = server_name.empty()
                                      ? std::vector<std::string>{"-noservername"}
                                      : std::vector<std::string>{"-servername", server_name};
  args.insert(args.end(), extra.begin(), extra.end());
  return first_certificate_fingerprint(s_client(port, args).output);
}

// `curl -sS ARGS`; the exit code and stdout+stderr.
inline CommandResult curl(std::vector<std::string> args) {
  args.insert(args.begin(), {"curl", "-sS"});
  return run_command(std::move(args), std::chrono::seconds(30));
}

// curl options that make https://NAME:PORT reach sluice on loopback and
// trust the test CA.
inline std::vector<std::string> curl_tls(const std::string& ca, const std::string& name,
                                         std::uint16_t port) {
  return {"--cacert", ca, "--resolve", name + ":" + std::to_string(port) + ":127.0.0.1",
          "--http1.1"};
}

inline std::string https_url(const std::string& name, std::uint16_t port,
                             const std::string& path = "/") {
  return "https://" + name + ":" + std::to_string(port) + path;
}

// A FIFO a long-lived client reads its stdin from: the test writes a
// request into it whenever it likes (after a reload, say).
class StdinPipe {
 public:
  explicit StdinPipe(std::string path) : path_(std::move(path)) {
    ::mkfifo(path_.c_str(), 0600);
    // Read-write: opening does not wait for the reader, and the reader
    // never sees EOF while this end is open.
    fd_ = ::open(path_.c_str(), O_RDWR);
  }
  ~StdinPipe() {
    if (fd_ >= 0) ::close(fd_);
  }
  StdinPipe(const StdinPipe&) = delete;
  StdinPipe& operator=(const StdinPipe&) = delete;
  const std::string& path() const { return path_; }
  bool write(const std::string& bytes) {
    return ::write(fd_, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size());
  }

 private:
  std::string path_;
  int fd_ = -1;
};

// An `openssl s_client` that stays connected, reading requests from a
// StdinPipe; its output (certificate, responses) grows in process().
inline std::unique_ptr<Process> long_lived_s_client(std::uint16_t port,
                                                    const std::string& server_name,
                                                    const StdinPipe& stdin_pipe) {
  const std::string cmd = "exec openssl s_client -connect 127.0.0.1:" + std::to_string(port) +
                          " -servername " + shell_quote(server_name) + " -nocommands -ign_eof < " +
                          shell_quote(stdin_pipe.path());
  return std::make_unique<Process>(std::vector<std::string>{"/bin/sh", "-c", cmd});
}

}  // namespace sluice::test
