#include "core/file_watcher.h"

#include <poll.h>
#include <sys/eventfd.h>
#include <sys/inotify.h>
#include <unistd.h>

#include <cstring>

namespace sluice {

FileWatcher::FileWatcher(std::string path, std::function<void()> on_change,
                         std::uint64_t debounce_ms)
    : on_change_(std::move(on_change)), debounce_ms_(debounce_ms) {
  add(path);
}

FileWatcher::FileWatcher(const std::vector<std::string>& paths, std::function<void()> on_change,
                         std::uint64_t debounce_ms)
    : on_change_(std::move(on_change)), debounce_ms_(debounce_ms) {
  for (const auto& p : paths)
    add(p);
}

void FileWatcher::add(const std::string& path) {
  const auto slash = path.rfind('/');
  Watched w;
  w.dir = slash == std::string::npos ? "." : path.substr(0, slash == 0 ? 1 : slash);
  w.name = slash == std::string::npos ? path : path.substr(slash + 1);
  watched_.push_back(std::move(w));
}

bool FileWatcher::matches(int wd, const char* name) const {
  for (const auto& w : watched_) {
    if (w.wd == wd && (w.name.empty() || w.name == name)) return true;
  }
  return false;
}

FileWatcher::~FileWatcher() {
  if (thread_.joinable()) {
    const std::uint64_t one = 1;
    [[maybe_unused]] auto n = ::write(stop_fd_, &one, sizeof one);
    thread_.join();
  }
  if (inotify_fd_ >= 0) ::close(inotify_fd_);
  if (stop_fd_ >= 0) ::close(stop_fd_);
}

bool FileWatcher::start() {
  inotify_fd_ = inotify_init1(IN_CLOEXEC | IN_NONBLOCK);
  stop_fd_ = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  if (inotify_fd_ < 0 || stop_fd_ < 0) return false;
  for (auto& w : watched_) {
    // One watch per directory: inotify returns the same descriptor again.
    w.wd = inotify_add_watch(inotify_fd_, w.dir.c_str(), IN_CLOSE_WRITE | IN_MOVED_TO | IN_CREATE);
    if (w.wd < 0) return false;
  }
  thread_ = std::thread([this] { run(); });
  return true;
}

void FileWatcher::run() {
  alignas(inotify_event) char buf[4096];
  bool pending = false;
  while (true) {
    pollfd fds[2] = {{inotify_fd_, POLLIN, 0}, {stop_fd_, POLLIN, 0}};
    // Waiting for more events of the same save before calling back.
    const int r = ::poll(fds, 2, pending ? static_cast<int>(debounce_ms_) : -1);
    if (r < 0) continue;
    if (fds[1].revents != 0) return;
    if (r == 0) {
      pending = false;
      on_change_();
      continue;
    }
    const ssize_t n = ::read(inotify_fd_, buf, sizeof buf);
    for (ssize_t off = 0; off < n;) {
      const auto* e = reinterpret_cast<const inotify_event*>(buf + off);
      if (e->len > 0 && matches(e->wd, e->name)) pending = true;
      off += static_cast<ssize_t>(sizeof(inotify_event) + e->len);
    }
  }
}

}  // namespace sluice
