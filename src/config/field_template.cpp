#include "config/field_template.h"

#include <array>
#include <charconv>

namespace sluice::config {
namespace {

struct Name {
  std::string_view text;
  FieldVariable variable;
};
constexpr std::array<Name, 8> kNames{{{"host", FieldVariable::host},
                                      {"client_ip", FieldVariable::client_ip},
                                      {"method", FieldVariable::method},
                                      {"path", FieldVariable::path},
                                      {"query", FieldVariable::query},
                                      {"scheme", FieldVariable::scheme},
                                      {"route", FieldVariable::route},
                                      {"request_id", FieldVariable::request_id}}};

bool variable_named(std::string_view name, FieldTemplatePiece& piece) {
  int group = 0;
  const auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), group);
  if (!name.empty() && ec == std::errc{} && end == name.data() + name.size()) {
    if (group < 0 || group > 15) return false;
    piece.variable = FieldVariable::capture;
    piece.group = group;
    return true;
  }
  for (const Name& n : kNames) {
    if (n.text == name) {
      piece.variable = n.variable;
      return true;
    }
  }
  return false;
}

void add_literal(std::vector<FieldTemplatePiece>& out, std::string_view text) {
  if (text.empty()) return;
  if (out.empty() || out.back().variable != FieldVariable::none) out.emplace_back();
  out.back().literal.append(text);
}

}  // namespace

bool parse_field_template(std::string_view text, std::vector<FieldTemplatePiece>& out,
                          std::string& error) {
  std::size_t i = 0;
  while (i < text.size()) {
    const std::size_t dollar = text.find('$', i);
    if (dollar == std::string_view::npos) {
      add_literal(out, text.substr(i));
      break;
    }
    add_literal(out, text.substr(i, dollar - i));
    if (dollar + 1 < text.size() && text[dollar + 1] == '$') {
      add_literal(out, "$");
      i = dollar + 2;
      continue;
    }
    std::string_view name;
    if (dollar + 1 < text.size() && text[dollar + 1] == '{') {
      const std::size_t close = text.find('}', dollar + 2);
      if (close == std::string_view::npos) {
        error = "unclosed \"${\"";
        return false;
      }
      name = text.substr(dollar + 2, close - dollar - 2);
      i = close + 1;
    } else {
      std::size_t end = dollar + 1;
      while (end < text.size() && text[end] >= '0' && text[end] <= '9')
        ++end;
      name = text.substr(dollar + 1, end - dollar - 1);
      i = end;
      if (name.empty()) {
        error = "a '$' must start a variable (\"${host}\", \"$1\"); write \"$$\" for a '$'";
        return false;
      }
    }
    FieldTemplatePiece piece;
    if (!variable_named(name, piece)) {
      error = "unknown variable \"" + std::string(name) +
              "\" (known: host, client_ip, method, path, query, scheme, route, request_id, "
              "0..15 for route captures)";
      return false;
    }
    out.push_back(std::move(piece));
  }
  return true;
}

}  // namespace sluice::config
