#include "admin/route_list.h"

#include <fmt/format.h>
#include <algorithm>
#include <charconv>
#include <vector>

#include "admin/query.h"
#include "admin/route_json.h"
#include "proxy/server.h"
#include "proxy/snapshot.h"
#include "route/route_table.h"

namespace sluice::admin {
namespace {

AdminResponse bad_query(std::string why) {
  return {400, "text/plain", std::move(why) + "; use GET /routes?search=TEXT&offset=N&limit=N\n"};
}

bool parse_count(std::string_view text, std::size_t& out) {
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc{} && end == text.data() + text.size();
}

char lower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

bool contains_ci(std::string_view haystack, std::string_view needle) {
  return std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end(),
                     [](char a, char b) { return lower(a) == lower(b); }) != haystack.end();
}

// The search text split at white space: a route must hold every word.
std::vector<std::string_view> words_of(std::string_view text) {
  std::vector<std::string_view> words;
  std::size_t at = 0;
  while ((at = text.find_first_not_of(" \t", at)) != std::string_view::npos) {
    const std::size_t end = std::min(text.find_first_of(" \t", at), text.size());
    words.push_back(text.substr(at, end - at));
    at = end;
  }
  return words;
}

bool matches(const route::Route& r, const std::vector<std::string_view>& words) {
  return std::all_of(words.begin(), words.end(), [&](std::string_view w) {
    return contains_ci(r.name, w) || contains_ci(r.host, w) || contains_ci(r.path, w) ||
           contains_ci(r.backend, w);
  });
}

std::string json_list(const std::vector<std::string>& items) {
  std::string out = "[";
  for (std::size_t i = 0; i < items.size(); ++i)
    out += (i ? ", " : "") + json_string(items[i]);
  return out + "]";
}

std::string route_json(const route::Route& r, const proxy::Snapshot& snap) {
  std::vector<std::string> listeners;
  for (std::size_t i = 0; i < r.on_listener.size() && i < snap.listeners.size(); ++i) {
    if (r.on_listener[i]) listeners.push_back(snap.listeners[i]->name);
  }
  const std::string action = route_action_json(r);
  return fmt::format(
      "{{\"name\": {}, \"listeners\": {}, \"priority\": {}, \"host\": {}, \"path_kind\": \"{}\", "
      "\"path\": {}, \"methods\": {}, {}}}",
      json_string(r.name), json_list(listeners), r.priority, json_string(r.host),
      path_kind_name(r.path_kind), json_string(r.path), json_list(r.methods), action);
}

}  // namespace

std::variant<RouteQuery, AdminResponse> parse_route_query(std::string_view target) {
  RouteQuery q;
  const auto mark = target.find('?');
  std::string_view rest = mark == std::string_view::npos ? "" : target.substr(mark + 1);
  while (!rest.empty()) {
    const std::size_t amp = std::min(rest.find('&'), rest.size());
    const std::string_view pair = rest.substr(0, amp);
    rest.remove_prefix(std::min(amp + 1, rest.size()));
    const std::size_t eq = std::min(pair.find('='), pair.size());
    const std::string_view name = pair.substr(0, eq);
    std::string value;
    if (!form_decode(pair.substr(std::min(eq + 1, pair.size())), value)) {
      return bad_query("malformed %-escape in " + std::string(name));
    }
    if (name == "search") {
      q.search = std::move(value);
    } else if (name == "offset") {
      if (!parse_count(value, q.offset)) return bad_query("offset is not a number");
    } else if (name == "limit") {
      if (!parse_count(value, q.limit) || q.limit == 0 || q.limit > RouteQuery::kMaxLimit) {
        return bad_query("limit must be 1 to " + std::to_string(RouteQuery::kMaxLimit));
      }
    }
  }
  return q;
}

AdminResponse list_routes(const RouteQuery& query, const proxy::Server& server) {
  const std::shared_ptr<const proxy::Snapshot> snap = server.snapshot();
  // The table holds routes by rank; an operator looks for them in file order.
  std::vector<const route::Route*> found;
  const auto words = words_of(query.search);
  const auto all = snap->routes->routes();
  for (const auto& r : all) {
    if (matches(*r, words)) found.push_back(r.get());
  }
  std::sort(found.begin(), found.end(), [](const route::Route* a, const route::Route* b) {
    return a->file_index < b->file_index;
  });
  std::string body = fmt::format("{{\"total\": {}, \"matched\": {}, \"offset\": {}, \"routes\": [",
                                 all.size(), found.size(), query.offset);
  // offset + limit cannot overflow once offset is below a vector's size.
  const std::size_t end = query.offset >= found.size()
                              ? query.offset
                              : std::min(found.size(), query.offset + query.limit);
  for (std::size_t i = query.offset; i < end; ++i) {
    body += (i > query.offset ? ",\n  " : "\n  ") + route_json(*found[i], *snap);
  }
  return {200, "application/json", body + "\n]}\n"};
}

}  // namespace sluice::admin
