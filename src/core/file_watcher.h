// Calls back when a file is written or replaced (inotify on its directory,
// so editors that save by renaming a new file into place are seen too), or
// when one of several files is, or any file of a directory (a path ending
// in '/'): one thread and one inotify descriptor for them all.
// Events within `debounce_ms` of each other make one call. The callback
// runs on the watcher's own thread.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <thread>
#include <vector>

namespace sluice {

class FileWatcher {
 public:
  FileWatcher(std::string path, std::function<void()> on_change, std::uint64_t debounce_ms = 200);
  FileWatcher(const std::vector<std::string>& paths, std::function<void()> on_change,
              std::uint64_t debounce_ms = 200);
  ~FileWatcher();
  FileWatcher(const FileWatcher&) = delete;
  FileWatcher& operator=(const FileWatcher&) = delete;

  // False (with errno set) if the directory cannot be watched.
  bool start();

 private:
  void run();

  void add(const std::string& path);
  bool matches(int wd, const char* name) const;

  struct Watched {
    std::string dir;
    std::string name;  // empty: any file of `dir`
    int wd = -1;
  };
  std::vector<Watched> watched_;
  std::function<void()> on_change_;
  std::uint64_t debounce_ms_;
  int inotify_fd_ = -1;
  int stop_fd_ = -1;  // eventfd: wakes the thread to end
  std::thread thread_;
};

}  // namespace sluice
