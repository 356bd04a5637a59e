#include "observe/access_log.h"

#include "observe/access_log_writer.h"
#include "observe/wall_clock.h"

namespace sluice::observe {

bool is_failed_request(const RequestRecord& r) {
  return r.status >= 500 || r.status == 0 || (r.termination != "--" && r.termination != "LR");
}

AccessLog::AccessLog(AccessLogWriter& writer, std::size_t index, std::size_t ring_bytes)
    : writer_(writer),
      ring_(ring_bytes),
      // Any odd-looking nonzero seed will do: sampling needs no secrecy,
      // only workers that do not draw in step.
      random_((unix_now_us() ^ (0x9e3779b97f4a7c15ULL * (index + 1))) | 1) {}

bool AccessLog::sampled_in(const AccessLogRule& rule, const RequestRecord& r) {
  if (rule.every) return true;
  if (rule.errors_always && is_failed_request(r)) return true;
  // xorshift64 (Marsaglia 2003): a few instructions per request.
  random_ ^= random_ << 13;
  random_ ^= random_ >> 7;
  random_ ^= random_ << 17;
  return random_ < rule.sample_below;
}

void AccessLog::log(const RequestRecord& r) {
  if (!policy_) return;
  const AccessLogRule* rule = policy_->rule_for(r.listener);
  if (rule == nullptr || !sampled_in(*rule, r)) return;
  line_.clear();
  rule->format.append(r, clock_, line_);
  if (!ring_.push(rule->sink, line_)) {
    dropped_.add();
    return;
  }
  handed_over_.add();
  writer_.notice(ring_);
}

}  // namespace sluice::observe
