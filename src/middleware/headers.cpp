// The 'headers' middleware (docs/config.md, "headers"): fields set, added
// and removed on the request a backend receives and on the response the
// client receives, with variables expanded per request.
#include <array>
#include <random>

#include "config/field_template.h"
#include "config/model.h"
#include "core/address.h"
#include "middleware/kinds.h"

namespace sluice::middleware {
namespace {

struct CompiledField {
  std::string name;
  std::vector<config::FieldTemplatePiece> pieces;
  bool plain = true;  // no variables: `pieces` is one literal (or none)
};

struct CompiledEdits {
  std::vector<std::string> remove;
  std::vector<CompiledField> set;
  std::vector<CompiledField> add;
};

bool compile(const std::vector<std::pair<std::string, std::string>>& in,
             std::vector<CompiledField>& out, std::string& error) {
  for (const auto& [name, value] : in) {
    CompiledField f;
    f.name = name;
    if (!config::parse_field_template(value, f.pieces, error)) {
      error = "'" + name + "': " + error;
      return false;
    }
    for (const auto& p : f.pieces)
      f.plain = f.plain && p.variable == config::FieldVariable::none;
    out.push_back(std::move(f));
  }
  return true;
}

// 128 random bits as hex: a request id no client can guess or collide.
std::string new_request_id() {
  thread_local std::mt19937_64 random{std::random_device{}()};
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(32, '0');
  for (int half = 0; half < 2; ++half) {
    std::uint64_t bits = random();
    for (int i = 0; i < 16; ++i, bits >>= 4)
      out[static_cast<std::size_t>(half * 16 + i)] = kHex[bits & 15];
  }
  return out;
}

// Expands templates for one request; the request id is drawn once.
class Expander {
 public:
  explicit Expander(const Request& r) : r_(r) {}

  std::string expand(const CompiledField& f) {
    std::string out;
    for (const auto& p : f.pieces)
      append(p, out);
    return out;
  }

 private:
  void append(const config::FieldTemplatePiece& p, std::string& out) {
    using V = config::FieldVariable;
    switch (p.variable) {
      case V::none:
        out.append(p.literal);
        break;
      case V::host:
        out.append(r_.host);
        break;
      case V::client_ip:
        out.append(r_.client->host_string());
        break;
      case V::method:
        out.append(r_.method);
        break;
      case V::path:
        out.append(r_.path);
        break;
      case V::query:
        out.append(r_.query);
        break;
      case V::scheme:
        out.append(r_.scheme);
        break;
      case V::route:
        out.append(r_.route);
        break;
      case V::request_id:
        // The request's own id when sluice assigns one, so a field, the
        // backend's X-Request-Id and the logs agree.
        if (request_id_.empty()) {
          request_id_ = r_.request_id.empty() ? new_request_id() : std::string(r_.request_id);
        }
        out.append(request_id_);
        break;
      case V::capture:
        if (static_cast<std::size_t>(p.group) < r_.captures.size()) {
          out.append(r_.captures[static_cast<std::size_t>(p.group)]);
        }
        break;
    }
  }

  const Request& r_;
  std::string request_id_;
};

// The response's edits, expanded when the request passed.
class ResponseEdits final : public ResponseFilter {
 public:
  std::vector<std::string> remove;
  std::vector<Field> set;
  std::vector<Field> add;

  void on_head(ResponseHead& head) override {
    for (const auto& name : remove)
      head.remove(name);
    for (const auto& f : set)
      head.set(f.name, f.value);
    for (const auto& f : add)
      head.add(f.name, f.value);
  }
};

class HeadersMiddleware final : public Middleware {
 public:
  CompiledEdits request;
  CompiledEdits response;

  Task<Verdict> on_request(const Context& ctx, const Request& r, RequestEdits& edits,
                           Answer& answer, std::unique_ptr<ResponseFilter>& filter) override {
    (void)ctx;
    (void)answer;
    Expander x(r);
    for (const auto& name : request.remove)
      edits.remove.push_back(name);
    for (const auto& f : request.set)
      edits.set.push_back({f.name, x.expand(f)});
    for (const auto& f : request.add)
      edits.add.push_back({f.name, x.expand(f)});
    if (!response.remove.empty() || !response.set.empty() || !response.add.empty()) {
      auto out = std::make_unique<ResponseEdits>();
      out->remove = response.remove;
      for (const auto& f : response.set)
        out->set.push_back({f.name, x.expand(f)});
      for (const auto& f : response.add)
        out->add.push_back({f.name, x.expand(f)});
      filter = std::move(out);
    }
    co_return Verdict::next;
  }
};

bool compile_edits(const config::HeaderEdits& in, CompiledEdits& out, std::string& error) {
  out.remove = in.remove;
  return compile(in.set, out.set, error) && compile(in.add, out.add, error);
}

}  // namespace

std::shared_ptr<Middleware> make_headers(const config::Middleware& def, const BuildContext& ctx,
                                         std::string& error) {
  (void)ctx;
  auto m = std::make_shared<HeadersMiddleware>();
  if (!compile_edits(def.headers.request, m->request, error) ||
      !compile_edits(def.headers.response, m->response, error)) {
    return nullptr;
  }
  return m;
}

}  // namespace sluice::middleware
