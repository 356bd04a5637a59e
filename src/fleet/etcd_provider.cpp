#include "fleet/etcd_provider.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <spdlog/spdlog.h>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <vector>

#include "config/loader.h"
#include "fleet/key_layout.h"
#include "fleet/private_file.h"

namespace sluice::fleet {
namespace {

constexpr std::uint64_t kFirstBackOffMs = 100;
constexpr std::uint64_t kLastBackOffMs = 5'000;

// /metrics reads these from the admin's thread; one provider per process.
std::atomic<bool> g_active{false};
std::atomic<bool> g_up{false};
std::atomic<std::int64_t> g_revision{0};
std::atomic<std::uint64_t> g_errors{0};

EtcdSettings client_settings(const config::EtcdProvider& p) {
  EtcdSettings s;
  s.endpoints = p.endpoints;
  s.prefix = p.prefix;
  if (p.tls) {
    s.ca_file = p.tls->ca;
    s.cert_file = p.tls->cert;
    s.key_file = p.tls->key;
  }
  s.username = p.username;
  s.password = p.password;
  return s;
}

// A certificate's name becomes a file name: no separator, no dot first.
bool valid_certificate_name(std::string_view name) {
  if (name.empty() || name.front() == '.') return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_' || c == '.';
  });
}

bool same_content(const std::string& path, const std::string& content) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return false;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str() == content;
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r'))
    s.remove_suffix(1);
  return s;
}

std::string_view unquote(std::string_view s) {
  if (s.size() >= 2 && (s.front() == '\'' || s.front() == '"') && s.back() == s.front())
    return s.substr(1, s.size() - 2);
  return s;
}

std::string single_quoted(std::string_view s) {
  std::string out = "'";
  for (char c : s) {
    out += c;
    if (c == '\'') out += '\'';
  }
  return out + "'";
}

// A listener may name a certificate entry `{etcd: NAME}` (or, in block
// style, `- etcd: NAME` alone on its line), in a key or in the file; the
// TLS layer reads files, so the entry becomes the file the provider wrote,
// which holds chain and key. Lines keep their places, so that positions in
// messages still point into the keys. A name that is not in etcd is an
// error at its line ("<etcd>:LINE:COL: ...", for locate()).
class CertificateRefs {
 public:
  CertificateRefs(const std::map<std::string, std::string>& keys, std::string prefix,
                  std::string dir)
      : keys_(keys), prefix_(std::move(prefix)), dir_(std::move(dir)) {}

  std::string rewrite(std::string_view text, std::vector<std::string>& errors) {
    std::string out;
    out.reserve(text.size());
    std::size_t begin = 0;
    std::size_t line_no = 1;
    while (begin < text.size()) {
      std::size_t end = text.find('\n', begin);
      if (end == std::string_view::npos) end = text.size();
      const std::string_view line = text.substr(begin, end - begin);
      out += line.find("etcd:") == std::string_view::npos ? std::string(line)
                                                          : rewrite_line(line, line_no, errors);
      if (end < text.size()) out += '\n';
      begin = end + 1;
      ++line_no;
    }
    return out;
  }

 private:
  // Each "{etcd: NAME}" on the line, and a line that is "- etcd: NAME".
  std::string rewrite_line(std::string_view line, std::size_t line_no,
                           std::vector<std::string>& errors) {
    std::string out;
    std::size_t at = 0;
    for (std::size_t found = line.find("etcd:"); found != std::string_view::npos;
         found = line.find("etcd:", found + 5)) {
      const std::size_t open = line.find_last_not_of(" \t", found == 0 ? 0 : found - 1);
      const std::size_t close = line.find('}', found);
      if (found == 0 || open == std::string_view::npos || line[open] != '{' || open < at ||
          close == std::string_view::npos)
        continue;
      std::string name;
      if (!certificate_name(line.substr(found + 5, close - found - 5), name)) continue;
      out += std::string(line.substr(at, open - at)) + entry(name, line_no, found + 1, errors);
      at = close + 1;
    }
    out += std::string(line.substr(at));
    const std::string_view t = trim(out);
    std::string name;
    if (t.substr(0, 2) == "- " && trim(t.substr(2)).substr(0, 5) == "etcd:" &&
        certificate_name(trim(t.substr(2)).substr(5), name)) {
      const std::size_t dash = out.find('-');
      out = out.substr(0, dash) + "- " + entry(name, line_no, dash + 3, errors);
    }
    return out;
  }

  static bool certificate_name(std::string_view written, std::string& name) {
    name = std::string(unquote(trim(written)));
    return valid_certificate_name(name);
  }

  std::string entry(const std::string& name, std::size_t line, std::size_t column,
                    std::vector<std::string>& errors) {
    const std::string key = prefix_ + "certificates/" + name;
    if (!keys_.count(key)) {
      errors.push_back(std::string(kComposedOrigin) + ":" + std::to_string(line) + ":" +
                       std::to_string(column) + ": error: certificate " + single_quoted(name) +
                       " is not in etcd (" + key + ")");
    }
    const std::string file = single_quoted(dir_ + "/" + name + ".pem");
    return "{cert: " + file + ", key: " + file + "}";
  }

  const std::map<std::string, std::string>& keys_;
  std::string prefix_;
  std::string dir_;
};

}  // namespace

std::optional<ConfigSourceStatus> etcd_source_status() {
  if (!g_active.load()) return std::nullopt;
  ConfigSourceStatus s;
  s.up = g_up.load();
  s.revision = g_revision.load();
  s.errors = g_errors.load();
  return s;
}

EtcdProvider::EtcdProvider(const config::EtcdProvider& settings, std::string file)
    : settings_(settings), file_(std::move(file)), client_(client_settings(settings)) {
  g_active.store(true);
}

EtcdProvider::~EtcdProvider() {
  stop();
  g_active.store(false);
}

bool EtcdProvider::read_initial(std::string& why) {
  if (!read_all()) {
    why = client_.last_error().message;
    return false;
  }
  std::lock_guard lock(committed_mutex_);
  committed_ = std::make_shared<const Keys>(working_);
  committed_revision_ = revision_;
  g_revision.store(revision_);
  return true;
}

void EtcdProvider::start(proxy::Reloader& reloader) {
  reloader_ = &reloader;
  thread_ = std::thread([this] { run(); });
}

void EtcdProvider::stop() {
  {
    std::lock_guard lock(wait_mutex_);
    stop_.store(true);
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

bool EtcdProvider::read_all() {
  auto range = client_.range_prefix();
  if (!range) {
    mark_down(range.error);
    return false;
  }
  working_.clear();
  for (auto& kv : range.value->kvs)
    working_.emplace(std::move(kv.key), std::move(kv.value));
  revision_ = range.value->revision;
  mark_up(revision_);
  return true;
}

// After a lost connection the watch resumes from the revision after the
// last one seen, so that etcd replays what was missed; the whole tree is
// read again only when that revision has been compacted away.
void EtcdProvider::run() {
  enum class Next {
    read_all,  // every key again (no first read, or history compacted away)
    probe,     // is etcd back? (one key), then watch from where we were
    watch,
  };
  Next next = revision_ == 0 ? Next::read_all : Next::watch;
  while (!stop_.load()) {
    if (next == Next::read_all) {
      if (!read_all()) {
        back_off();
        continue;
      }
      apply_if_new_generation();
    } else if (next == Next::probe && !probe()) {
      back_off();
      continue;
    }
    std::int64_t compacted_at = 0;
    const EtcdWatchEnd end = client_.watch_prefix(
        revision_ + 1, [this](const EtcdWatchBatch& b) { return on_batch(b); }, stop_,
        &compacted_at);
    if (end == EtcdWatchEnd::stopped) return;
    if (end == EtcdWatchEnd::compacted) {
      spdlog::info("etcd: revision {} was compacted away (oldest left {}); reading every key again",
                   revision_ + 1, compacted_at);
      next = Next::read_all;
      continue;
    }
    mark_down(client_.last_error());
    back_off();
    next = Next::probe;
  }
}

bool EtcdProvider::probe() {
  auto generation = client_.range_prefix(settings_.prefix + "generation");
  if (!generation) {
    mark_down(generation.error);
    return false;
  }
  mark_up(generation.value->revision);
  return true;
}

void EtcdProvider::apply_if_new_generation() {
  const std::string key = settings_.prefix + "generation";
  auto generation_of = [&key](const Keys& keys) {
    const auto it = keys.find(key);
    return it == keys.end() ? std::string() : it->second;
  };
  bool changed = false;
  {
    std::lock_guard lock(committed_mutex_);
    changed = committed_revision_ == 0 || generation_of(*committed_) != generation_of(working_);
  }
  // Whatever happened while we were behind, in one reload.
  if (changed && !working_.empty()) commit_and_apply(revision_);
}

bool EtcdProvider::on_batch(const EtcdWatchBatch& batch) {
  const std::string generation = settings_.prefix + "generation";
  bool bumped = false;
  std::int64_t last = 0;
  for (const auto& e : batch.events) {
    if (e.kind == EtcdWatchEvent::Kind::put) {
      working_[e.kv.key] = e.kv.value;
    } else {
      working_.erase(e.kv.key);
    }
    bumped = bumped || e.kv.key == generation;
    last = std::max(last, e.kv.mod_revision);
  }
  // The events' own revision, not the header's: the header may be ahead
  // of events still to come, which a watch resumed after it would miss.
  revision_ = std::max(revision_, last > 0 ? last : batch.revision);
  mark_up(revision_);
  // Writers bump the generation in the transaction that changes keys:
  // anything else is a writer's step on the way, not a configuration.
  if (bumped) {
    spdlog::info("etcd: generation changed at revision {} ({} key{} changed); reloading", revision_,
                 batch.events.size() - 1, batch.events.size() == 2 ? "" : "s");
    commit_and_apply(revision_);
  }
  return !stop_.load();
}

void EtcdProvider::commit_and_apply(std::int64_t revision) {
  {
    std::lock_guard lock(committed_mutex_);
    committed_ = std::make_shared<const Keys>(working_);
    committed_revision_ = revision;
  }
  if (reloader_ == nullptr) return;
  // The revision in /metrics is set by the composition once applied.
  if (!reloader_->reload_file().applied) g_errors.fetch_add(1);
}

void EtcdProvider::mark_up(std::int64_t revision) {
  g_up.store(true);
  back_off_ms_ = kFirstBackOffMs;
  if (state_ == State::down) {
    spdlog::info("etcd: reachable again (revision {})", revision);
  } else if (state_ == State::starting) {
    spdlog::info("etcd: reading {} from {} (revision {})", settings_.prefix,
                 settings_.endpoints.front(), revision);
  }
  state_ = State::up;
}

void EtcdProvider::mark_down(const EtcdError& error) {
  g_up.store(false);
  g_errors.fetch_add(1);
  // At start, whoever called read_initial() says what it means.
  if (state_ == State::up) {
    spdlog::warn("etcd: {}; the configuration in force stays, retrying from {} ms to {} s",
                 error.message, kFirstBackOffMs, kLastBackOffMs / 1000);
  }
  state_ = State::down;
}

void EtcdProvider::back_off() {
  std::unique_lock lock(wait_mutex_);
  wake_.wait_for(lock, std::chrono::milliseconds(back_off_ms_), [this] { return stop_.load(); });
  back_off_ms_ = std::min(back_off_ms_ * 2, kLastBackOffMs);
}

std::string EtcdProvider::write_certificates(const Keys& keys, std::string& error) const {
  const std::string prefix = settings_.prefix + "certificates/";
  const std::string& dir = settings_.certificate_dir;
  bool made_dir = false;
  for (auto it = keys.lower_bound(prefix); it != keys.end() && it->first.rfind(prefix, 0) == 0;
       ++it) {
    const std::string name = it->first.substr(prefix.size());
    if (!valid_certificate_name(name)) {
      error = it->first +
              ": error: a certificate's name must be letters, digits, '-', '_' and "
              "'.' (not first), as it becomes a file name";
      return it->first;
    }
    if (!made_dir) {
      std::error_code ec;
      std::filesystem::create_directories(dir, ec);
      if (ec) {
        error = it->first + ": error: cannot create " + dir + ": " + ec.message();
        return it->first;
      }
      made_dir = true;
    }
    const std::string path = dir + "/" + name + ".pem";
    if (same_content(path, it->second)) continue;
    std::string why;
    if (!write_private_file(path, it->second, why)) {
      error = it->first + ": error: " + why;
      return it->first;
    }
  }
  return {};
}

// The provider is read at start only: a file edited to name another etcd
// or prefix is still composed with this one's keys, and the log says so.
void EtcdProvider::warn_if_provider_changed(const std::string& file_text) const {
  std::vector<config::Diagnostic> ignored;  // the load reports them
  const config::Provider now =
      config::read_provider(file_text, file_, config::directory_of(file_), ignored);
  const bool same = now.etcd && now.etcd->endpoints == settings_.endpoints &&
                    now.etcd->prefix == settings_.prefix &&
                    now.etcd->username == settings_.username &&
                    now.etcd->certificate_dir == settings_.certificate_dir;
  if (!same) {
    spdlog::warn(
        "reload: {}: the provider block changed; it takes a restart (still reading {} "
        "from {})",
        file_, settings_.prefix, settings_.endpoints.front());
  }
}

proxy::Reloader::Composition EtcdProvider::compose(const std::string& file_text) {
  std::shared_ptr<const Keys> keys;
  std::int64_t revision = 0;
  {
    std::lock_guard lock(committed_mutex_);
    keys = committed_;
    revision = committed_revision_;
  }
  warn_if_provider_changed(file_text);
  proxy::Reloader::Composition out;
  out.label = "etcd revision " + std::to_string(revision) + " + " + file_;
  out.applied = [revision] { g_revision.store(revision); };
  out.origin = std::string(kComposedOrigin);
  std::string error;
  if (!write_certificates(*keys, error).empty()) {
    out.errors.push_back(error);
    return out;
  }
  auto composed =
      std::make_shared<ComposedConfig>(compose_config(*keys, settings_.prefix, file_text, file_));
  out.errors = composed->errors;
  if (composed->text.find("etcd:") != std::string::npos) {
    std::vector<std::string> errors;
    out.text = CertificateRefs(*keys, settings_.prefix, settings_.certificate_dir)
                   .rewrite(composed->text, errors);
    for (const auto& e : errors)
      out.errors.push_back(composed->locate(e));
  } else {
    out.text = std::move(composed->text);
  }
  out.locate = [composed](std::string_view message) { return composed->locate(message); };
  return out;
}

}  // namespace sluice::fleet
