// Path normalisation (RFC 3986 §6): whatever the bytes, the normal form
// starts with '/', has no empty, "." or ".." segment, no escape of an
// unreserved character, and normalising it again changes nothing.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "route/path_normalizer.h"

namespace {

bool is_unreserved_escape(std::string_view s, std::size_t i) {
  auto hex = [](char c) {
    return c >= '0' && c <= '9' ? c - '0' : c >= 'A' && c <= 'F' ? c - 'A' + 10 : -1;
  };
  const int hi = hex(s[i + 1]);
  const int lo = hex(s[i + 2]);
  if (hi < 0 || lo < 0) std::abort();  // escapes must be upper-case hex
  const char c = static_cast<char>(hi * 16 + lo);
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~';
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::string in = "/";
  in.append(reinterpret_cast<const char*>(data), size);
  std::string out;
  if (!sluice::route::normalize_path(in, out)) return 0;
  if (out.empty() || out[0] != '/') std::abort();
  if (out.find("//") != std::string::npos) std::abort();
  for (std::string_view bad : {"/./", "/../"}) {
    if (out.find(bad) != std::string::npos) std::abort();
  }
  if (out.size() >= 2 && (out.ends_with("/.") || out.ends_with("/.."))) std::abort();
  for (std::size_t i = 0; i < out.size(); ++i) {
    if (out[i] == '%' && (i + 2 >= out.size() || is_unreserved_escape(out, i))) std::abort();
  }
  std::string again;
  if (!sluice::route::normalize_path(out, again) || again != out) std::abort();
  return 0;
}
