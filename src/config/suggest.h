// Message helpers: "did you mean" (the closest allowed word to a misspelt
// one) and quoting of values echoed from the file.
#pragma once

#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::config {

// Edit distance with adjacent transpositions (optimal string alignment).
std::size_t edit_distance(std::string_view a, std::string_view b);
// The candidate within distance 2 (or sharing a 4+ character prefix), or "".
std::string suggest(std::string_view word, std::initializer_list<std::string_view> candidates);
std::string suggest(std::string_view word, const std::vector<std::string>& candidates);

// A value echoed in a message: in single quotes, cut short after 60 bytes,
// control characters written as \xNN so that a message stays one clean line.
std::string quote(std::string_view value);

}  // namespace sluice::config
