// Accept-Encoding negotiation (RFC 9110 §12.5.3): whatever the bytes, the
// chosen coding is one of ours, and a naive reference (lower-case the
// whole value, split it into strings, look weights up in a map) agrees on
// the choice. The first byte picks our preference order.
#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "middleware/accept_encoding.h"

namespace {

using sluice::config::Coding;

std::string trimmed(std::string s) {
  const auto b = s.find_first_not_of(" \t");
  if (b == std::string::npos) return {};
  return s.substr(b, s.find_last_not_of(" \t") - b + 1);
}

std::vector<std::string> split(const std::string& s, char sep) {
  std::vector<std::string> out;
  std::string cur;
  for (char c : s) {
    if (c == sep) {
      out.push_back(cur);
      cur.clear();
    } else {
      cur += c;
    }
  }
  out.push_back(cur);
  return out;
}

bool token(const std::string& s) {
  static const std::string kSpecial = "!#$%&'*+-.^_`|~";
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || kSpecial.find(c) != std::string::npos;
  });
}

// Thousandths, or -1.
int qvalue(const std::string& s) {
  static const std::vector<std::string> kForms = [] {
    std::vector<std::string> v{"0", "1", "0.", "1."};
    for (int i = 0; i <= 999; ++i) {
      char b[8];
      std::snprintf(b, sizeof b, "0.%03d", i);
      v.emplace_back(b);
      v.emplace_back(std::string(b).substr(0, 4));
      v.emplace_back(std::string(b).substr(0, 3));
    }
    v.emplace_back("1.0");
    v.emplace_back("1.00");
    v.emplace_back("1.000");
    return v;
  }();
  if (std::find(kForms.begin(), kForms.end(), s) == kForms.end()) return -1;
  if (s[0] == '1') return 1000;
  std::string digits = s.size() > 2 ? s.substr(2) : "";
  while (digits.size() < 3)
    digits += '0';
  return std::stoi(digits);
}

std::optional<Coding> reference(const std::string& value, const std::vector<Coding>& ours) {
  std::string lower = value;
  for (char& c : lower)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c + 32);
  std::map<std::string, int> weights;
  for (const std::string& element : split(lower, ',')) {
    if (trimmed(element).empty()) continue;
    const auto parts = split(element, ';');
    std::string name = trimmed(parts[0]);
    if (!token(name)) continue;
    if (name == "x-gzip") name = "gzip";
    int q = 1000;
    bool ok = true;
    for (std::size_t i = 1; i < parts.size(); ++i) {
      const std::string p = trimmed(parts[i]);
      const auto eq = p.find('=');
      if (eq == std::string::npos) {
        ok = false;
        break;
      }
      if (trimmed(p.substr(0, eq)) == "q") {
        q = qvalue(trimmed(p.substr(eq + 1)));
        if (q < 0) {
          ok = false;
          break;
        }
      }
    }
    if (ok) weights.emplace(name, q);  // the first one stays
  }
  auto weight = [&](const std::string& name) {
    if (auto it = weights.find(name); it != weights.end()) return it->second;
    if (name == "identity") return -1;
    if (auto it = weights.find("*"); it != weights.end()) return it->second;
    return -1;
  };
  std::optional<Coding> best;
  int best_q = 0;
  for (Coding c : ours) {
    const int q = weight(c == Coding::br ? "br" : c == Coding::zstd ? "zstd" : "gzip");
    if (q > best_q) {
      best = c;
      best_q = q;
    }
  }
  if (best && weight("identity") > best_q) return std::nullopt;
  return best;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  static const std::vector<std::vector<Coding>> kOrders{{Coding::br, Coding::zstd, Coding::gzip},
                                                        {Coding::gzip, Coding::br},
                                                        {Coding::zstd},
                                                        {Coding::gzip, Coding::zstd, Coding::br}};
  const auto& ours = kOrders[data[0] % kOrders.size()];
  const std::string value(reinterpret_cast<const char*>(data + 1), size - 1);
  const auto got = sluice::middleware::negotiate_coding(value, ours);
  if (got && std::find(ours.begin(), ours.end(), *got) == ours.end()) std::abort();
  if (got != reference(value, ours)) std::abort();
  return 0;
}
