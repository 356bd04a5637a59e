// One access log line from a RequestRecord: a JSON object, or a format
// string's pieces with the record's values in them. Runs on the worker
// for every logged request, so it appends by hand into a buffer the caller
// reuses (no formatting library, no allocation once the buffer has grown to
// the longest line).
//
// What clients sent (host, path, method, SNI) is hostile: the JSON form is
// valid JSON whatever the bytes (RFC 8259 §7: quotes, backslashes and
// control characters escaped; bytes that are not UTF-8 written as \u00XX,
// so a valid "ÿ" stays raw and an escaped one marks a stray byte); the text
// form writes control characters, '"', '\' and stray bytes as \xNN, so one
// request is always one line (no log injection).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "config/access_log_config.h"
#include "observe/json_text.h"  // the escapes its lines use
#include "observe/request_record.h"

namespace sluice::observe {

// The "2026-12-01T10:00:00" part of a timestamp, kept for the second it
// was made: one gmtime_r per second, not per line. One per worker.
class SecondClock {
 public:
  // The 19 characters of the UTC second `unix_seconds`.
  std::string_view text(std::uint64_t unix_seconds);

 private:
  std::uint64_t second_ = UINT64_MAX;
  char text_[20] = {};
};

class AccessLogFormat {
 public:
  // One JSON object per line, every field.
  AccessLogFormat() = default;
  // A format string, as config::parse_access_log_format split it.
  explicit AccessLogFormat(std::vector<config::AccessLogPiece> pieces)
      : json_(false), pieces_(std::move(pieces)) {}

  // Appends the line for `r`, with its '\n'.
  void append(const RequestRecord& r, SecondClock& clock, std::string& out) const;

  bool operator==(const AccessLogFormat& o) const;

 private:
  void append_json(const RequestRecord& r, SecondClock& clock, std::string& out) const;
  void append_text(const RequestRecord& r, SecondClock& clock, std::string& out) const;

  bool json_ = true;
  std::vector<config::AccessLogPiece> pieces_;
};

}  // namespace sluice::observe
