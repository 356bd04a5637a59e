#include "http/parser.h"

#include <arpa/inet.h>

#include <array>
#include <cstdint>
#include <cstring>

#include "http/head_bytes.h"
#include "http/hop_by_hop.h"
#include "http/token.h"

namespace sluice::http {
namespace {

// Facts the field lines establish, gathered in the same pass that validates
// them so nobody scans the fields again.
struct FieldFacts {
  int content_length_fields = 0;
  bool content_length_invalid = false;  // not digits, overflow, or differing values
  std::uint64_t content_length = 0;
  bool has_transfer_encoding = false;
  bool chunked_last = false;     // the final coding is chunked
  bool chunked_earlier = false;  // chunked appears before the final coding
  bool other_coding = false;     // any coding other than chunked
  int host_fields = 0;
  std::string_view host;
  bool connection_close = false;
  bool connection_keep_alive = false;
  bool connection_upgrade = false;
  std::size_t connection_options = 0;  // names listed by all Connection fields
  bool has_upgrade = false;
  bool expect_continue = false;
};

bool is_space(char c) {
  return c == ' ' || c == '\t';
}

std::size_t skip_spaces(std::string_view s, std::size_t pos) {
  while (pos < s.size() && is_space(s[pos]))
    ++pos;
  return pos;
}

// RFC 9110 §8.6: Content-Length = 1*DIGIT. A list of identical values is
// the same length sent twice; anything looser ("0,", "5,,5", "5 5") is how
// two parsers are made to disagree on a length, so it is an error.
void add_content_length(std::string_view value, FieldFacts& f) {
  std::size_t pos = 0;
  while (true) {
    pos = skip_spaces(value, pos);
    const std::size_t start = pos;
    while (pos < value.size() && value[pos] == '0')
      ++pos;
    std::uint64_t n = 0;
    std::size_t significant = 0;
    for (; pos < value.size() && value[pos] >= '0' && value[pos] <= '9'; ++pos) {
      // 19 digits always fit in 64 bits; leading zeros do not count.
      if (++significant > 19) {
        f.content_length_invalid = true;
        return;
      }
      n = n * 10 + static_cast<std::uint64_t>(value[pos] - '0');
    }
    if (pos == start) {  // an empty member, or not a digit
      f.content_length_invalid = true;
      return;
    }
    if (f.content_length_fields > 0 && n != f.content_length) f.content_length_invalid = true;
    f.content_length = n;
    ++f.content_length_fields;
    pos = skip_spaces(value, pos);
    if (pos == value.size()) return;
    if (value[pos] != ',') {
      f.content_length_invalid = true;
      return;
    }
    ++pos;
  }
}

// RFC 9112 §6.1: the codings apply in order; chunked must be the last one.
void add_transfer_encoding(std::string_view value, FieldFacts& f) {
  f.has_transfer_encoding = true;
  ListTokens items(value);
  std::string_view item;
  while (items.next(item)) {
    if (f.chunked_last) f.chunked_earlier = true;  // something follows chunked
    f.chunked_last = iequals_literal<"chunked">(item);
    if (!f.chunked_last) f.other_coding = true;
  }
}

void note_field(const HeaderField& h, FieldFacts& f) {
  const auto n = h.name;
  switch (n.size()) {
    case 4:
      if (iequals_literal<"host">(n)) {
        ++f.host_fields;
        f.host = h.value;
      }
      break;
    case 6:
      if (iequals_literal<"expect">(n))
        f.expect_continue = iequals_literal<"100-continue">(h.value);
      break;
    case 7:
      if (iequals_literal<"upgrade">(n)) f.has_upgrade = true;
      break;
    case 10:
      if (iequals_literal<"connection">(n)) {
        ListTokens items(h.value);
        std::string_view item;
        while (items.next(item)) {
          ++f.connection_options;
          if (iequals_literal<"close">(item)) f.connection_close = true;
          if (iequals_literal<"keep-alive">(item)) f.connection_keep_alive = true;
          if (iequals_literal<"upgrade">(item)) f.connection_upgrade = true;
        }
      }
      break;
    case 14:
      if (iequals_literal<"content-length">(n)) add_content_length(h.value, f);
      break;
    case 17:
      if (iequals_literal<"transfer-encoding">(n)) add_transfer_encoding(h.value, f);
      break;
    default:
      break;
  }
}

// RFC 3986 §2.3, §2.2: unreserved and sub-delims, the characters of a
// reg-name besides pct-encoded triplets. A table: every request's Host is
// checked byte by byte.
constexpr std::array<bool, 256> kRegNameChars = alphanumeric_and("-._~!$&'()*+,;=");

bool is_reg_name_char(unsigned char c) {
  return kRegNameChars[c];
}

bool is_hex_digit(char c) {
  return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

// RFC 3986 §3.2.2: reg-name = *( unreserved / pct-encoded / sub-delims ),
// here non-empty (RFC 9110 §4.2.1: an http URI's host is never empty).
bool is_reg_name(std::string_view s) {
  if (s.empty()) return false;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '%') {
      if (i + 2 >= s.size() || !is_hex_digit(s[i + 1]) || !is_hex_digit(s[i + 2])) return false;
      i += 2;
    } else if (!is_reg_name_char(static_cast<unsigned char>(s[i]))) {
      return false;
    }
  }
  return true;
}

// RFC 3986 §3.2.2: IP-literal = "[" ( IPv6address / IPvFuture ) "]", given
// without its brackets. No zone identifier: RFC 6874 is not for Host.
bool is_ip_literal(std::string_view s) {
  if (!s.empty() && (s.front() == 'v' || s.front() == 'V')) {
    // IPvFuture = "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" )
    std::size_t i = 1;
    while (i < s.size() && is_hex_digit(s[i]))
      ++i;
    if (i == 1 || i + 1 >= s.size() || s[i] != '.') return false;
    for (++i; i < s.size(); ++i) {
      if (s[i] != ':' && !is_reg_name_char(static_cast<unsigned char>(s[i]))) return false;
    }
    return true;
  }
  char text[INET6_ADDRSTRLEN];
  if (s.empty() || s.size() >= sizeof text) return false;
  std::memcpy(text, s.data(), s.size());
  text[s.size()] = '\0';
  unsigned char address[16];
  return inet_pton(AF_INET6, text, address) == 1;
}

// RFC 3986 §3.2.3: port = *DIGIT; a TCP port is at most 65535.
bool is_port(std::string_view s, bool required) {
  if (s.empty()) return !required;
  unsigned value = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return false;
    value = value * 10 + static_cast<unsigned>(c - '0');
    if (value > 65535) return false;
  }
  return true;
}

// A DNS name has at most 255 octets (RFC 1035 §2.3.4); routing compares
// host names in a buffer of that size.
constexpr std::size_t kMaxHostBytes = 255;

// RFC 9110 §7.2 / RFC 9112 §3.2.3: uri-host [ ":" port ] (authority
// without userinfo, RFC 9110 §4.2.4). So no '/', '?', '#', '@', '\', white
// space or control character can reach a route, a Location or a backend.
bool authority_ok(std::string_view a, bool port_required) {
  std::string_view port;
  bool has_port = false;
  if (!a.empty() && a.front() == '[') {
    const std::size_t close = a.find(']');
    if (close == std::string_view::npos || !is_ip_literal(a.substr(1, close - 1))) return false;
    const std::string_view rest = a.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return false;
      has_port = true;
      port = rest.substr(1);
    }
  } else {
    const std::size_t colon = a.find(':');
    const std::string_view host = a.substr(0, colon);
    if (host.size() > kMaxHostBytes || !is_reg_name(host)) return false;
    if (colon != std::string_view::npos) {
      has_port = true;
      port = a.substr(colon + 1);
    }
  }
  if (!has_port) return !port_required;
  return is_port(port, port_required);
}

struct FieldsResult {
  int status = 0;  // 0: fine
  const char* reason = "";
  std::size_t count = 0;
};

// Why `line` (one field line, without its CRLF) is not a valid field line,
// in the order the checks are stated; null if it is one. Only lines the
// fast scan in parse_fields stopped at come here.
const char* field_line_error(std::string_view line) {
  // RFC 9112 §5.2: obs-fold (a line starting with white space) is rejected.
  if (!line.empty() && is_space(line.front())) return "obsolete line folding in header";
  const std::size_t colon = line.find(':');
  if (colon == std::string_view::npos) return "header line without a colon";
  const std::string_view name = line.substr(0, colon);
  // RFC 9112 §5.1: no white space between field name and colon.
  if (name.empty() || is_space(name.back())) return "white space before the colon in a header";
  // RFC 9110 §5.1: a field name is a token.
  if (!is_token(name)) return "invalid character in a header name";
  // RFC 9110 §5.5: no control characters (CR, LF, NUL...) in a value.
  for (unsigned char c : line.substr(colon + 1)) {
    if (!is_field_value_char(c)) return "control character in a header value";
  }
  return nullptr;
}

// Parses the field lines of `lines` (each ending in CRLF: the scanner
// checked) into `storage`, noting the facts framing depends on. One pass
// over each byte: the name's bytes are checked as tokens up to the colon,
// the value's eight at a time up to the line's CR. A line that stops the
// scan anywhere else is refused with field_line_error's reason.
FieldsResult parse_fields(std::string_view lines, std::span<HeaderField> storage, FieldFacts& f) {
  FieldsResult r;
  const char* const text = lines.data();
  const std::size_t size = lines.size();
  std::size_t pos = 0;
  while (pos < size) {
    // Every line ends in CRLF (the scanner checked), and CR is neither a
    // token character nor white space: it bounds these two loops.
    std::size_t i = pos;
    if (size - pos >= 16) i += head_bytes::name_run(text + pos);
    while (is_token_char(static_cast<unsigned char>(text[i])))
      ++i;
    std::size_t end = i;  // of the value, at the line's CR
    bool well_formed = i > pos && text[i] == ':';
    std::size_t value_start = i + 1;
    if (well_formed) {
      while (is_space(text[value_start]))
        ++value_start;
      end = value_start;
      while (true) {
        end += head_bytes::find_control(text + end, size - end);
        if (end < size && text[end] == '\t') {
          ++end;
          continue;
        }
        break;
      }
      well_formed = end + 1 < size && text[end] == '\r' && text[end + 1] == '\n';
    }
    if (!well_formed) {
      const std::size_t eol = lines.find("\r\n", pos);
      const char* why = field_line_error(lines.substr(pos, eol - pos));
      return {400, why != nullptr ? why : "malformed header line", r.count};
    }
    std::size_t value_end = end;
    while (value_end > value_start && is_space(text[value_end - 1]))
      --value_end;
    if (r.count == storage.size()) return {431, "too many header fields", r.count};
    storage[r.count] = HeaderField{std::string_view(text + pos, i - pos),
                                   std::string_view(text + value_start, value_end - value_start)};
    note_field(storage[r.count], f);
    ++r.count;
    pos = end + 2;
  }
  // RFC 9110 §7.6.1: every field Connection names stays on this hop. A
  // proxy that could remember only some of them would forward the rest.
  if (f.connection_options > HopByHopFields::kMaxListed) {
    return {400, "too many Connection options", r.count};
  }
  return r;
}

bool is_visible_ascii(unsigned char c) {
  return c > 0x20 && c < 0x7f;
}

// "HTTP/1.1" -> 1, "HTTP/1.0" -> 0, another "HTTP/d.d" -> -2, garbage -> -1.
int parse_version(std::string_view v) {
  if (v.size() != 8 || v.substr(0, 5) != "HTTP/" || v[6] != '.' || v[5] < '0' || v[5] > '9' ||
      v[7] < '0' || v[7] > '9') {
    return -1;
  }
  if (v[5] == '1' && (v[7] == '0' || v[7] == '1')) return v[7] - '0';
  return -2;
}

}  // namespace

bool is_authority(std::string_view a, bool port_required) {
  return authority_ok(a, port_required);
}

Method method_from(std::string_view m) {
  switch (m.size()) {
    case 3:
      if (m == "GET") return Method::GET;
      if (m == "PUT") return Method::PUT;
      break;
    case 4:
      if (m == "HEAD") return Method::HEAD;
      if (m == "POST") return Method::POST;
      break;
    case 5:
      if (m == "TRACE") return Method::TRACE;
      if (m == "PATCH") return Method::PATCH;
      break;
    case 6:
      if (m == "DELETE") return Method::DELETE;
      break;
    case 7:
      if (m == "CONNECT") return Method::CONNECT;
      if (m == "OPTIONS") return Method::OPTIONS;
      break;
    default:
      break;
  }
  return Method::other;
}

bool is_idempotent(Method m) {
  switch (m) {
    case Method::GET:
    case Method::HEAD:
    case Method::PUT:
    case Method::DELETE:
    case Method::OPTIONS:
    case Method::TRACE:
      return true;
    default:
      return false;
  }
}

// ---- HeadScanner ----

ParseState HeadScanner::scan(std::string_view buf, bool is_request, ParseError& error) {
  if (!started_) {
    // RFC 9112 §2.2: empty lines before the start line are skipped.
    while (buf.size() >= start_ + 2 && buf[start_] == '\r' && buf[start_ + 1] == '\n')
      start_ += 2;
    if (buf.size() <= start_ || (buf.size() == start_ + 1 && buf[start_] == '\r')) {
      if (start_ > limits_.max_head_bytes) {
        error = {400, "too many empty lines before the request"};
        return ParseState::error;
      }
      return ParseState::need_more;
    }
    started_ = true;
    scanned_ = start_;
    line_start_ = start_;
  }
  // Locals, not members, in the loop: every head passes through it.
  const char* base = buf.data();
  const std::size_t size = buf.size();
  std::size_t line_start = line_start_;
  std::size_t i = head_bytes::find_line_feed(base, scanned_, size);
  if (first_line_end_ == 0 && i != head_bytes::kNotFound) {
    if (const auto s = end_start_line(base, i, is_request, error); s != ParseState::need_more) {
      return s;
    }
    line_start = i + 1;
    i = head_bytes::find_line_feed(base, line_start, size);
  }
  for (; i != head_bytes::kNotFound; i = head_bytes::find_line_feed(base, line_start, size)) {
    // The limit first: had the bytes before this LF come without it, they
    // would have hit it below, and how bytes arrive must not change the
    // answer.
    if (i - start_ > limits_.max_head_bytes) {
      error = {431, "request header section too large"};
      return ParseState::error;
    }
    // RFC 9112 §2.2: lines end in CRLF; a bare LF is rejected, not guessed.
    if (base[i - 1] != '\r') {
      error = {400, "line ending without CR"};
      return ParseState::error;
    }
    if (i - 1 == line_start) {  // the empty line: the head ends here
      end_ = i + 1;
      if (end_ - start_ > limits_.max_head_bytes) {
        error = {431, "request header section too large"};
        return ParseState::error;
      }
      scanned_ = end_;
      line_start_ = end_;
      return ParseState::complete;
    }
    line_start = i + 1;
  }
  scanned_ = size;
  line_start_ = line_start;
  if (first_line_end_ == 0 && is_request && size - start_ > limits_.max_request_line + 2) {
    error = {414, "request line too long"};
    return ParseState::error;
  }
  if (size - start_ > limits_.max_head_bytes) {
    error = {431, "request header section too large"};
    return ParseState::error;
  }
  return ParseState::need_more;
}

// The start line's LF at `i`: need_more to go on with the field lines.
ParseState HeadScanner::end_start_line(const char* base, std::size_t i, bool is_request,
                                       ParseError& error) {
  // The limits first, as in scan().
  if (is_request && i - start_ > limits_.max_request_line + 2) {
    error = {414, "request line too long"};
    return ParseState::error;
  }
  if (i - start_ > limits_.max_head_bytes) {
    error = {431, "request header section too large"};
    return ParseState::error;
  }
  // RFC 9112 §2.2: lines end in CRLF; a bare LF is rejected, not guessed.
  if (i == 0 || base[i - 1] != '\r') {
    error = {400, "line ending without CR"};
    return ParseState::error;
  }
  if (is_request && i - 1 - start_ > limits_.max_request_line) {
    error = {414, "request line too long"};
    return ParseState::error;
  }
  first_line_end_ = i + 1;
  return ParseState::need_more;
}

// ---- RequestParser ----

void RequestParser::reset() {
  scanner_.reset();
  head_ = RequestHead{};
  error_ = ParseError{};
  state_ = ParseState::need_more;
}

ParseState RequestParser::fail(int status, const char* reason) {
  error_ = {status, reason};
  state_ = ParseState::error;
  return state_;
}

ParseState RequestParser::parse(std::string_view buffered) {
  if (state_ != ParseState::need_more) return state_;
  const ParseState s = scanner_.scan(buffered, true, error_);
  if (s == ParseState::error) return fail(error_.status, error_.reason);
  if (s == ParseState::need_more) return s;
  // The head without its final blank line's CRLF.
  const std::string_view head =
      buffered.substr(scanner_.head_start(), scanner_.head_end() - 2 - scanner_.head_start());
  state_ = parse_head(head);
  return state_;
}

ParseState RequestParser::parse_head(std::string_view head) {
  // The scanner found the start line's end.
  const std::size_t eol = scanner_.start_line_size();
  const std::string_view line = head.substr(0, eol);
  // RFC 9112 §3: method SP request-target SP HTTP-version, single spaces.
  const std::size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos) return fail(400, "malformed request line");
  const std::size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return fail(400, "malformed request line");
  head_.method_text = line.substr(0, sp1);
  head_.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  const std::string_view version = line.substr(sp2 + 1);
  if (!is_token(head_.method_text)) return fail(400, "invalid method");
  head_.method = method_from(head_.method_text);
  const int minor = parse_version(version);
  if (minor == -2) return fail(505, "HTTP version not supported");
  if (minor < 0) return fail(400, "malformed HTTP version");
  head_.version_minor = minor;
  // RFC 9112 §3.2: the four forms of request-target, each where it belongs.
  const std::string_view t = head_.target;
  if (t.empty()) return fail(400, "empty request target");
  for (unsigned char c : t) {
    if (!is_visible_ascii(c)) return fail(400, "invalid character in request target");
    // RFC 9112 §3.2: a request-target has no fragment; a server that cut
    // the target at '#' would see another path than the one routed.
    if (c == '#') return fail(400, "fragment in request target");
  }
  std::string_view target_authority;
  if (head_.method == Method::CONNECT) {
    if (!authority_ok(t, true)) return fail(400, "CONNECT needs an authority-form target");
  } else if (t == "*") {
    if (head_.method != Method::OPTIONS) return fail(400, "asterisk target is for OPTIONS only");
  } else if (t.front() != '/') {
    const ParseState s = take_absolute_form(target_authority);
    if (s != ParseState::complete) return s;
  }
  FieldFacts f;
  const std::string_view lines = head.substr(eol + 2);
  auto fields = parse_fields(lines, storage_, f);
  if (fields.status != 0) return fail(fields.status, fields.reason);
  head_.fields = std::span<const HeaderField>(storage_.data(), fields.count);

  // RFC 9112 §3.2 / RFC 9110 §7.2: HTTP/1.1 requests carry exactly one
  // Host, and a Host with an invalid value is an error in any version.
  if (f.host_fields > 1) return fail(400, "more than one Host header");
  if (head_.version_minor == 1 && f.host_fields == 0) return fail(400, "missing Host header");
  if (!f.host.empty() && !authority_ok(f.host, false)) return fail(400, "invalid Host header");
  if (!target_authority.empty()) {
    // RFC 9112 §3.2.2: the target's authority replaces Host, empty or not.
    head_.host = target_authority;
  } else {
    // RFC 9112 §3.2: an empty Host is for targets without an authority,
    // which an HTTP/1.1 request to us never has.
    if (head_.version_minor == 1 && f.host.empty()) return fail(400, "empty Host header");
    head_.host = f.host;
  }

  // RFC 9112 §6.1: Transfer-Encoding beside Content-Length is how requests
  // are smuggled; refuse it rather than pick one.
  const bool has_content_length = f.content_length_fields > 0 || f.content_length_invalid;
  if (f.has_transfer_encoding && has_content_length) {
    return fail(400, "both Content-Length and Transfer-Encoding");
  }
  if (f.has_transfer_encoding) {
    // RFC 9112 §6.3: in a request, chunked must be the final coding.
    if (!f.chunked_last || f.chunked_earlier) return fail(400, "chunked is not the final coding");
    if (f.other_coding) return fail(501, "unsupported transfer coding");
    if (head_.version_minor == 0) return fail(400, "Transfer-Encoding in an HTTP/1.0 request");
    head_.framing = Framing::chunked;
  } else if (has_content_length) {
    if (f.content_length_invalid) return fail(400, "invalid or conflicting Content-Length");
    head_.content_length = f.content_length;
    head_.framing = f.content_length > 0 ? Framing::content_length : Framing::none;
  }
  // RFC 9112 §9.3: 1.1 persists unless "close"; 1.0 only with "keep-alive".
  head_.keep_alive = head_.version_minor == 1 ? !f.connection_close
                                              : (f.connection_keep_alive && !f.connection_close);
  head_.expect_continue = f.expect_continue;
  head_.upgrade = f.connection_upgrade && f.has_upgrade;
  return ParseState::complete;
}

// RFC 9112 §3.2.2: absolute-form = absolute-URI, of the http or https
// scheme here (we are an origin to our clients, not a forward proxy). The
// authority becomes the request's host and the target goes on in
// origin-form: its path and query, "/" when both are empty, "*" for an
// OPTIONS to the server itself (RFC 9112 §3.2.4). A path that is empty
// before a query is left as "?query": writers put the "/" in front.
ParseState RequestParser::take_absolute_form(std::string_view& authority) {
  const std::string_view t = head_.target;
  const std::size_t scheme_end = t.find("://");
  if (scheme_end == std::string_view::npos || scheme_end == 0) {
    return fail(400, "malformed request target");
  }
  const std::string_view scheme = t.substr(0, scheme_end);
  if (!iequals(scheme, "http") && !iequals(scheme, "https")) {
    return fail(400, "absolute-form target is not an http or https URI");
  }
  const std::string_view rest = t.substr(scheme_end + 3);
  const std::size_t authority_end = rest.find_first_of("/?");
  authority = rest.substr(0, authority_end);
  if (!authority_ok(authority, false)) return fail(400, "invalid authority in the request target");
  if (authority_end != std::string_view::npos) {
    head_.target = rest.substr(authority_end);
  } else {
    head_.target = head_.method == Method::OPTIONS ? "*" : "/";
  }
  return ParseState::complete;
}

// ---- ResponseParser ----

void ResponseParser::reset() {
  scanner_.reset();
  head_ = ResponseHead{};
  error_ = ParseError{};
  state_ = ParseState::need_more;
}

ParseState ResponseParser::fail(const char* reason) {
  error_ = {502, reason};
  state_ = ParseState::error;
  return state_;
}

ParseState ResponseParser::parse(std::string_view buffered, Method request_method) {
  if (state_ != ParseState::need_more) return state_;
  const ParseState s = scanner_.scan(buffered, false, error_);
  if (s == ParseState::error) return fail(error_.reason);
  if (s == ParseState::need_more) return s;
  const std::string_view head =
      buffered.substr(scanner_.head_start(), scanner_.head_end() - 2 - scanner_.head_start());
  state_ = parse_head(head, request_method);
  return state_;
}

ParseState ResponseParser::parse_head(std::string_view head, Method request_method) {
  // The scanner found the start line's end.
  const std::size_t eol = scanner_.start_line_size();
  const std::string_view line = head.substr(0, eol);
  // RFC 9112 §4: HTTP-version SP 3DIGIT SP [reason-phrase]
  if (line.size() < 12 || line[8] != ' ') return fail("malformed status line");
  const int minor = parse_version(line.substr(0, 8));
  if (minor < 0) return fail("unsupported HTTP version in response");
  head_.version_minor = minor;
  int status = 0;
  for (int i = 9; i < 12; ++i) {
    if (line[i] < '0' || line[i] > '9') return fail("malformed status code");
    status = status * 10 + (line[i] - '0');
  }
  // RFC 9110 §15: status codes run from 100 to 599; others are not HTTP.
  if (status < 100 || status > 599) return fail("malformed status code");
  head_.status = status;
  if (line.size() > 12) {
    if (line[12] != ' ') return fail("malformed status line");
    head_.reason = line.substr(13);
    for (unsigned char c : head_.reason) {
      if (!is_field_value_char(c)) return fail("control character in reason phrase");
    }
  }
  FieldFacts f;
  const std::string_view lines = head.substr(eol + 2);
  auto fields = parse_fields(lines, storage_, f);
  if (fields.status != 0) return fail(fields.reason);
  head_.fields = std::span<const HeaderField>(storage_.data(), fields.count);
  head_.keep_alive = head_.version_minor == 1 ? !f.connection_close
                                              : (f.connection_keep_alive && !f.connection_close);
  // RFC 9112 §6.3, in order.
  const bool bodiless = request_method == Method::HEAD || status < 200 || status == 204 ||
                        status == 304 || (request_method == Method::CONNECT && status < 300);
  if (bodiless) {
    head_.framing = Framing::none;
  } else if (f.has_transfer_encoding) {
    // Transfer-Encoding overrides Content-Length, but a message with both
    // may be an attack on someone: read it, then close (§6.3 item 3).
    head_.must_close = f.content_length_fields > 0 || head_.version_minor == 0;
    head_.framing =
        f.chunked_last && !f.chunked_earlier ? Framing::chunked : Framing::close_delimited;
  } else if (f.content_length_fields > 0 || f.content_length_invalid) {
    if (f.content_length_invalid) return fail("invalid or conflicting Content-Length in response");
    head_.framing = Framing::content_length;
    head_.content_length = f.content_length;
  } else {
    head_.framing = Framing::close_delimited;
  }
  if (head_.framing == Framing::close_delimited || head_.must_close) head_.keep_alive = false;
  return ParseState::complete;
}

}  // namespace sluice::http
