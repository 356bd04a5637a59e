// The provider: a fleet's configuration from etcd (docs/fleet.md,
// "Provider"). Its own thread reads every key under the prefix once, then
// watches the prefix from the revision after; it keeps a map of the keys
// up to date from the events (after a lost connection the watch resumes
// where it was; the tree is read whole again only after a compaction), and
// reloads through the Reloader when
// a batch bumps PREFIX/generation, which writers change in the same
// transaction as their keys. Each reload composes the file with the keys
// as of the last generation (key_layout.h), so SIGHUP composes too.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <thread>

#include "config/provider_config.h"
#include "fleet/etcd_client.h"
#include "proxy/reloader.h"

namespace sluice::fleet {

// What /metrics says about the configuration source (nullopt: there is no
// provider). Any thread.
struct ConfigSourceStatus {
  bool up = false;            // the last request to etcd succeeded
  std::int64_t revision = 0;  // etcd's revision of the keys last applied
  std::uint64_t errors = 0;   // failed requests to etcd, and refused configurations
};
std::optional<ConfigSourceStatus> etcd_source_status();

class EtcdProvider {
 public:
  // `file`: the configuration file, whose sections are composed with the keys.
  EtcdProvider(const config::EtcdProvider& settings, std::string file);
  ~EtcdProvider();  // stops the thread
  EtcdProvider(const EtcdProvider&) = delete;
  EtcdProvider& operator=(const EtcdProvider&) = delete;

  // Reads every key once, before the first configuration is built. False,
  // with `why`, when etcd cannot be read: compositions then have the
  // file's part alone until it can.
  bool read_initial(std::string& why);

  // The file's text with the keys as of the last generation; certificates
  // from etcd are written to certificate_dir first. Any thread (the
  // Reloader's generation threads).
  proxy::Reloader::Composition compose(const std::string& file_text);

  // Starts watching; changes reload through `reloader`, which must outlive
  // stop().
  void start(proxy::Reloader& reloader);
  void stop();

 private:
  using Keys = std::map<std::string, std::string>;
  enum class State {
    starting,  // nothing said yet
    up,        // etcd answered last time
    down,      // it did not; the configuration in force stays
  };

  void run();
  // Reads the whole prefix into working_; false (state down) on failure.
  bool read_all();
  // Reads PREFIX/generation alone: is etcd answering? (state up or down)
  bool probe();
  // After read_all(): reloads when the generation is not the one applied.
  void apply_if_new_generation();
  // working_ becomes what compositions use, as of `revision`; then reload.
  void commit_and_apply(std::int64_t revision);
  bool on_batch(const EtcdWatchBatch& batch);
  void mark_up(std::int64_t revision);
  void mark_down(const EtcdError& error);
  // Waits the back-off (or until stop()), then doubles it up to 5 s.
  void back_off();
  void warn_if_provider_changed(const std::string& file_text) const;
  std::string write_certificates(const Keys& keys, std::string& error) const;

  config::EtcdProvider settings_;
  std::string file_;
  EtcdClient client_;  // the thread's; read_initial() uses it before the thread starts
  proxy::Reloader* reloader_ = nullptr;

  Keys working_;               // the thread's: every key, as the events left it
  std::int64_t revision_ = 0;  // the thread's: the last revision seen
  State state_ = State::starting;
  std::uint64_t back_off_ms_ = 100;

  mutable std::mutex committed_mutex_;
  std::shared_ptr<const Keys> committed_ = std::make_shared<const Keys>();
  std::int64_t committed_revision_ = 0;

  std::atomic<bool> stop_{false};
  std::mutex wait_mutex_;
  std::condition_variable wake_;
  std::thread thread_;
};

}  // namespace sluice::fleet
