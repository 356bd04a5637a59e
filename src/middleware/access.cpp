// The 'access' middleware (docs/middlewares/access.md): allow and deny
// networks (403), basic authentication from an htpasswd file (401) and a
// request body limit (413).
#include <algorithm>
#include <charconv>
#include <optional>

#include "config/model.h"
#include "http/token.h"
#include "middleware/blocking_work.h"
#include "middleware/cidr_set.h"
#include "middleware/client_address.h"
#include "middleware/htpasswd.h"
#include "middleware/kinds.h"

namespace sluice::middleware {
namespace {

// Credentials that passed, remembered per definition (htpasswd.h).
constexpr std::size_t kPassedCredentials = 4096;

// `Basic realm="...", charset="UTF-8"` (RFC 7617 §2, §2.1): the realm is a
// quoted-string, so quotes and backslashes in it are escaped (RFC 9110
// §5.6.4).
std::string challenge(std::string_view realm) {
  std::string out = "Basic realm=\"";
  for (char c : realm) {
    if (c == '"' || c == '\\') out.push_back('\\');
    out.push_back(c);
  }
  out += "\", charset=\"UTF-8\"";
  return out;
}

void refuse(Answer& answer, int status, std::string body, std::string reason) {
  answer.status = status;
  answer.fields.push_back({"Content-Type", "text/plain; charset=utf-8"});
  answer.body = std::move(body);
  answer.reason = std::move(reason);
}

// The request's Content-Length, when it has one that reads as a number
// (the proxy has checked the framing already).
std::optional<std::uint64_t> content_length(const Request& r) {
  for (const auto& f : r.fields) {
    if (!http::iequals(f.name, "content-length")) continue;
    std::uint64_t n = 0;
    const auto [end, ec] = std::from_chars(f.value.data(), f.value.data() + f.value.size(), n);
    if (ec == std::errc{} && end == f.value.data() + f.value.size()) return n;
    return std::nullopt;
  }
  return std::nullopt;
}

class AccessMiddleware final : public Middleware {
 public:
  CidrSet allow;
  CidrSet deny;
  CidrSet trusted_proxies;
  bool checks_address = false;
  std::unique_ptr<PasswordFile> passwords;
  std::string www_authenticate;
  bool strip_authorization = false;
  std::uint64_t max_body_bytes = 0;

  Task<Verdict> on_request(const Context& ctx, const Request& r, RequestEdits& edits,
                           Answer& answer, std::unique_ptr<ResponseFilter>& filter) override {
    (void)filter;
    if (checks_address && !address_allowed(r, answer)) co_return Verdict::answer;
    if (passwords) {
      std::string user;
      std::string password;
      if (!read_credentials(r, user, password, answer)) co_return Verdict::answer;
      if (!passwords->passed_before(user, password)) {
        // A full check costs 50-100 ms of CPU (bcrypt by design): never on
        // the worker's loop, which serves everyone else meanwhile.
        PasswordFile& file = *passwords;
        const std::optional<bool> ok = co_await BlockingWork::run(
            *ctx.loop, [&file, &user, &password] { return file.check(user, password); });
        if (!ok) {
          refuse(answer, 503, "too many password checks waiting; try again\n",
                 "password checks are queued to their limit");
          answer.fields.push_back({"Retry-After", "1"});
          co_return Verdict::answer;
        }
        if (!*ok) {
          refuse_credentials(answer, "wrong user or password (user '" + user.substr(0, 64) + "')");
          co_return Verdict::answer;
        }
      }
    }
    if (max_body_bytes > 0) {
      // Refused before a byte of the body is read; a body without a
      // length (chunked, HTTP/2 DATA) is counted as it streams.
      if (const auto length = content_length(r); length && *length > max_body_bytes) {
        refuse(answer, 413, "request body too large\n",
               "Content-Length " + std::to_string(*length) + " is over max_body_size " +
                   std::to_string(max_body_bytes));
        co_return Verdict::answer;
      }
      edits.max_body_bytes = edits.max_body_bytes == 0
                                 ? max_body_bytes
                                 : std::min(edits.max_body_bytes, max_body_bytes);
    }
    if (passwords && strip_authorization) edits.remove.emplace_back("Authorization");
    co_return Verdict::next;
  }

 private:
  bool address_allowed(const Request& r, Answer& answer) const {
    IpAddress client;
    if (!client_address(*r.client, r.fields, trusted_proxies, client)) {
      refuse(answer, 403, "forbidden\n",
             "the client's address cannot be told (an X-Forwarded-For entry from a trusted "
             "proxy is not an address)");
      return false;
    }
    if (deny.contains(client)) {
      refuse(answer, 403, "forbidden\n", "client " + client.to_string() + " is denied");
      return false;
    }
    if (!allow.empty() && !allow.contains(client)) {
      refuse(answer, 403, "forbidden\n", "client " + client.to_string() + " is not allowed");
      return false;
    }
    return true;
  }

  // The request's Basic credentials; false (with `answer` set): none,
  // several, or not Basic.
  bool read_credentials(const Request& r, std::string& user, std::string& password,
                        Answer& answer) const {
    const http::HeaderField* authorization = nullptr;
    bool several = false;
    for (const auto& f : r.fields) {
      if (!http::iequals(f.name, "authorization")) continue;
      several = authorization != nullptr;
      authorization = &f;
    }
    if (authorization == nullptr) {
      refuse_credentials(answer, "no credentials");
    } else if (several) {
      refuse_credentials(answer, "more than one Authorization field");
    } else if (!parse_basic_credentials(authorization->value, user, password)) {
      refuse_credentials(answer, "Authorization is not Basic credentials");
    } else {
      return true;
    }
    return false;
  }

  void refuse_credentials(Answer& answer, std::string why) const {
    refuse(answer, 401, "authentication required\n", std::move(why));
    answer.fields.push_back({"WWW-Authenticate", www_authenticate});
  }
};

bool add_all(CidrSet& set, const std::vector<std::string>& networks, std::string& error) {
  for (const auto& n : networks) {
    if (!set.add(n)) {
      error = "'" + n + "' is not a network";
      return false;
    }
  }
  return true;
}

}  // namespace

std::shared_ptr<Middleware> make_access(const config::Middleware& def, const BuildContext& ctx,
                                        std::string& error) {
  (void)ctx;
  const config::Access& a = def.access;
  auto m = std::make_shared<AccessMiddleware>();
  if (!add_all(m->allow, a.allow, error) || !add_all(m->deny, a.deny, error) ||
      !add_all(m->trusted_proxies, a.trusted_proxies, error)) {
    return nullptr;
  }
  m->checks_address = !a.allow.empty() || !a.deny.empty();
  if (a.basic_auth) {
    m->passwords = std::make_unique<PasswordFile>(a.basic_auth->users, kPassedCredentials);
    m->www_authenticate = challenge(a.basic_auth->realm);
    m->strip_authorization = a.basic_auth->strip_authorization;
  }
  m->max_body_bytes = a.max_body_bytes;
  return m;
}

}  // namespace sluice::middleware
