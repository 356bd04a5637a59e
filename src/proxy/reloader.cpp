#include "proxy/reloader.h"

#include <spdlog/spdlog.h>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <future>
#include <sstream>
#include <thread>

#include "config/loader.h"
#include "config/model.h"
#include "config/redact.h"
#include "core/service_notify.h"
#include "observe/wall_clock.h"
#include "proxy/server.h"
#include "proxy/snapshot.h"

namespace sluice::proxy {
namespace {

void split_lines(const std::string& text, std::vector<std::string>& out) {
  std::size_t begin = 0;
  while (begin < text.size()) {
    std::size_t end = text.find('\n', begin);
    if (end == std::string::npos) end = text.size();
    out.push_back(text.substr(begin, end - begin));
    begin = end + 1;
  }
}

Reloader::Outcome loaded(const config::LoadResult& result) {
  Reloader::Outcome outcome;
  for (const auto& d : result.diagnostics)
    outcome.messages.push_back(d.to_string());
  return outcome;
}

// What a reload cannot change: the admin listener serves the request that
// may be asking for the reload.
bool admin_unchanged(const std::string& before, const config::Config& next, std::string& why) {
  const std::string after = next.admin ? next.admin->listen : "";
  if (before == after) return true;
  why = "admin.listen changed (" + (before.empty() ? "none" : before) + " -> " +
        (after.empty() ? "none" : after) + "); that needs a restart";
  return false;
}

bool read_file(const std::string& path, std::string& text) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::stringstream ss;
  ss << in.rdbuf();
  text = ss.str();
  return !in.bad();
}

}  // namespace

Reloader::~Reloader() {
  retire_keeper();
}

void Reloader::retire_keeper() {
  if (!keeper_.thread.joinable()) return;
  keeper_.release.set_value();
  keeper_.thread.join();
}

// A configuration is loaded and its snapshot built on a thread of its own,
// which then stays, idle, for as long as that configuration is in force.
// glibc gives a thread its own malloc arena and hands it to no other
// thread while the thread lives, so everything a generation allocates
// (the YAML tree, the model, the snapshot) sits in one arena, apart from
// the next generation's: when a snapshot dies, its arena empties and goes
// back to the system whole. Built on one thread, generations interleave
// in one heap instead and leave holes that keep resident memory a third
// higher after a few dozen reloads of a 5,000-route file.
template <typename Work>
Reloader::Outcome Reloader::on_generation_thread(Work work) {
  std::promise<Outcome> finished;
  GenerationThread builder;
  builder.thread = std::thread([&finished, &work, exit = builder.release.get_future()] {
    finished.set_value(work());
    exit.wait();
  });
  Outcome outcome = finished.get_future().get();
  if (!outcome.applied) {
    builder.release.set_value();
    builder.thread.join();
    return outcome;
  }
  retire_keeper();  // the previous configuration's thread
  keeper_ = std::move(builder);
  return outcome;
}

void Reloader::count(bool applied) {
  (applied ? reloads_applied_ : reloads_refused_).fetch_add(1, std::memory_order_relaxed);
  last_applied_.store(applied, std::memory_order_relaxed);
  last_unix_us_.store(observe::unix_now_us(), std::memory_order_relaxed);
}

Reloader::Stats Reloader::stats() const {
  Stats s;
  s.applied = reloads_applied_.load(std::memory_order_relaxed);
  s.refused = reloads_refused_.load(std::memory_order_relaxed);
  s.last_unix_us = last_unix_us_.load(std::memory_order_relaxed);
  s.last_applied = last_applied_.load(std::memory_order_relaxed);
  return s;
}

Reloader::GenerationThread Reloader::first_generation(const std::function<void()>& build) {
  std::promise<void> built;
  GenerationThread first;
  first.thread = std::thread([&built, &build, exit = first.release.get_future()] {
    build();
    built.set_value();
    exit.wait();
  });
  built.get_future().wait();
  return first;
}

void Reloader::record_first(std::string source) {
  Applied first;
  first.text = std::move(source);
  first.origin = path_;
  record(std::move(first));
}

void Reloader::record(Applied next) {
  next.generation = server_.snapshot()->generation;
  next.applied_at_us = observe::unix_now_us();
  std::lock_guard lock(applied_mutex_);
  std::swap(applied_, next);
  redacted_ = false;
}

Reloader::Applied Reloader::applied() const {
  std::lock_guard lock(applied_mutex_);
  if (!redacted_) {
    applied_.text = config::redact_secrets(applied_.text, &applied_.redacted);
    redacted_ = true;
  }
  return applied_;
}

Reloader::Outcome Reloader::reload_file() {
  if (composer_) return reload_composed();
  std::lock_guard lock(mutex_);
  ServiceReload notice(path_);  // systemd: RELOADING=1 until READY=1
  Outcome outcome = on_generation_thread([&] {
    const auto result = config::load_file(path_);
    return apply(result.config.get(), loaded(result), path_);
  });
  notice.finished(outcome.applied);
  return remember(std::move(outcome), path_);
}

Reloader::Outcome Reloader::reload_composed() {
  std::lock_guard lock(mutex_);
  ServiceReload notice(path_);
  std::string label = path_;
  Outcome outcome = on_generation_thread([&] {
    std::string file_text;
    if (!read_file(path_, file_text)) {
      Outcome refused;
      refused.messages.push_back(
          path_ + ": error: cannot read the configuration file: " + std::strerror(errno));
      return apply(nullptr, std::move(refused), path_);
    }
    Composition composed = composer_(file_text);
    label = composed.label;
    Outcome result;
    result.messages = std::move(composed.errors);
    if (!result.messages.empty()) return apply(nullptr, std::move(result), label);
    const auto loaded_config =
        config::load_string(composed.text, composed.origin, config::directory_of(path_));
    for (const auto& d : loaded_config.diagnostics)
      result.messages.push_back(composed.locate ? composed.locate(d.to_string()) : d.to_string());
    return apply(loaded_config.config.get(), std::move(result), label, composed.applied);
  });
  notice.finished(outcome.applied);
  return remember(std::move(outcome), label);
}

Reloader::Outcome Reloader::apply_text(std::string_view yaml, const std::string& origin) {
  std::lock_guard lock(mutex_);
  ServiceReload notice(origin);
  Outcome outcome = on_generation_thread([&] {
    // Relative paths in it are relative to the file's directory, as when
    // the file is loaded.
    const auto result = config::load_string(yaml, origin, config::directory_of(path_));
    return apply(result.config.get(), loaded(result), origin);
  });
  notice.finished(outcome.applied);
  return remember(std::move(outcome), origin);
}

Reloader::Outcome Reloader::apply(const config::Config* config, Outcome outcome,
                                  const std::string& origin, const std::function<void()>& applied) {
  for (const auto& m : outcome.messages)
    spdlog::warn("reload: {}", m);
  std::string why;
  // Counted before the outcome is logged: whoever reads the log line
  // finds it in /metrics.
  if (!config) {
    count(false);
    spdlog::error("reload: {} has errors; the running configuration is unchanged", origin);
    return outcome;
  }
  if (!admin_unchanged(admin_listen_, *config, why) || !server_.reload(*config, why)) {
    count(false);
    std::vector<std::string> lines;
    split_lines(why, lines);
    for (const auto& line : lines) {
      spdlog::error("reload: {}", line);
      outcome.messages.push_back(line);
    }
    spdlog::error("reload: {}: the running configuration is unchanged", origin);
    return outcome;
  }
  if (on_applied_) on_applied_(*config);
  if (applied) applied();
  Applied next;
  next.text = config->source;  // redacted when first shown (applied())
  next.origin = origin;
  record(std::move(next));
  outcome.applied = true;
  outcome.summary = config::summary(*config);
  count(true);
  spdlog::info("reload: applied {} ({})", origin, outcome.summary);
  return outcome;
}

Reloader::Outcome Reloader::remember(Outcome outcome, const std::string& origin) {
  std::lock_guard lock(last_mutex_);
  last_ = LastReload{outcome, origin, observe::unix_now_us()};
  return outcome;
}

std::optional<Reloader::LastReload> Reloader::last_reload() const {
  std::lock_guard lock(last_mutex_);
  return last_;
}

}  // namespace sluice::proxy
