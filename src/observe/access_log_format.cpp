#include "observe/access_log_format.h"

#include <arpa/inet.h>
#include <netinet/in.h>

#include <algorithm>
#include <charconv>
#include <ctime>

namespace sluice::observe {
namespace {

using config::AccessLogField;

template <typename Int>
void append_int(std::string& out, Int v) {
  char buf[24];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  out.append(buf, end);
}

// Microseconds as milliseconds with three decimals: "12.345".
void append_ms(std::string& out, std::int64_t us) {
  append_int(out, us / 1000);
  const auto frac = static_cast<int>(us % 1000);
  out.push_back('.');
  out.push_back(static_cast<char>('0' + frac / 100));
  out.push_back(static_cast<char>('0' + frac / 10 % 10));
  out.push_back(static_cast<char>('0' + frac % 10));
}

void append_time(std::string& out, std::uint64_t unix_us, SecondClock& clock) {
  out.append(clock.text(unix_us / 1'000'000));
  const auto ms = static_cast<int>(unix_us / 1000 % 1000);
  out.push_back('.');
  out.push_back(static_cast<char>('0' + ms / 100));
  out.push_back(static_cast<char>('0' + ms / 10 % 10));
  out.push_back(static_cast<char>('0' + ms % 10));
  out.push_back('Z');
}

// The client's address without its port, in `buf`; empty when there is none.
std::string_view client_ip_text(const SocketAddress* client, char (&buf)[INET6_ADDRSTRLEN]) {
  if (client == nullptr) return {};
  const void* addr = nullptr;
  if (client->family() == AF_INET) {
    addr = &reinterpret_cast<const sockaddr_in*>(client->sa())->sin_addr;
  } else if (client->family() == AF_INET6) {
    addr = &reinterpret_cast<const sockaddr_in6*>(client->sa())->sin6_addr;
  }
  if (addr == nullptr || inet_ntop(client->family(), addr, buf, sizeof buf) == nullptr) return {};
  return buf;
}

// How a value is written: in a JSON line (strings quoted and escaped,
// none as null) or in a format string's line (escaped, none as '-').
struct Json {
  static void none(std::string& out) { out.append("null"); }
  static void string(std::string& out, std::string_view s) {
    out.push_back('"');
    append_json_escaped_utf8(out, s);
    out.push_back('"');
  }
  static void open_string(std::string& out) { out.push_back('"'); }
  static void close_string(std::string& out) { out.push_back('"'); }
};
struct Text {
  static void none(std::string& out) { out.push_back('-'); }
  static void string(std::string& out, std::string_view s) { append_text_escaped(out, s); }
  static void open_string(std::string&) {}
  static void close_string(std::string&) {}
};

template <typename Style>
void append_optional(std::string& out, std::string_view s) {
  if (s.empty()) {
    Style::none(out);
  } else {
    Style::string(out, s);
  }
}

template <typename Style>
void append_duration(std::string& out, std::int64_t us) {
  if (us < 0) {
    Style::none(out);
  } else {
    append_ms(out, us);
  }
}

template <typename Style>
void append_field(std::string& out, AccessLogField f, const RequestRecord& r, SecondClock& clock) {
  switch (f) {
    case AccessLogField::literal:
      return;
    case AccessLogField::time:
      Style::open_string(out);
      append_time(out, r.start_unix_us, clock);
      Style::close_string(out);
      return;
    case AccessLogField::client_ip: {
      char buf[INET6_ADDRSTRLEN];
      return append_optional<Style>(out, client_ip_text(r.client, buf));
    }
    case AccessLogField::client_port:
      if (r.client == nullptr || r.client->port() == 0) return Style::none(out);
      return append_int(out, r.client->port());
    case AccessLogField::listener:
      return append_optional<Style>(out, r.listener);
    case AccessLogField::protocol:
      return append_optional<Style>(out, r.protocol);
    case AccessLogField::method:
      return append_optional<Style>(out, r.method);
    case AccessLogField::host:
      return append_optional<Style>(out, r.host);
    case AccessLogField::path:
      return append_optional<Style>(out, r.target);
    case AccessLogField::status:
      if (r.status == 0) return Style::none(out);
      return append_int(out, r.status);
    case AccessLogField::bytes_in:
      return append_int(out, r.bytes_in);
    case AccessLogField::bytes_out:
      return append_int(out, r.bytes_out);
    case AccessLogField::duration_ms:
      return append_duration<Style>(out, r.total_us);
    case AccessLogField::connect_ms:
      return append_duration<Style>(out, r.connect_us);
    case AccessLogField::first_byte_ms:
      return append_duration<Style>(out, r.first_byte_us);
    case AccessLogField::route:
      return append_optional<Style>(out, r.route);
    case AccessLogField::backend:
      return append_optional<Style>(out, r.backend);
    case AccessLogField::server:
      return append_optional<Style>(out, r.server);
    case AccessLogField::retries:
      return append_int(out, r.retries);
    case AccessLogField::reused:
      out.append(r.reused_connection ? "true" : "false");
      return;
    case AccessLogField::termination:
      return append_optional<Style>(out, r.termination);
    case AccessLogField::request_id:
      return append_optional<Style>(out, r.request_id);
    case AccessLogField::trace_id:
      if (!r.trace.valid) return Style::none(out);
      return Style::string(out, std::string_view(r.trace.trace_id.data(), r.trace.trace_id.size()));
    case AccessLogField::tls_version:
      return append_optional<Style>(out, r.tls_version);
    case AccessLogField::sni:
      return append_optional<Style>(out, r.sni);
  }
}

// The JSON line: every field a format string may name, in this order,
// each after its key (and the separator before it).
struct JsonKey {
  AccessLogField field;
  std::string_view key;
};
constexpr JsonKey kJsonKeys[] = {{AccessLogField::time, "{\"time\":"},
                                 {AccessLogField::client_ip, ",\"client_ip\":"},
                                 {AccessLogField::client_port, ",\"client_port\":"},
                                 {AccessLogField::listener, ",\"listener\":"},
                                 {AccessLogField::protocol, ",\"protocol\":"},
                                 {AccessLogField::method, ",\"method\":"},
                                 {AccessLogField::host, ",\"host\":"},
                                 {AccessLogField::path, ",\"path\":"},
                                 {AccessLogField::status, ",\"status\":"},
                                 {AccessLogField::bytes_in, ",\"bytes_in\":"},
                                 {AccessLogField::bytes_out, ",\"bytes_out\":"},
                                 {AccessLogField::duration_ms, ",\"duration_ms\":"},
                                 {AccessLogField::connect_ms, ",\"connect_ms\":"},
                                 {AccessLogField::first_byte_ms, ",\"first_byte_ms\":"},
                                 {AccessLogField::route, ",\"route\":"},
                                 {AccessLogField::backend, ",\"backend\":"},
                                 {AccessLogField::server, ",\"server\":"},
                                 {AccessLogField::retries, ",\"retries\":"},
                                 {AccessLogField::reused, ",\"reused\":"},
                                 {AccessLogField::termination, ",\"termination\":"},
                                 {AccessLogField::request_id, ",\"request_id\":"},
                                 {AccessLogField::trace_id, ",\"trace_id\":"},
                                 {AccessLogField::tls_version, ",\"tls_version\":"},
                                 {AccessLogField::sni, ",\"sni\":"}};

}  // namespace

std::string_view SecondClock::text(std::uint64_t unix_seconds) {
  if (unix_seconds != second_) {
    second_ = unix_seconds;
    const auto t = static_cast<std::time_t>(unix_seconds);
    std::tm tm{};
    gmtime_r(&t, &tm);
    const auto put = [this](int at, int value, int digits) {
      for (int i = digits - 1; i >= 0; --i, value /= 10)
        text_[at + i] = static_cast<char>('0' + value % 10);
    };
    put(0, tm.tm_year + 1900, 4);
    text_[4] = '-';
    put(5, tm.tm_mon + 1, 2);
    text_[7] = '-';
    put(8, tm.tm_mday, 2);
    text_[10] = 'T';
    put(11, tm.tm_hour, 2);
    text_[13] = ':';
    put(14, tm.tm_min, 2);
    text_[16] = ':';
    put(17, tm.tm_sec, 2);
  }
  return {text_, 19};
}

void AccessLogFormat::append(const RequestRecord& r, SecondClock& clock, std::string& out) const {
  if (json_) {
    append_json(r, clock, out);
  } else {
    append_text(r, clock, out);
  }
  out.push_back('\n');
}

void AccessLogFormat::append_json(const RequestRecord& r, SecondClock& clock,
                                  std::string& out) const {
  for (const JsonKey& k : kJsonKeys) {
    out.append(k.key);
    append_field<Json>(out, k.field, r, clock);
  }
  out.push_back('}');
}

void AccessLogFormat::append_text(const RequestRecord& r, SecondClock& clock,
                                  std::string& out) const {
  for (const auto& piece : pieces_) {
    if (piece.field == AccessLogField::literal) {
      out.append(piece.literal);
    } else {
      append_field<Text>(out, piece.field, r, clock);
    }
  }
}

bool AccessLogFormat::operator==(const AccessLogFormat& o) const {
  if (json_ != o.json_ || pieces_.size() != o.pieces_.size()) return false;
  for (std::size_t i = 0; i < pieces_.size(); ++i) {
    if (pieces_[i].field != o.pieces_[i].field || pieces_[i].literal != o.pieces_[i].literal)
      return false;
  }
  return true;
}

}  // namespace sluice::observe
