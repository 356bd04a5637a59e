// The 'headers' middleware: fields set, added and removed on the request
// and on the response (docs/config.md, "headers").
#include "config/block_loaders.h"
#include "config/field_template.h"
#include "config/suggest.h"

namespace sluice::config {
namespace {

// Hop-by-hop and framing fields are the proxy's to state (RFC 9110 §7.6.1,
// RFC 9112 §6): a middleware that set them would desynchronise the
// message's framing from its body.
bool reserved(std::string_view name) {
  static constexpr std::string_view kReserved[] = {
      "host", "content-length", "transfer-encoding", "connection", "keep-alive", "upgrade",
      "te",   "trailer",        "proxy-connection"};
  for (std::string_view r : kReserved) {
    if (name.size() == r.size() && std::equal(name.begin(), name.end(), r.begin(),
                                              [](char a, char c) { return (a | 0x20) == c; })) {
      return true;
    }
  }
  return false;
}

void load_edits(Walker& w, const yaml::Node& n, const Block& b, HeaderEdits& out) {
  if (!w.map_with_keys(n, b, {"set", "add", "remove"})) return;
  std::vector<yaml::Node> nodes;
  w.string_list(n, "remove", b, out.remove, nullptr, &nodes);
  for (std::size_t i = 0; i < out.remove.size() && i < nodes.size(); ++i) {
    if (!is_token(out.remove[i])) {
      w.error(nodes[i],
              b.at("remove") + ": " + quote(out.remove[i]) + " is not a valid header field name");
    }
  }
  if (const yaml::Node s = field(n, "set"); s.IsDefined()) w.field_map(s, b.at("set"), out.set);
  if (const yaml::Node a = field(n, "add"); a.IsDefined()) w.field_map(a, b.at("add"), out.add);
  auto check = [&](const std::string& name, std::string_view key) {
    if (reserved(name)) {
      w.error(field(n, key), b.at(key) + ": " + quote(name) +
                                 " is stated by the proxy itself (framing, Host or a hop-by-hop "
                                 "field) and cannot be changed here");
    }
  };
  auto check_value = [&](const std::pair<std::string, std::string>& f, std::string_view key) {
    std::vector<FieldTemplatePiece> pieces;
    std::string why;
    if (!parse_field_template(f.second, pieces, why)) {
      w.error(field(field(n, key), f.first), b.at(key) + "." + f.first + ": " + why);
    }
  };
  for (const auto& f : out.set) {
    check(f.first, "set");
    check_value(f, "set");
  }
  for (const auto& f : out.add) {
    check(f.first, "add");
    check_value(f, "add");
  }
  for (const auto& name : out.remove)
    check(name, "remove");
}

}  // namespace

void load_headers_middleware(Walker& w, const yaml::Node& n, const Block& b, Headers& out) {
  if (!w.map_with_keys(n, b, {"request", "response"})) return;
  if (const yaml::Node r = field(n, "request"); r.IsDefined()) {
    load_edits(w, r, b.child("request"), out.request);
  }
  if (const yaml::Node r = field(n, "response"); r.IsDefined()) {
    load_edits(w, r, b.child("response"), out.response);
  }
}

}  // namespace sluice::config
