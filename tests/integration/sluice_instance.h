// Starts the real sluice binary on a config written for the test, and learns
// the ports its listeners bound (configs use port 0: the kernel picks) from
// its "listening on" log lines.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "support/http_client.h"
#include "support/process.h"
#include "support/temp_dir.h"

namespace sluice::test {

// The binary built beside the tests, or another one to run them against
// (make release runs them on its profile-guided build).
inline std::string sluice_binary() {
  const char* other = std::getenv("SLUICE_BINARY");
  return other != nullptr && *other != '\0' ? other : SLUICE_BINARY;
}
inline std::string source_dir() {
  return SLUICE_SOURCE_DIR;
}

class SluiceInstance {
 public:
  // Writes `yaml` to sluice.yaml in a fresh directory and starts
  // `sluice run -c` on it; waits for its "sluice ready" line.
  // `binary`: another copy of sluice to run (default: the one built).
  explicit SluiceInstance(const std::string& yaml, std::vector<std::string> extra_args = {},
                          const std::string& binary = sluice_binary())
      : config_path_(dir_.write("sluice.yaml", yaml)) {
    std::vector<std::string> argv{binary, "run", "-c", config_path_};
    argv.insert(argv.end(), extra_args.begin(), extra_args.end());
    process_ = std::make_unique<Process>(argv, dir_.path().string());
    if (process_->wait_for_line("sluice ready", std::chrono::seconds(20))) record();
  }

  bool ready() const { return !ports_.empty(); }
  // Learns the ports of listeners opened since (a reload adds listeners).
  void refresh_ports() { record(); }
  std::uint16_t port(const std::string& listener) const {
    auto it = ports_.find(listener);
    return it == ports_.end() ? 0 : it->second;
  }
  Process& process() { return *process_; }
  // GET `path` on the admin listener, with the Host it accepts (its own
  // address). nullopt when it does not answer.
  std::optional<HttpResponse> admin_get(const std::string& path, int timeout_ms = 60'000) const {
    const std::uint16_t p = port("admin");
    RawConnection c(p);
    if (!c.send("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1:" + std::to_string(p) + "\r\n\r\n"))
      return std::nullopt;
    return c.read_response(false, timeout_ms);
  }
  const std::string& config_path() const { return config_path_; }
  const TempDir& dir() const { return dir_; }

 private:
  // Lines: ... listener 'NAME' listening on HOST:PORT ... (later lines win)
  void record() {
    const std::string& out = process_->output();
    std::size_t pos = 0;
    while ((pos = out.find("listener '", pos)) != std::string::npos) {
      const std::size_t name_begin = pos + 10;
      const std::size_t name_end = out.find('\'', name_begin);
      const std::size_t on = out.find("listening on ", name_end);
      const std::size_t eol = out.find('\n', name_end);
      if (name_end == std::string::npos || on == std::string::npos || on > eol) {
        pos = name_begin;
        continue;
      }
      const std::size_t colon = out.rfind(':', out.find_first_of(" \n", on + 13));
      ports_[out.substr(name_begin, name_end - name_begin)] =
          static_cast<std::uint16_t>(std::stoi(out.substr(colon + 1)));
      pos = eol;
    }
    // ... admin listening on HOST:PORT
    if (const auto at = out.rfind("admin listening on "); at != std::string::npos) {
      const std::size_t eol = out.find('\n', at);
      const std::size_t colon = out.rfind(':', eol);
      if (eol != std::string::npos && colon > at)
        ports_["admin"] = static_cast<std::uint16_t>(std::stoi(out.substr(colon + 1)));
    }
  }

  TempDir dir_;
  std::string config_path_;
  std::unique_ptr<Process> process_;
  std::map<std::string, std::uint16_t> ports_;
};

}  // namespace sluice::test
