// The access log as one worker sees it: which requests get a line (each
// listener's rule, sampling), the line formatted on the worker, and handed
// to the writer thread (access_log_writer.h) through the worker's own ring.
// Nothing here takes a lock or makes a system call per request.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "observe/access_log_format.h"
#include "observe/access_log_ring.h"
#include "observe/counter.h"
#include "observe/request_record.h"

namespace sluice::observe {

class AccessLogWriter;

// What the requests of one listener (or several alike) get.
struct AccessLogRule {
  AccessLogFormat format;
  std::uint32_t sink = 0;  // the writer's file, stdout or stderr
  // A request is written when its draw (64 random bits) is below this;
  // UINT64_MAX with `every` for sample 1.
  std::uint64_t sample_below = UINT64_MAX;
  bool every = true;
  bool errors_always = true;  // failed requests skip the draw
};

// Which rule each listener's requests follow. Built by the writer from a
// configuration (AccessLogWriter::configure), immutable, shared by workers.
struct AccessLogPolicy {
  std::vector<std::unique_ptr<AccessLogRule>> rules;
  // By listener name; null: no access log there. Empty when every listener
  // follows `fallback`.
  std::vector<std::pair<std::string, const AccessLogRule*>> listeners;
  // Listeners not named above: all of them, or one a reload removed while
  // its requests ran (those follow the top level). Null: none.
  const AccessLogRule* fallback = nullptr;

  const AccessLogRule* rule_for(std::string_view listener) const {
    for (const auto& [name, rule] : listeners)
      if (name == listener) return rule;
    return fallback;
  }
};

// True for a request sampling must not hide with errors: always: a 5xx,
// none sent, or a termination code other than "--" (ended well) and "LR"
// (answered locally).
bool is_failed_request(const RequestRecord& r);

class AccessLog {
 public:
  AccessLog(AccessLogWriter& writer, std::size_t index, std::size_t ring_bytes);
  AccessLog(const AccessLog&) = delete;
  AccessLog& operator=(const AccessLog&) = delete;

  // The worker's thread only.
  // Formats `r`'s line and hands it to the writer, if its listener's rule
  // and the sampling say so. `r`'s views need only live for the call.
  void log(const RequestRecord& r);
  // The policy lines follow from now on (the previous one is let go here).
  void set_policy(std::shared_ptr<const AccessLogPolicy> policy) { policy_ = std::move(policy); }
  bool enabled() const { return policy_ != nullptr; }

  // Any thread: lines refused because the ring was full.
  std::uint64_t dropped() const { return dropped_.get(); }
  std::uint64_t handed_over() const { return handed_over_.get(); }

  // The writer's side.
  AccessLogRing& ring() { return ring_; }

 private:
  bool sampled_in(const AccessLogRule& rule, const RequestRecord& r);

  AccessLogWriter& writer_;
  AccessLogRing ring_;
  std::shared_ptr<const AccessLogPolicy> policy_;
  std::string line_;  // reused: its capacity grows to the longest line, once
  SecondClock clock_;
  std::uint64_t random_;  // xorshift64 state for sampling
  Counter dropped_;
  Counter handed_over_;
};

}  // namespace sluice::observe
