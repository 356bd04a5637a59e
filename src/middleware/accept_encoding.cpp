#include "middleware/accept_encoding.h"

#include <array>
#include <cstddef>

namespace sluice::middleware {
namespace {

using config::Coding;

constexpr bool is_ows(char c) {
  return c == ' ' || c == '\t';
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_ows(s.front()))
    s.remove_prefix(1);
  while (!s.empty() && is_ows(s.back()))
    s.remove_suffix(1);
  return s;
}

bool iequals(std::string_view a, std::string_view lower) {
  if (a.size() != lower.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    const char c = (a[i] >= 'A' && a[i] <= 'Z') ? static_cast<char>(a[i] | 0x20) : a[i];
    if (c != lower[i]) return false;
  }
  return true;
}

// RFC 9110 §5.6.2 tchar.
bool is_tchar(char c) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  for (char t : std::string_view("!#$%&'*+-.^_`|~")) {
    if (c == t) return true;
  }
  return false;
}

bool is_token(std::string_view s) {
  if (s.empty()) return false;
  for (char c : s) {
    if (!is_tchar(c)) return false;
  }
  return true;
}

// RFC 9110 §12.4.2: qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ),
// in thousandths. -1: not a qvalue.
int parse_qvalue(std::string_view s) {
  if (s.empty() || (s[0] != '0' && s[0] != '1')) return -1;
  int q = (s[0] - '0') * 1000;
  if (s.size() == 1) return q;
  if (s[1] != '.' || s.size() > 5) return -1;
  int scale = 100;
  for (char c : s.substr(2)) {
    if (c < '0' || c > '9') return -1;
    q += (c - '0') * scale;
    scale /= 10;
  }
  return q > 1000 ? -1 : q;
}

// One list element, "coding *( OWS ';' OWS param )": its coding and
// weight (1000 when unstated). False when it does not parse.
bool parse_element(std::string_view e, std::string_view& coding, int& q) {
  const auto semi = e.find(';');
  coding = trim(e.substr(0, semi));
  if (!is_token(coding)) return false;
  q = 1000;
  if (semi == std::string_view::npos) return true;
  std::string_view rest = e.substr(semi + 1);
  for (bool more = true; more;) {
    const auto next = rest.find(';');
    const std::string_view param = trim(rest.substr(0, next));
    more = next != std::string_view::npos;
    if (more) rest = rest.substr(next + 1);
    const auto eq = param.find('=');
    if (eq == std::string_view::npos) return false;
    // Only the weight is defined here; another parameter is ignored.
    if (iequals(trim(param.substr(0, eq)), "q")) {
      q = parse_qvalue(trim(param.substr(eq + 1)));
      if (q < 0) return false;
    }
  }
  return true;
}

constexpr std::size_t kCodings = 3;
std::size_t index_of(Coding c) {
  return static_cast<std::size_t>(c);
}

}  // namespace

std::optional<Coding> negotiate_coding(std::string_view accept_encoding,
                                       std::span<const Coding> ours) {
  constexpr int kUnstated = -1;
  std::array<int, kCodings> weight{kUnstated, kUnstated, kUnstated};
  int any = kUnstated;       // "*"
  int identity = kUnstated;  // "identity"
  while (!accept_encoding.empty()) {
    const auto comma = accept_encoding.find(',');
    const std::string_view element = accept_encoding.substr(0, comma);
    accept_encoding =
        comma == std::string_view::npos ? std::string_view{} : accept_encoding.substr(comma + 1);
    std::string_view coding;
    int q = 0;
    if (trim(element).empty() || !parse_element(element, coding, q)) continue;
    int* slot = nullptr;
    if (iequals(coding, "gzip") || iequals(coding, "x-gzip")) {
      slot = &weight[index_of(Coding::gzip)];
    } else if (iequals(coding, "br")) {
      slot = &weight[index_of(Coding::br)];
    } else if (iequals(coding, "zstd")) {
      slot = &weight[index_of(Coding::zstd)];
    } else if (iequals(coding, "identity")) {
      slot = &identity;
    } else if (coding == "*") {
      slot = &any;
    }
    if (slot && *slot == kUnstated) *slot = q;
  }
  std::optional<Coding> best;
  int best_q = 0;
  for (Coding c : ours) {
    const std::size_t i = index_of(c);
    if (i >= kCodings) continue;
    const int q = weight[i] != kUnstated ? weight[i] : any;
    if (q > best_q) {
      best = c;
      best_q = q;
    }
  }
  if (best && identity > best_q) return std::nullopt;
  return best;
}

}  // namespace sluice::middleware
