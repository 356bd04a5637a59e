#include "admin/config_endpoint.h"

#include <time.h>

#include <fmt/format.h>

#include "proxy/reloader.h"

namespace sluice::admin {
namespace {

// RFC 3339, UTC, to the second.
std::string rfc3339(std::uint64_t unix_us) {
  const auto seconds = static_cast<time_t>(unix_us / 1'000'000);
  tm utc{};
  gmtime_r(&seconds, &utc);
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z", utc.tm_year + 1900, utc.tm_mon + 1,
                     utc.tm_mday, utc.tm_hour, utc.tm_min, utc.tm_sec);
}

// One line of the comment header: a name that holds a line break (an
// origin is a path) must not end the comment.
std::string one_line(std::string_view s) {
  std::string out;
  for (const char c : s)
    out += (c == '\n' || c == '\r') ? ' ' : c;
  return out;
}

}  // namespace

AdminResponse config_in_force(std::string_view target, const proxy::Reloader& reloader) {
  const auto q = target.find('?');
  const std::string_view query = q == std::string_view::npos ? "" : target.substr(q + 1);
  if (!query.empty() && query != "format=json" && query != "format=yaml") {
    return {400, "text/plain", "the only parameter is format=yaml (the default) or format=json\n"};
  }
  const proxy::Reloader::Applied a = reloader.applied();
  if (query == "format=json") {
    return {200, "application/json",
            fmt::format("{{\"generation\": {}, \"origin\": {}, \"applied_at\": \"{}\", "
                        "\"redacted\": {}, \"text\": {}}}\n",
                        a.generation, json_string(a.origin), rfc3339(a.applied_at_us), a.redacted,
                        json_string(a.text))};
  }
  std::string body = fmt::format(
      "# sluice: the configuration in force\n"
      "# generation: {}\n"
      "# origin: {}\n"
      "# applied_at: {}\n",
      a.generation, one_line(a.origin), rfc3339(a.applied_at_us));
  if (a.redacted > 0) {
    body += fmt::format("# redacted: {} inline credential value(s) shown as \"<redacted>\"\n",
                        a.redacted);
  }
  body += a.text;
  if (!a.text.empty() && a.text.back() != '\n') body += '\n';
  return {200, "application/yaml", std::move(body)};
}

}  // namespace sluice::admin
