#include "config/suggest.h"

#include <algorithm>

namespace sluice::config {

std::size_t edit_distance(std::string_view a, std::string_view b) {
  // Suggestions are for short names; bound the quadratic table for anything else.
  if (a.size() > 64 || b.size() > 64) return std::max(a.size(), b.size());
  std::vector<std::vector<std::size_t>> d(a.size() + 1, std::vector<std::size_t>(b.size() + 1));
  for (std::size_t i = 0; i <= a.size(); ++i)
    d[i][0] = i;
  for (std::size_t j = 0; j <= b.size(); ++j)
    d[0][j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t cost = a[i - 1] == b[j - 1] ? 0 : 1;
      d[i][j] = std::min({d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost});
      if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1]) {
        d[i][j] = std::min(d[i][j], d[i - 2][j - 2] + 1);
      }
    }
  }
  return d[a.size()][b.size()];
}

namespace {

template <typename Range>
std::string closest(std::string_view word, const Range& candidates) {
  std::string best;
  std::size_t best_distance = 3;  // suggest only within distance 2
  for (const auto& c : candidates) {
    const std::string_view cand(c);
    std::size_t dist = edit_distance(word, cand);
    const bool shared_prefix =
        word.size() >= 4 && cand.size() >= 4 &&
        (cand.substr(0, word.size()) == word || word.substr(0, cand.size()) == cand);
    if (shared_prefix) dist = std::min<std::size_t>(dist, 2);
    // A short word is close to everything: "udp" is two edits from "tcp",
    // "b" one from "a". Allow one edit up to three letters, and never as
    // many edits as the word has letters.
    const std::size_t limit = word.size() <= 3 ? 1 : 2;
    if (dist > limit || dist >= word.size()) continue;
    if (dist < best_distance) {
      best_distance = dist;
      best = std::string(cand);
    }
  }
  return best;
}

}  // namespace

std::string suggest(std::string_view word, std::initializer_list<std::string_view> candidates) {
  return closest(word, candidates);
}

std::string suggest(std::string_view word, const std::vector<std::string>& candidates) {
  return closest(word, candidates);
}

std::string quote(std::string_view value) {
  constexpr std::size_t kMax = 60;
  std::string out = "'";
  for (std::size_t i = 0; i < value.size() && i < kMax; ++i) {
    const auto c = static_cast<unsigned char>(value[i]);
    if (c < 0x20 || c == 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 0xf];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (value.size() > kMax) out += "...";
  return out + "'";
}

}  // namespace sluice::config
