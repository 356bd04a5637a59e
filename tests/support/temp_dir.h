// A temporary directory removed (with its contents) when the test ends.
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace sluice::test {

class TempDir {
 public:
  TempDir();
  // Inside `parent` instead of the system's temporary directory.
  explicit TempDir(const std::filesystem::path& parent);
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  const std::filesystem::path& path() const { return path_; }
  // Writes `content` to `name` inside the directory and returns its full path.
  std::string write(std::string_view name, std::string_view content) const;

  // /dev/shm when it is a writable directory, else the system's temporary
  // directory: for data whose writes must not wait on a disk.
  static std::filesystem::path memory_backed_parent();

 private:
  std::filesystem::path path_;
};

}  // namespace sluice::test
