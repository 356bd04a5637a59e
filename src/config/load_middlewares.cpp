// The 'middlewares' block: named definitions, each a map with one key that
// names its kind (docs/config.md, "middlewares"). Each kind's settings are
// read by its own loader (load_<kind>.cpp).

#include <array>

#include "config/block_loaders.h"
#include "config/suggest.h"

namespace sluice::config {
namespace {

constexpr std::array<Choice<MiddlewareKind>, 5> kKinds{{
    {"headers", MiddlewareKind::headers},
    {"forward_auth", MiddlewareKind::forward_auth},
    {"access", MiddlewareKind::access},
    {"rate_limit", MiddlewareKind::rate_limit},
    {"compress", MiddlewareKind::compress},
}};

void load_kind(Walker& w, const yaml::Node& n, const Block& b, std::string_view base_dir,
               Middleware& m) {
  switch (m.kind) {
    case MiddlewareKind::headers:
      load_headers_middleware(w, n, b, m.headers);
      break;
    case MiddlewareKind::forward_auth:
      load_forward_auth(w, n, b, base_dir, m.forward_auth, m.fingerprint);
      break;
    case MiddlewareKind::access:
      load_access(w, n, b, base_dir, m.access, m.fingerprint);
      break;
    case MiddlewareKind::rate_limit:
      load_rate_limit(w, n, b, m.rate_limit);
      break;
    case MiddlewareKind::compress:
      load_compress(w, n, b, m.compress);
      break;
  }
}

// The definition as text that depends only on what it says, not on how
// it was written (flow or block style, quoting, spacing): keys keep their
// order, which can matter (fields are set in order).
void canonical(const yaml::Node& n, std::string& out) {
  switch (n.Type()) {
    case yaml::NodeType::Scalar:
      out.push_back('"');
      for (char c : n.Scalar()) {
        if (c == '"' || c == '\\') out.push_back('\\');
        out.push_back(c);
      }
      out.push_back('"');
      break;
    case yaml::NodeType::Sequence:
      out.push_back('[');
      for (const auto& item : n) {
        canonical(item, out);
        out.push_back(',');
      }
      out.push_back(']');
      break;
    case yaml::NodeType::Map:
      out.push_back('{');
      for (const auto& kv : n) {
        canonical(kv.first, out);
        out.push_back(':');
        canonical(kv.second, out);
        out.push_back(',');
      }
      out.push_back('}');
      break;
    default:
      out.append("~");
  }
}

void load_middleware(Walker& w, const yaml::Node& key, const yaml::Node& n,
                     std::string_view base_dir, std::vector<Middleware>& out) {
  std::string name;
  if (!w.scalar(key, "middlewares", name)) return;
  if (!valid_name(name)) {
    w.error(key, "middlewares: " + quote(name) + " is not a valid name");
    return;
  }
  const Block b{"middleware " + quote(name), ""};
  Middleware m;
  m.name = name;
  m.where = where(key);
  if (!n.IsMap() || n.size() != 1) {
    out.push_back(std::move(m));  // named, so that lists naming it say nothing more
    std::string kinds;
    for (const auto& k : kKinds)
      kinds.append(kinds.empty() ? "" : ", ").append(k.text);
    w.error(n.IsDefined() && !n.IsNull() ? n : key,
            b.label() + ": expected a map with one key naming its kind (" + kinds + "), got " +
                describe(n));
    return;
  }
  const auto kv = *n.begin();
  std::string kind_text;
  if (!w.scalar(kv.first, b.label(), kind_text)) return;
  bool known = false;
  std::vector<std::string> spellings;
  for (const auto& k : kKinds) {
    spellings.emplace_back(k.text);
    if (k.text == kind_text) {
      m.kind = k.value;
      known = true;
    }
  }
  if (!known) {
    const std::string hint = suggest(kind_text, spellings);
    w.error(kv.first, b.label() + ": unknown kind " + quote(kind_text) +
                          (hint.empty() ? "" : " (did you mean " + quote(hint) + "?)"));
    out.push_back(std::move(m));
    return;
  }
  canonical(n, m.fingerprint);
  // `kind: {}` and `kind:` (null) both mean the kind's defaults.
  const yaml::Node settings = kv.second.IsNull() ? yaml::Node::empty_map() : kv.second;
  load_kind(w, settings, b.child(kind_text), base_dir, m);
  out.push_back(std::move(m));
}

}  // namespace

void load_middlewares(Walker& w, const yaml::Node& n, std::string_view base_dir,
                      std::vector<Middleware>& middlewares) {
  if (!n.IsMap()) {
    w.error(n, "middlewares: expected a map of middleware name to definition, got " + describe(n));
    return;
  }
  for (const auto& kv : n)
    load_middleware(w, kv.first, kv.second, base_dir, middlewares);
}

}  // namespace sluice::config
