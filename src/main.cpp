// sluice: command line, composition, signals. Everything else lives in the
// layers below (see docs/architecture.md).
#include <pthread.h>
#include <signal.h>
#include <sys/resource.h>
#include <unistd.h>

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "config/loader.h"
#include "config/model.h"
#include "core/file_watcher.h"
#include "core/log.h"
#include "proxy/server.h"
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

// Loads and validates; prints every diagnostic. Null on any error.
std::shared_ptr<const sluice::config::Config> load(const std::string& path) {
  auto result = sluice::config::load_file(path);
  for (const auto& d : result.diagnostics)
    std::fprintf(stderr, "%s\n", d.to_string().c_str());
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

int command_check(std::string path) {
  if (!resolve_config_path(path)) return 1;
  auto config = load(path);
  if (!config) return 1;
  if (!check_routes(*config, path)) return 1;
  std::printf("%s: ok (%s)\n", path.c_str(), sluice::config::summary(*config).c_str());
  return 0;
}

// Waits for SIGINT/SIGTERM (graceful stop) while the workers run. A second
// SIGINT or SIGTERM during the grace period stops at once.
// SIGHUP: load and check the file again; apply it if it is valid, else
// keep serving the configuration in force. Either way, say so in the log.
void reload(sluice::proxy::Server& server, const std::string& path) {
  auto result = sluice::config::load_file(path);
  for (const auto& d : result.diagnostics)
    spdlog::warn("reload: {}", d.to_string());
  if (!result.ok()) {
    spdlog::error("reload: {} has errors; the running configuration is unchanged", path);
    return;
  }
  std::vector<sluice::route::RouteFinding> errors;
  sluice::route::RouteTable::build(*result.config, &errors);
  if (!errors.empty()) {
    for (const auto& e : errors)
      spdlog::error("reload: {}", e.message);
    spdlog::error("reload: {} has errors; the running configuration is unchanged", path);
    return;
  }
  std::string why;
  if (!server.reload(result.config, why)) {
    spdlog::error("reload: {}; the running configuration is unchanged", why);
    return;
  }
  spdlog::info("reload: applied {} ({})", path, sluice::config::summary(*result.config));
}

int serve_until_signalled(sluice::proxy::Server& server, std::uint64_t grace_ms,
                          const std::string& path) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);
  sigaddset(&set, SIGUSR1);  // the joiner thread: every worker has ended
  bool stopping = false;
  std::thread joiner;
  const pthread_t main_thread = pthread_self();
  while (true) {
    int sig = 0;
    if (sigwait(&set, &sig) != 0) continue;
    if (sig == SIGUSR1 && stopping) break;
    if (sig == SIGHUP) {
      if (!stopping) reload(server, path);
      continue;
    }
    if (sig == SIGINT || sig == SIGTERM) {
      if (stopping) {
        spdlog::warn("second stop signal: closing every connection now");
        server.request_stop(0);
        continue;
      }
      stopping = true;
      spdlog::info("{}: stopping; open connections have {} ms to finish", strsignal(sig), grace_ms);
      server.request_stop(grace_ms);
      joiner = std::thread([&server, main_thread] {
        server.join();
        pthread_kill(main_thread, SIGUSR1);
      });
    }
  }
  joiner.join();
  spdlog::info("stopped");
  return 0;
}

int command_run(std::string path, const std::string& log_level) {
  if (!resolve_config_path(path)) return 1;
  auto config = load(path);
  if (!config) return 1;
  if (!check_routes(*config, path)) return 1;
  const std::string level = log_level.empty() ? level_name(config->log.level) : log_level;
  if (!sluice::init_logging(level)) {
    std::fprintf(stderr, "sluice: unknown log level '%s' (trace, debug, info, warn, error)\n",
                 level.c_str());
    return 1;
  }
  // Signals go to the main thread only: block them before any worker exists
  // (threads inherit the mask) and take them with sigwait.
  sigset_t set;
  sigemptyset(&set);
  for (int s : {SIGINT, SIGTERM, SIGHUP, SIGUSR1})
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

  sluice::proxy::Server server(config);
  // watch: true: a change of the file reloads it, through the same path as
  // SIGHUP (the watcher signals us; the main thread does the work).
  std::unique_ptr<sluice::FileWatcher> watcher;
  if (config->watch) {
    watcher = std::make_unique<sluice::FileWatcher>(path, [] { ::kill(::getpid(), SIGHUP); });
    if (!watcher->start()) {
      spdlog::warn("watch: cannot watch {}: {}; reload with SIGHUP", path, std::strerror(errno));
      watcher.reset();
    }
  }
  std::string error;
  if (!server.start(error)) {
    spdlog::error("{}", error);
    return 1;
  }
  spdlog::info("sluice ready: {} ({} worker{}), config {}", sluice::config::summary(*config),
               server.worker_count(), server.worker_count() == 1 ? "" : "s", path);
  const auto grace = static_cast<std::uint64_t>(config->shutdown.grace.count());
  return serve_until_signalled(server, grace, path);
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
  app.require_subcommand(0, 1);

  CLI11_PARSE(app, argc, argv);

  if (*version) {
    std::printf("sluice %s\n", SLUICE_VERSION);
    return 0;
  }
  if (*check) return command_check(config_path);
  return command_run(config_path, log_level);
}
