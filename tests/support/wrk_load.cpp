#include "support/wrk_load.h"

#include <signal.h>

#include <cstdlib>
#include <regex>

namespace sluice::test {

WrkLoad::WrkLoad(const std::string& url, int connections, int max_seconds)
    : process_(std::make_unique<Process>(
          std::vector<std::string>{"wrk", "-t", "2", "-c", std::to_string(connections), "-d",
                                   std::to_string(max_seconds) + "s", "--latency", url})) {}

WrkSummary WrkLoad::finish() {
  process_->stop(SIGINT, std::chrono::seconds(30));
  return parse_wrk(process_->output());
}

WrkSummary parse_wrk(const std::string& output) {
  WrkSummary s;
  s.output = output;
  std::smatch m;
  if (std::regex_search(output, m, std::regex(R"((\d+) requests in)"))) {
    s.requests = std::atol(m[1].str().c_str());
    s.parsed = true;
  }
  if (std::regex_search(
          output, m,
          std::regex(R"(Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+))"))) {
    for (int i = 1; i <= 4; ++i)
      s.socket_errors += std::atol(m[i].str().c_str());
  }
  if (std::regex_search(output, m, std::regex(R"(Non-2xx or 3xx responses: (\d+))"))) {
    s.non_2xx = std::atol(m[1].str().c_str());
  }
  return s;
}

}  // namespace sluice::test
