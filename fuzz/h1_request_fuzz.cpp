// Request parser oracle: the first input byte picks a split point, the rest
// is the request. Parsed whole, in two pieces at that point, and one byte at
// a time, it must give the same outcome and the same head, with views
// inside the input and a host and target that passed validation.
#include <array>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <vector>

#include "http/parser.h"

using sluice::http::Framing;
using sluice::http::HeaderField;
using sluice::http::Method;
using sluice::http::ParserLimits;
using sluice::http::ParseState;
using sluice::http::RequestParser;

namespace {

struct Outcome {
  ParseState state = ParseState::need_more;
  int status = 0;
  std::size_t head_bytes = 0;
  std::string method, target, host;
  int version_minor = 0;
  Framing framing = Framing::none;
  std::uint64_t content_length = 0;
  bool keep_alive = false;
  std::vector<std::pair<std::string, std::string>> fields;

  bool operator==(const Outcome&) const = default;
};

bool inside(std::string_view view, std::string_view in) {
  return view.empty() ||
         (view.data() >= in.data() && view.data() + view.size() <= in.data() + in.size());
}

// Delivers `in` growing to each of `cuts` (then to its end), as a
// connection would, and records what the parser made of it.
Outcome run(std::string_view in, const std::vector<std::size_t>& cuts) {
  ParserLimits limits{256, 2048, 32};
  std::array<HeaderField, 32> storage;
  RequestParser p(limits, storage);
  ParseState s = ParseState::need_more;
  for (std::size_t cut : cuts) {
    if (cut == 0 || cut >= in.size()) continue;
    s = p.parse(in.substr(0, cut));
    if (s != ParseState::need_more) break;
  }
  if (s == ParseState::need_more) s = p.parse(in);
  Outcome o;
  o.state = s;
  if (s == ParseState::error) o.status = p.error().status;
  if (s != ParseState::complete) return o;
  const auto& h = p.head();
  o.head_bytes = p.head_bytes();
  if (o.head_bytes > in.size()) std::abort();
  for (const auto& f : h.fields) {
    if (f.name.empty() || !inside(f.name, in) || !inside(f.value, in)) std::abort();
    o.fields.emplace_back(f.name, f.value);
  }
  // Views into the input, or the two static targets of absolute-form.
  if (!inside(h.target, in) && h.target != "/" && h.target != "*") std::abort();
  if (!inside(h.host, in)) std::abort();
  // What validation promises: a host without path, query, fragment or
  // userinfo characters; a target in origin, asterisk or authority form.
  if (h.host.find_first_of("/?#@\\ \t") != std::string_view::npos) std::abort();
  if (h.host.empty() && h.version_minor == 1) std::abort();
  if (h.target.empty()) std::abort();
  if (h.method != Method::CONNECT && h.target.front() != '/' && h.target.front() != '?' &&
      h.target != "*") {
    std::abort();
  }
  if (h.framing == Framing::content_length && h.content_length == 0) std::abort();
  o.method = h.method_text;
  o.target = h.target;
  o.host = h.host;
  o.version_minor = h.version_minor;
  o.framing = h.framing;
  o.content_length = h.content_length;
  o.keep_alive = h.keep_alive;
  return o;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  // The split comes from its own byte, so it ranges over the whole request
  // whatever the request's bytes are.
  const std::size_t cut = static_cast<std::size_t>(data[0]) * in.size() / 256;
  const Outcome whole = run(in, {});
  if (!(run(in, {cut}) == whole)) std::abort();
  std::vector<std::size_t> every(in.size());
  for (std::size_t i = 0; i < every.size(); ++i)
    every[i] = i + 1;
  if (!(run(in, every) == whole)) std::abort();
  return 0;
}
