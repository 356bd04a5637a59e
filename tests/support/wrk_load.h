// A bounded wrk keep-alive load running beside a test: started in the
// background, stopped (SIGINT: wrk prints its summary) when the test has
// done what it wanted to do under load.
#pragma once

#include <memory>
#include <string>

#include "support/process.h"

namespace sluice::test {

struct WrkSummary {
  long requests = 0;       // completed responses
  long socket_errors = 0;  // connect + read + write + timeout errors
  long non_2xx = 0;        // responses with status >= 400 (wrk: "Non-2xx or 3xx")
  std::string output;
  bool parsed = false;  // the summary line was found
};

class WrkLoad {
 public:
  // `max_seconds` bounds the run even if finish() is never called.
  WrkLoad(const std::string& url, int connections, int max_seconds = 60);
  // Stops wrk and reads its summary.
  WrkSummary finish();

 private:
  std::unique_ptr<Process> process_;
};

WrkSummary parse_wrk(const std::string& output);

}  // namespace sluice::test
