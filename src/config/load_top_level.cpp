// The small top-level blocks: workers, busy_poll, forwarded, shutdown and log
// (docs/config.md, "Top level" and the sections after "admin").
#include <cassert>
#include <charconv>

#include "config/block_loaders.h"
#include "config/suggest.h"

namespace sluice::config {

namespace {

constexpr std::array<Choice<LogLevel>, 5> kLogLevels{{{"trace", LogLevel::trace},
                                                      {"debug", LogLevel::debug},
                                                      {"info", LogLevel::info},
                                                      {"warn", LogLevel::warn},
                                                      {"error", LogLevel::error}}};

}  // namespace

// "auto" (the default: one worker per core) or a count.
void load_workers(Walker& w, const yaml::Node& n, int& workers) {
  if (n.IsScalar() && n.Scalar() == "auto") return;
  std::string v;
  if (!w.scalar(n, "workers", v)) return;
  long long x = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
  if (v.empty() || ec != std::errc{} || end != v.data() + v.size() || x < 1 || x > 1024) {
    w.error(n, "workers: expected auto or a whole number from 1 to 1024, got " + quote(v));
  } else {
    workers = static_cast<int>(x);
  }
}

// A window past a millisecond is no longer "the next event is a moment
// away": it is a worker burning a CPU.
constexpr std::chrono::microseconds kMaxBusyPoll{1000};

// `busy_poll`: true (the default window, model.h), false (off), or a
// duration in us or ms.
void load_busy_poll(Walker& w, const yaml::Node& n, std::chrono::microseconds& busy_poll) {
  std::string v;
  if (!w.scalar(n, "busy_poll", v)) return;
  if (v == "true" || v == "false") {
    busy_poll = v == "true" ? Config{}.busy_poll : std::chrono::microseconds(0);
    return;
  }
  long long x = 0;
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), x);
  const std::string_view unit(end, static_cast<std::size_t>(v.data() + v.size() - end));
  const long long scale = unit == "us" ? 1 : unit == "ms" ? 1000 : (unit.empty() && x == 0) ? 1 : 0;
  if (v.empty() || ec != std::errc{} || x < 0 || scale == 0) {
    w.error(n, "busy_poll: expected true, false or a duration such as 25us, got " + quote(v));
  } else if (x > kMaxBusyPoll.count() / scale) {
    w.error(n, "busy_poll: at most 1ms, got " + quote(v));
  } else {
    busy_poll = std::chrono::microseconds(x * scale);
  }
}

void load_forwarded(Walker& w, const yaml::Node& n, Forwarded& forwarded) {
  const Block fb{"", "forwarded"};
  if (!w.map_with_keys(n, fb,
                       {"x_forwarded_for", "x_forwarded_proto", "x_forwarded_host", "except"})) {
    return;
  }
  w.bool_field(n, "x_forwarded_for", fb, forwarded.x_forwarded_for);
  w.bool_field(n, "x_forwarded_proto", fb, forwarded.x_forwarded_proto);
  w.bool_field(n, "x_forwarded_host", fb, forwarded.x_forwarded_host);
  std::vector<yaml::Node> nodes;
  w.string_list(n, "except", fb, forwarded.except, nullptr, &nodes);
  assert(nodes.size() == forwarded.except.size());  // one node per item read
  for (std::size_t i = 0; i < nodes.size(); ++i) {
    if (!valid_cidr(forwarded.except[i])) {
      w.error(nodes[i], fb.at("except") +
                            ": expected a network such as 10.0.0.0/8 or ::1/128, got " +
                            quote(forwarded.except[i]));
    }
  }
}

void load_shutdown(Walker& w, const yaml::Node& n, Shutdown& shutdown) {
  const Block sb{"", "shutdown"};
  if (w.map_with_keys(n, sb, {"grace"})) {
    w.duration_field(n, "grace", sb, shutdown.grace, true);
  }
}

void load_log(Walker& w, const yaml::Node& n, Log& log) {
  const Block lb{"", "log"};
  if (w.map_with_keys(n, lb, {"level", "access"})) {
    w.choice_field(n, "level", lb, kLogLevels, log.level);
    w.bool_field(n, "access", lb, log.access);
  }
}

}  // namespace sluice::config
