#include "support/nginx_instance.h"

#include <grp.h>
#include <netinet/in.h>
#include <pwd.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>
#include <thread>

#include "support/free_port.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace sluice::test {
namespace {

constexpr const char* kNginx = "/usr/sbin/nginx";
// free_loopback_port() releases the port before nginx binds it, so another
// test may take it in between: start again on a new port this many times.
constexpr int kStartAttempts = 5;
constexpr auto kStartTimeout = std::chrono::seconds(15);
// How often start-up and log waits look again: nginx gives no ready signal
// of its own, so these waits poll a real condition (the pid file, a
// connect, the log's line count) up to a deadline.
constexpr auto kPollInterval = std::chrono::milliseconds(5);

std::string read_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// A string for nginx's configuration syntax: double quotes, with `"` and
// `\` escaped. nginx would expand a `$`, and a body has no use for one.
std::string quoted(const std::string& s) {
  if (s.find('$') != std::string::npos)
    throw std::invalid_argument("NginxInstance: '$' in \"" + s + "\" would name an nginx variable");
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    out += c;
  }
  return out + "\"";
}

// As root, nginx's default user is "nobody", who cannot read the test's
// temporary directory (nginx would also chown its temp paths to nobody).
// With `master_process off` nginx never switches user, but naming the
// current one keeps its ownership of the temp paths consistent. As anyone
// else, `user` is ignored with a warning, so it is left out.
std::string user_directive() {
  if (::geteuid() != 0) return "";
  const passwd* pw = ::getpwuid(::geteuid());
  const group* gr = ::getgrgid(::getegid());
  if (pw == nullptr || gr == nullptr) return "";
  return std::string("user ") + pw->pw_name + " " + gr->gr_name + ";\n";
}

std::string config(const NginxOptions& o, const std::filesystem::path& dir, std::uint16_t port) {
  const auto at = [&](const char* name) { return quoted((dir / name).string()); };
  std::string c = user_directive();
  // One process in the foreground: the test's Process owns it, its pid is
  // nginx's, and SIGKILL leaves no orphaned worker behind.
  c += std::string("daemon off;\nmaster_process ") + (o.master_process ? "on" : "off") + ";\n";
  if (o.master_process) c += "worker_processes 1;\n";
  c += "pid " + at("nginx.pid") + ";\n";
  c += "error_log " + at("error.log") + " info;\n";
  c += "events { worker_connections 1024; }\n";
  c += "http {\n";
  // Every temp path inside the test's directory: the defaults under
  // /var/lib/nginx may be missing or unwritable.
  for (const char* kind : {"client_body", "proxy", "fastcgi", "uwsgi", "scgi"})
    c += std::string("  ") + kind + "_temp_path " + at((std::string(kind) + "_temp").c_str()) +
         ";\n";
  c += "  default_type text/plain;\n";
  c += "  log_format sluice 'conn=$connection reqs=$connection_requests proto=$ssl_protocol "
       "reused=$ssl_session_reused sni=$ssl_server_name client=\"$ssl_client_s_dn\" "
       "status=$status request=\"$request\"';\n";
  c += "  access_log " + at("access.log") + " sluice;\n";
  c += "  server {\n";
  const std::string listen_flags = std::string(o.tls ? " ssl" : "") + (o.http2 ? " http2" : "");
  c += "    listen 127.0.0.1:" + std::to_string(port) + listen_flags + ";\n";
  if (o.ipv6_loopback_too) {
    c += "    listen [::1]:" + std::to_string(port) + listen_flags + ";\n";
  }
  if (o.protocol_headers) {
    c += "    add_header X-Server-Protocol $server_protocol always;\n";
    c += "    add_header X-Connection $connection always;\n";
  }
  if (o.http2 && o.http2_max_concurrent_streams > 0) {
    c += "    http2_max_concurrent_streams " + std::to_string(o.http2_max_concurrent_streams) +
         ";\n";
  }
  if (o.tls) {
    c += "    ssl_certificate " + quoted(o.cert_path) + ";\n";
    c += "    ssl_certificate_key " + quoted(o.key_path) + ";\n";
    c += "    ssl_protocols TLSv1.2 TLSv1.3;\n";
    // A session cache as well as tickets, so a client can resume either way.
    c += "    ssl_session_cache shared:sluice_test:1m;\n";
    if (!o.client_ca_path.empty()) {
      c += "    ssl_verify_client on;\n";
      c += "    ssl_client_certificate " + quoted(o.client_ca_path) + ";\n";
    }
  }
  c += o.server_extra.empty() ? "" : "    " + o.server_extra + "\n";
  for (const auto& route : o.proxy_routes) {
    c += "    location " + quoted(route.prefix) + " {\n";
    c += "      proxy_pass http://" + route.address + ";\n";
    c += "      proxy_http_version 1.1;\n";
    c += "      proxy_set_header Connection \"\";\n";
    c += "      proxy_set_header Host $host:$server_port;\n";
    c += "      proxy_set_header X-Forwarded-Proto $scheme;\n";
    c += "      client_max_body_size 0;\n";
    c += "    }\n";
  }
  if (o.proxy_pass.empty()) {
    c += "    location / { return 200 " + quoted(o.body) + "; }\n";
  } else {
    c += "    location / {\n      proxy_pass http://" + o.proxy_pass + ";\n";
    c += "      proxy_http_version 1.1;\n      proxy_set_header Host $host;\n";
    c += "      proxy_set_header Connection \"\";\n    }\n";
  }
  c += "  }\n}\n";
  return c;
}

bool accepts_connection(std::uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  const bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
  ::close(fd);
  return ok;
}

// nginx writes its pid file ("<pid>\n", in one write) only after it has
// bound and listens on every port, so a complete pid file naming this
// process says the listener is its own, not another test's on a reused port.
bool pid_file_names(const std::filesystem::path& path, pid_t pid) {
  return read_file(path) == std::to_string(pid) + "\n";
}

std::size_t count_lines(const std::string& s) {
  std::size_t n = 0;
  for (char c : s)
    n += c == '\n';
  return n;
}

}  // namespace

NginxInstance::NginxInstance(NginxOptions options)
    : options_(std::move(options)), dir_(std::make_unique<TempDir>()) {
  const auto conf_path = dir_->path() / "nginx.conf";
  const auto pid_path = dir_->path() / "nginx.pid";
  const auto error_path = dir_->path() / "error.log";
  std::string failures;
  for (int attempt = 0; attempt < kStartAttempts; ++attempt) {
    port_ = free_loopback_port();
    dir_->write("nginx.conf", config(options_, dir_->path(), port_));
    std::filesystem::remove(pid_path);
    // -e: start-up errors, before the configuration's error_log applies,
    // go to the same file.
    process_ = std::make_unique<Process>(std::vector<std::string>{
        kNginx, "-p", dir_->path().string(), "-c", conf_path.string(), "-e", error_path.string()});
    const auto deadline = std::chrono::steady_clock::now() + kStartTimeout;
    bool port_taken = false;
    while (std::chrono::steady_clock::now() < deadline) {
      if (pid_file_names(pid_path, process_->pid()) && accepts_connection(port_)) return;
      const std::string errors = read_file(error_path) + process_->output();
      // nginx retries a bind for 2.5 s before giving up; another test
      // holds the port, so go straight to a new one.
      if (errors.find("Address already in use") != std::string::npos) {
        port_taken = true;
        break;
      }
      if (!process_->running()) break;
      std::this_thread::sleep_for(kPollInterval);
    }
    process_->stop(SIGKILL, std::chrono::seconds(10));
    failures += "attempt on port " + std::to_string(port_) + ":\n" + read_file(error_path) +
                process_->output() + "\n";
    process_.reset();
    if (!port_taken) break;
    std::filesystem::remove(error_path);
  }
  throw std::runtime_error("NginxInstance: nginx did not start\n" + failures + "configuration:\n" +
                           read_file(conf_path));
}

NginxInstance::~NginxInstance() {
  if (process_ && process_->stop(SIGTERM, std::chrono::seconds(10)) == -1)
    process_->stop(SIGKILL, std::chrono::seconds(10));
}

Process& NginxInstance::process() {
  return *process_;
}

std::uint16_t NginxInstance::port() const {
  return port_;
}

std::string NginxInstance::access_log() const {
  return read_file(dir_->path() / "access.log");
}

std::string NginxInstance::error_log() const {
  return read_file(dir_->path() / "error.log");
}

int NginxInstance::connections_seen() const {
  std::set<std::string> serials;
  std::istringstream lines(access_log());
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("conn=", 0) != 0) continue;
    serials.insert(line.substr(5, line.find(' ') - 5));
  }
  return static_cast<int>(serials.size());
}

bool NginxInstance::wait_for_requests(std::size_t n, std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (count_lines(access_log()) < n) {
    if (std::chrono::steady_clock::now() >= deadline) return false;
    std::this_thread::sleep_for(kPollInterval);
  }
  return true;
}

}  // namespace sluice::test
