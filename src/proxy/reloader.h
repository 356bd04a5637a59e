// Applying a new configuration to a running Server, from any trigger
// (SIGHUP, a change of the file, POST /config): load, validate, compile,
// publish. One reload at a time; a configuration with any error changes
// nothing, and every outcome is logged.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <future>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "observe/wall_clock.h"

namespace sluice::config {
struct Config;
}

namespace sluice::proxy {

class Server;

class Reloader {
 public:
  // `path`: the configuration file the server was started with;
  // `admin_listen`: its admin listener's address ("" for none), which a
  // reload cannot change.
  // A thread that stays, idle, for as long as the configuration it built
  // is in force (reloader.cpp says why).
  struct GenerationThread {
    std::thread thread;
    std::promise<void> release;
  };
  // Runs `build` (the first configuration's) on a generation thread.
  static GenerationThread first_generation(const std::function<void()>& build);

  // `first`: the thread that built the server's first configuration.
  Reloader(Server& server, std::string path, std::string admin_listen, GenerationThread first)
      : server_(server),
        path_(std::move(path)),
        admin_listen_(std::move(admin_listen)),
        keeper_(std::move(first)) {}
  ~Reloader();
  Reloader(const Reloader&) = delete;
  Reloader& operator=(const Reloader&) = delete;

  struct Outcome {
    bool applied = false;
    // Errors and warnings as `sluice check` prints them (FILE:LINE:COL:
    // error: ...), or why the change needs a restart.
    std::vector<std::string> messages;
    std::string summary;  // "2 listeners, 5 routes, ..." when applied
  };

  // A source of configuration besides the file (fleet/etcd_provider.h):
  // what to load in place of the file's text. Messages the loader gives
  // about `origin` go through `locate`, so that they name a key or the file.
  struct Composition {
    std::string text;
    std::string origin;               // the name the loader gives `text` in messages
    std::string label;                // what the log says was applied: "etcd revision 42 + FILE"
    std::vector<std::string> errors;  // not composable (named): nothing is loaded
    std::function<std::string(std::string_view message)> locate;
    // Called once the composition is in force, before the log says so (the
    // source's revision in /metrics is then never behind the log line).
    std::function<void()> applied;
  };
  using Composer = std::function<Composition(const std::string& file_text)>;
  // Every reload_file() composes the file with it (SIGHUP, watch: true and
  // the provider's own reloads alike). Set it before the first reload can
  // happen.
  void set_composer(Composer composer) { composer_ = std::move(composer); }

  // Loads the file again (composed, with a composer).
  Outcome reload_file();
  // Loads `yaml` (JSON too: YAML reads it), naming it `origin` in messages.
  // The file on disk is not changed: a later reload of it wins.
  Outcome apply_text(std::string_view yaml, const std::string& origin);

  const std::string& path() const { return path_; }

  // The configuration in force, as GET /config shows it: its text (inline
  // secrets redacted: config/redact.h), where it came from, its generation.
  struct Applied {
    std::string text;
    std::size_t redacted = 0;  // values redact_secrets() replaced
    std::string origin;        // the file, or "POST /config"
    std::uint64_t generation = 0;
    std::uint64_t applied_at_us = 0;  // unix time
  };
  // Redacts the text on the first call after a reload, not at the reload:
  // finding secrets parses the whole text again, which for a large file
  // cost a reload as much as loading it (5,000 routes: ~150 ms).
  Applied applied() const;
  // For the configuration the server started with (main.cpp), its source
  // text; each reload records its own.
  void record_first(std::string source);

  // What /metrics says about reloads: how many applied and how many were
  // refused since start, and the last one's time (Unix µs; the start's
  // before any) and outcome. Any thread.
  struct Stats {
    std::uint64_t applied = 0;
    std::uint64_t refused = 0;
    std::uint64_t last_unix_us = 0;
    bool last_applied = true;
  };
  Stats stats() const;

  // Called with each configuration applied, on the thread that applied it,
  // before the reload returns (one at a time). Set it before the first
  // reload can happen; the admin listener learns its new settings here.
  void set_on_applied(std::function<void(const config::Config&)> hook) {
    on_applied_ = std::move(hook);
  }

  // The last reload's outcome, what asked for it and when (Unix µs); none
  // before the first reload. Any thread (the dashboard's /status).
  struct LastReload {
    Outcome outcome;
    std::string origin;
    std::uint64_t at_unix_us = 0;
  };
  std::optional<LastReload> last_reload() const;

 private:
  Outcome remember(Outcome outcome, const std::string& origin);  // as last_reload()
  Outcome reload_composed();
  Outcome apply(const config::Config* config, Outcome outcome, const std::string& origin,
                const std::function<void()>& applied = {});
  template <typename Work>
  Outcome on_generation_thread(Work work);
  void retire_keeper();
  void record(Applied next);

  Server& server_;
  mutable std::mutex last_mutex_;  // apart from mutex_: /status reads it while a reload runs
  std::optional<LastReload> last_;
  std::string path_;
  std::string admin_listen_;
  std::function<void(const config::Config&)> on_applied_;
  Composer composer_;
  std::mutex mutex_;                  // one reload at a time
  GenerationThread keeper_;           // the one of the configuration in force
  mutable std::mutex applied_mutex_;  // not mutex_: GET /config waits for no reload
  mutable Applied applied_;           // its text is the source until applied() redacts it
  mutable bool redacted_ = false;     // applied_.text is redacted already
  // stats(); count() adds one reload's outcome.
  std::atomic<std::uint64_t> reloads_applied_{0};
  std::atomic<std::uint64_t> reloads_refused_{0};
  std::atomic<std::uint64_t> last_unix_us_{observe::unix_now_us()};
  std::atomic<bool> last_applied_{true};
  void count(bool applied);
};

}  // namespace sluice::proxy
