// sluice: command line, composition, signals. Everything else lives in the
// layers below (see docs/architecture.md).
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "admin/admin_server.h"
#include "config/loader.h"
#include "config/model.h"
#include "core/address.h"
#include "core/file_watcher.h"
#include "core/log.h"
#include "core/process_handover.h"
#include "core/service_notify.h"
#include "core/socket_activation.h"
#include "fleet/config_command.h"
#include "fleet/etcd_provider.h"
#include "middleware/middleware_set.h"
#include "proxy/reloader.h"
#include "proxy/server.h"
#include "proxy/tls_builder.h"
#include "route/route_table.h"

#ifndef SLUICE_VERSION
#define SLUICE_VERSION "0.1.0"
#endif

namespace {

constexpr const char* kDefaultConfig = "sluice.yaml";

const char* level_name(sluice::config::LogLevel level) {
  switch (level) {
    case sluice::config::LogLevel::trace:
      return "trace";
    case sluice::config::LogLevel::debug:
      return "debug";
    case sluice::config::LogLevel::info:
      return "info";
    case sluice::config::LogLevel::warn:
      return "warn";
    case sluice::config::LogLevel::error:
      return "error";
  }
  return "info";
}

// Finds the configuration file: the -c argument, else ./sluice.yaml. Says
// what it tried when there is none.
bool resolve_config_path(std::string& path) {
  if (!path.empty()) return true;
  if (std::filesystem::exists(kDefaultConfig)) {
    path = kDefaultConfig;
    return true;
  }
  std::error_code ec;
  const auto cwd = std::filesystem::current_path(ec);
  std::fprintf(stderr,
               "sluice: no configuration file: -c FILE was not given, and %s does not exist "
               "in %s.\n"
               "Try: sluice run -c examples/quickstart.yaml   (or sluice --help)\n",
               kDefaultConfig, cwd.string().c_str());
  return false;
}

// The file's text composed with a provider's keys, loaded; messages name
// keys or the file (a composition's own errors are in the diagnostics).
sluice::config::LoadResult load_composed(const std::string& path,
                                         sluice::fleet::EtcdProvider& provider,
                                         std::vector<std::string>& messages) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  if (!in) {
    sluice::config::LoadResult failed;
    failed.diagnostics.push_back(
        {path, 0, 0, sluice::config::Severity::error, "cannot read the configuration file"});
    return failed;
  }
  auto composed = provider.compose(text.str());
  if (!composed.errors.empty()) {
    messages = std::move(composed.errors);
    sluice::config::LoadResult failed;
    failed.diagnostics.push_back(
        {path, 0, 0, sluice::config::Severity::error, "cannot compose it with etcd's keys"});
    return failed;
  }
  auto result = sluice::config::load_string(composed.text, composed.origin,
                                            sluice::config::directory_of(path));
  for (const auto& d : result.diagnostics)
    messages.push_back(composed.locate(d.to_string()));
  return result;
}

// Loads and validates (composed with `provider`'s keys when there is one);
// prints every diagnostic. Null on any error.
std::shared_ptr<const sluice::config::Config> load(
    const std::string& path, sluice::fleet::EtcdProvider* provider = nullptr) {
  std::vector<std::string> messages;
  auto result = provider != nullptr ? load_composed(path, *provider, messages)
                                    : sluice::config::load_file(path);
  if (provider == nullptr) {
    for (const auto& d : result.diagnostics)
      messages.push_back(d.to_string());
  }
  for (const auto& m : messages)
    std::fprintf(stderr, "%s\n", m.c_str());
  if (!result.ok()) {
    std::size_t errors = 0;
    for (const auto& d : result.diagnostics) {
      errors += d.severity == sluice::config::Severity::error ? 1 : 0;
    }
    std::fprintf(stderr, "%s: %zu error%s; configuration not loaded\n", path.c_str(), errors,
                 errors == 1 ? "" : "s");
  }
  return result.config;
}

// Compiles the routes as a running proxy would: regexes RE2 rejects are
// errors; routes that can never match are warnings. Prints each with the
// route's file:line:column. False on any error.
bool check_routes(const sluice::config::Config& config, const std::string& path) {
  std::vector<sluice::route::RouteFinding> errors;
  auto table = sluice::route::RouteTable::build(config, &errors);
  auto print = [&](const sluice::route::RouteFinding& f, const char* severity) {
    const auto& where = config.routes.at(f.route).where;
    std::fprintf(stderr, "%s:%d:%d: %s: %s\n", path.c_str(), where.line, where.column, severity,
                 f.message.c_str());
  };
  for (const auto& f : errors)
    print(f, "error");
  for (const auto& f : table->shadowed())
    print(f, "warning");
  if (!errors.empty()) {
    std::fprintf(stderr, "%s: %zu error%s; configuration not loaded\n", path.c_str(), errors.size(),
                 errors.size() == 1 ? "" : "s");
  }
  return errors.empty();
}

// Loads every certificate and builds every TLS context as a running proxy
// would, printing each problem (FILE:LINE:COL). False on any error.
bool check_tls(const sluice::config::Config& config, const std::string& path,
               sluice::proxy::TlsAssets& assets) {
  sluice::proxy::TlsFindings findings;
  const bool ok = sluice::proxy::check_tls(config, assets, findings);
  for (const auto& w : findings.warnings)
    std::fprintf(stderr, "%s\n", w.c_str());
  for (const auto& e : findings.errors)
    std::fprintf(stderr, "%s\n", e.c_str());
  if (!ok) {
    std::fprintf(stderr, "%s: %zu error%s; configuration not loaded\n", path.c_str(),
                 findings.errors.size(), findings.errors.size() == 1 ? "" : "s");
  }
  return ok;
}

// Builds every middleware as a running proxy would (reading the files they
// name), printing each problem. False on any error.
bool check_middlewares(const sluice::config::Config& config, const std::string& path) {
  sluice::middleware::MiddlewareCache cache;
  std::vector<std::string> errors;
  (void)cache.build(config.middlewares, sluice::middleware::BuildContext{1}, errors);
  for (const auto& e : errors)
    std::fprintf(stderr, "%s: error: %s\n", path.c_str(), e.c_str());
  if (!errors.empty()) {
    std::fprintf(stderr, "%s: %zu error%s; configuration not loaded\n", path.c_str(), errors.size(),
                 errors.size() == 1 ? "" : "s");
  }
  return errors.empty();
}

int command_check(std::string path) {
  if (!resolve_config_path(path)) return 1;
  auto config = load(path);
  if (!config) return 1;
  if (!check_routes(*config, path)) return 1;
  sluice::proxy::TlsAssets assets;
  if (!check_tls(*config, path, assets)) return 1;
  if (!check_middlewares(*config, path)) return 1;
  std::printf("%s: ok (%s)\n", path.c_str(), sluice::config::summary(*config).c_str());
  return 0;
}

// The admin listener's inherited socket, if any: handed over by name, or
// activated on its address. -1 when it must bind its own.
int take_admin_socket(sluice::HandedSockets& handed, const std::string& admin_listen) {
  auto it = handed.find("admin");
  if (it == handed.end() && !admin_listen.empty()) {
    if (auto addr = sluice::SocketAddress::resolve(admin_listen))
      it = handed.find(addr->to_string());
  }
  if (it == handed.end()) return -1;
  const int fd = it->second.empty() ? -1 : it->second.front();
  handed.erase(it);
  return fd;
}

// What the signal loop works with.
struct Running {
  sluice::proxy::Server& server;
  sluice::proxy::Reloader& reloader;
  sluice::admin::AdminServer* admin = nullptr;  // null without an admin listener
  std::vector<std::string> argv;                // how to start a successor
  std::uint64_t grace_ms = 10'000;
};

// How long a connection must stay idle before a draining predecessor
// closes it. Busy clients get Connection: close on their next response
// first, so no close races a request in flight.
constexpr std::uint64_t kHandoverIdleCloseMs = 1'000;
// How long a successor may take to start serving.
constexpr std::uint64_t kSuccessorReadyMs = 30'000;

// SIGUSR2: start the binary at our own path on the same command line,
// handing it every listening socket; once it serves, stop accepting and
// drain. False (and we keep serving) when it did not take over.
bool hand_over(Running& r) {
  sluice::HandedSockets sockets = r.server.listening_sockets();
  if (r.admin != nullptr) sockets["admin"] = {r.admin->socket()};
  spdlog::info("SIGUSR2: starting {} to take over {} listening address(es)", r.argv.front(),
               sockets.size());
  std::string error;
  const pid_t pid = sluice::start_successor(r.argv, sockets, kSuccessorReadyMs, error);
  if (pid < 0) {
    spdlog::error("upgrade: the new process did not take over: {}; this one keeps serving", error);
    return false;
  }
  spdlog::info("upgrade: process {} is serving; this one stops accepting and drains ({} ms)", pid,
               r.grace_ms);
  if (r.admin != nullptr) r.admin->stop();
  r.server.request_stop(r.grace_ms, kHandoverIdleCloseMs);
  return true;
}

// Waits for signals while the workers run:
// - SIGINT/SIGTERM: graceful stop; a second one stops at once.
// - SIGHUP: load and check the file again; apply it if it is valid, else
//   keep serving the configuration in force. Either way, say so in the log.
// - SIGUSR2: binary upgrade (hand_over).
// - SIGUSR1: open the access log files again (logrotate has renamed them).
int serve_until_signalled(Running& r) {
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2})
    sigaddset(&set, s);
  bool stopping = false;
  std::thread joiner;
  // The joiner says every worker has ended with a SIGUSR1 too: the flag
  // tells it from an operator's.
  std::atomic<bool> joined{false};
  const pthread_t main_thread = pthread_self();
  auto join_in_background = [&] {
    joiner = std::thread([&r, &joined, main_thread] {
      r.server.join();
      joined.store(true);
      pthread_kill(main_thread, SIGUSR1);
    });
  };
  while (true) {
    int sig = 0;
    if (sigwait(&set, &sig) != 0) continue;
    if (sig == SIGUSR1) {
      if (joined.load()) break;
      spdlog::info("SIGUSR1: reopening the access log files");
      r.server.reopen_access_log();
      continue;
    }
    if (sig == SIGHUP) {
      if (!stopping) r.reloader.reload_file();
      continue;
    }
    if (sig == SIGUSR2) {
      if (!stopping && hand_over(r)) {
        stopping = true;
        join_in_background();
      }
      continue;
    }
    if (sig == SIGINT || sig == SIGTERM) {
      if (stopping) {
        spdlog::warn("stop signal while stopping: closing every connection now");
        r.server.request_stop(0);
        continue;
      }
      stopping = true;
      sluice::service_stopping();
      spdlog::info("{}: stopping; open connections have {} ms to finish", strsignal(sig),
                   r.grace_ms);
      if (r.admin != nullptr) r.admin->stop();
      r.server.request_stop(r.grace_ms);
      join_in_background();
    }
  }
  joiner.join();
  spdlog::info("stopped");
  return 0;
}

// What the main thread keeps of the first configuration: a few values. The
// configuration itself is loaded, checked and compiled on its generation
// thread, as a reload's is, and dies there.
struct FirstConfiguration {
  std::unique_ptr<sluice::proxy::Server> server;  // null when it did not load
  std::string admin_listen;                       // "" without an admin listener
  std::optional<sluice::config::Admin> admin;     // its settings (a few strings)
  bool watch = false;
  std::string summary;
  std::string source;  // its text (GET /config shows it with secrets redacted)
  std::uint64_t grace_ms = 0;
};

// Loads, checks and compiles the file, and starts logging at its level
// (or `log_level`). Prints why not and leaves `first.server` null.
void build_first(const std::string& path, const std::string& log_level,
                 sluice::fleet::EtcdProvider* provider, FirstConfiguration& first) {
  auto config = load(path, provider);
  if (!config || !check_routes(*config, path)) return;
  auto tls = std::make_shared<sluice::proxy::TlsAssets>();
  if (!check_tls(*config, path, *tls)) return;
  if (!check_middlewares(*config, path)) return;
  const std::string level = log_level.empty() ? level_name(config->log.level) : log_level;
  if (!sluice::init_logging(level)) {
    std::fprintf(stderr, "sluice: unknown log level '%s' (trace, debug, info, warn, error)\n",
                 level.c_str());
    return;
  }
  first.admin_listen = config->admin ? config->admin->listen : "";
  first.admin = config->admin;
  first.watch = config->watch;
  first.summary = sluice::config::summary(*config);
  first.grace_ms = static_cast<std::uint64_t>(config->shutdown.grace.count());
  first.server = std::make_unique<sluice::proxy::Server>(*config, std::move(tls));
  first.source = config->source;
}

// The file's provider, if it names one: etcd is read once before the first
// configuration is built. etcd out of reach is no reason not to start when
// the file alone is a configuration; the provider retries in the
// background. False after printing why when the block is wrong.
bool open_provider(const std::string& path, std::unique_ptr<sluice::fleet::EtcdProvider>& out,
                   bool& unread) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  std::vector<sluice::config::Diagnostic> diagnostics;
  const auto provider = sluice::config::read_provider(
      text.str(), path, sluice::config::directory_of(path), diagnostics);
  for (const auto& d : diagnostics)
    std::fprintf(stderr, "%s\n", d.to_string().c_str());
  for (const auto& d : diagnostics) {
    if (d.severity == sluice::config::Severity::error) return false;
  }
  if (!provider.etcd) return true;
  out = std::make_unique<sluice::fleet::EtcdProvider>(*provider.etcd, path);
  std::string why;
  if (!out->read_initial(why)) {
    std::fprintf(stderr,
                 "sluice: cannot read etcd (%s); trying the file's part alone, and etcd again "
                 "in the background\n",
                 why.c_str());
    unread = true;
  }
  return true;
}

int command_run(std::string path, const std::string& log_level, std::vector<std::string> argv) {
  if (!resolve_config_path(path)) return 1;
  // Signals go to the main thread only: block them before any other thread
  // exists (threads inherit the mask) and take them with sigwait.
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGUSR2})
    sigaddset(&set, s);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
  // One descriptor per client connection (two when proxied): use all the
  // hard limit allows, as an operator raising `ulimit -Hn` expects.
  rlimit files{};
  if (getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    setrlimit(RLIMIT_NOFILE, &files);
  }

  // Fixed malloc thresholds (glibc adapts them upwards otherwise, after
  // the first large free, and then keeps tens of megabytes of freed
  // configuration resident): memory freed by a reload goes back to the
  // system, so resident memory says what is alive.
  mallopt(M_MMAP_THRESHOLD, 256 * 1024);
  mallopt(M_TRIM_THRESHOLD, 1024 * 1024);

  // The first configuration is built as reloads build theirs (issue 13):
  // on its own generation thread, whose arena holds everything it
  // allocates, and followed by a trim. Loaded here, the YAML tree and the
  // table built to check the file left their holes in the main heap, and
  // start used 2.6 times the resident memory of a reload.
  std::unique_ptr<sluice::fleet::EtcdProvider> provider;
  bool etcd_unread = false;
  if (!open_provider(path, provider, etcd_unread)) return 1;
  FirstConfiguration first;
  auto generation = sluice::proxy::Reloader::first_generation(
      [&] { build_first(path, log_level, provider.get(), first); });
  if (!first.server) {
    if (etcd_unread) {
      std::fprintf(stderr,
                   "sluice: %s needs etcd's keys to be a whole configuration; start when etcd "
                   "answers\n",
                   path.c_str());
    }
    generation.release.set_value();
    generation.thread.join();
    return 1;
  }
  ::malloc_trim(0);
  sluice::proxy::Server& server = *first.server;

  // A predecessor (binary upgrade) may have handed us its sockets, or the
  // service manager (socket activation) its own.
  sluice::HandedSockets handed = sluice::take_handed_sockets();
  handed.merge(sluice::take_activated_sockets());
  const int admin_fd = take_admin_socket(handed, first.admin_listen);
  sluice::proxy::Reloader reloader(server, path, first.admin_listen, std::move(generation));
  reloader.record_first(std::move(first.source));
  // watch: true: a change of the file reloads it, through the same path as
  // SIGHUP (the watcher signals us; the main thread does the work).
  std::unique_ptr<sluice::FileWatcher> watcher;
  if (first.watch) {
    watcher = std::make_unique<sluice::FileWatcher>(path, [] { ::kill(::getpid(), SIGHUP); });
    if (!watcher->start()) {
      spdlog::warn("watch: cannot watch {}: {}; reload with SIGHUP", path, std::strerror(errno));
      watcher.reset();
    }
  }
  std::string error;
  if (!server.start(error, std::move(handed))) {
    spdlog::error("{}", error);
    return 1;
  }
  // watch: true covers the certificate files too: a renewed certificate is
  // picked up as an edit of the file would be.
  server.watch_certificates([] { ::kill(::getpid(), SIGHUP); });
  std::unique_ptr<sluice::admin::AdminServer> admin;
  if (first.admin) {
    admin = std::make_unique<sluice::admin::AdminServer>(server, reloader, *first.admin);
    // Before any reload can run (signals are taken below, requests once
    // it starts): a reload may change the token, names and limits.
    sluice::admin::AdminServer* listener = admin.get();
    reloader.set_on_applied([listener](const sluice::config::Config& next) {
      if (next.admin) listener->configure(*next.admin);
    });
    if (!admin->start(admin_fd, error)) {
      spdlog::error("{}", error);
      server.request_stop(0);
      return 1;
    }
  } else if (admin_fd >= 0) {
    ::close(admin_fd);
  }
  if (provider) {
    // From here on every reload (SIGHUP, the file's watch, etcd's own
    // changes) composes the file with etcd's keys.
    sluice::fleet::EtcdProvider* source = provider.get();
    reloader.set_composer([source](const std::string& text) { return source->compose(text); });
    provider->start(reloader);
  }
  spdlog::info("sluice ready (pid {}): {} ({} worker{}), config {}", ::getpid(), first.summary,
               server.worker_count(), server.worker_count() == 1 ? "" : "s", path);
  sluice::tell_predecessor_ready();
  sluice::service_ready("serving " + first.summary);
  Running running{server, reloader, admin.get(), std::move(argv), first.grace_ms};
  const int status = serve_until_signalled(running);
  if (provider) provider->stop();  // its thread reloads through `reloader`
  reloader.set_on_applied(nullptr);
  if (admin) admin.reset();
  return status;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "sluice: a reverse proxy and load balancer for HTTP/1.1 and TCP.\n"
      "It reads one YAML configuration file (see docs/config.md) and serves its\n"
      "listeners until SIGTERM or Ctrl-C, which stop it gracefully.",
      "sluice"};
  app.footer(
      "Examples:\n"
      "  sluice -c sluice.yaml            start serving (same as 'sluice run -c ...')\n"
      "  sluice check -c sluice.yaml      validate a configuration and exit\n"
      "  sluice config push FILE --etcd URL   write a configuration into etcd (docs/fleet.md)\n"
      "  sluice version                   print the version\n"
      "Without -c, sluice looks for ./sluice.yaml.");
  std::string config_path;
  std::string log_level;
  app.add_option("-c,--config", config_path, "Configuration file (default: ./sluice.yaml)");
  app.add_option("--log-level", log_level, "Override log.level: trace, debug, info, warn, error");

  auto* run = app.add_subcommand("run", "Start serving the configuration (the default command)");
  run->add_option("-c,--config", config_path, "Configuration file (default: ./sluice.yaml)");
  run->add_option("--log-level", log_level, "Override log.level");
  auto* check = app.add_subcommand(
      "check",
      "Validate a configuration: exit 0, or 1 after printing every error as FILE:LINE:COL");
  check->add_option("-c,--config", config_path, "Configuration file (default: ./sluice.yaml)");
  auto* version = app.add_subcommand("version", "Print the version and exit");
  int config_status = 0;
  auto* config = sluice::fleet::add_config_commands(
      app, [](const std::string& path) { return command_check(path) == 0; }, config_status);
  app.require_subcommand(0, 1);

  CLI11_PARSE(app, argc, argv);

  if (*config) return config_status;

  if (*version) {
    std::printf("sluice %s\n", SLUICE_VERSION);
    return 0;
  }
  if (*check) return command_check(config_path);
  // A successor (SIGUSR2) runs the binary now at our path, as we were run.
  std::vector<std::string> args{sluice::own_binary_path()};
  if (args.front().empty()) args.front() = argv[0];
  for (int i = 1; i < argc; ++i)
    args.emplace_back(argv[i]);
  return command_run(config_path, log_level, std::move(args));
}
