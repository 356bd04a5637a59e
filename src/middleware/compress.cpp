// The 'compress' middleware (docs/middlewares/compress.md): responses
// compressed with gzip, br or zstd as the client's Accept-Encoding and our
// order choose, streamed as the backend produces them.
#include <charconv>

#include "config/model.h"
#include "http/token.h"
#include "middleware/accept_encoding.h"
#include "middleware/content_coding.h"
#include "middleware/kinds.h"

namespace sluice::middleware {
namespace {

using config::Coding;

// A body handed over in pieces smaller than this is flushed piece by
// piece: a backend producing slowly (a log tail, a progress page) is seen
// by the client as it goes. Larger pieces come from a backend filling our
// buffers, which will send more at once; they are flushed all the same
// (docs/middlewares/compress.md, "Streaming", has the measured cost), so
// that the last piece before a pause is never held back.
constexpr bool kFlushEveryPiece = true;

struct Settings {
  config::Compress config;

  int level(Coding c) const {
    switch (c) {
      case Coding::br:
        return config.level.br;
      case Coding::zstd:
        return config.level.zstd;
      case Coding::gzip:
        return config.level.gzip;
    }
    return 1;
  }
};

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t'))
    s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t'))
    s.remove_suffix(1);
  return s;
}

bool starts_with_nocase(std::string_view s, std::string_view lower_prefix) {
  return s.size() >= lower_prefix.size() &&
         http::iequals(s.substr(0, lower_prefix.size()), lower_prefix);
}

// RFC 9110 §8.3.1: the media type is what precedes the parameters; type
// and subtype compare case-insensitively.
bool type_listed(const std::vector<std::string>& types, std::string_view content_type) {
  const std::string_view media = trim(content_type.substr(0, content_type.find(';')));
  if (media.empty()) return false;
  // RFC 8895 §9.2: Server-Sent Events go to the client as they are
  // produced, never through a compressor (whatever `types` says).
  if (http::iequals(media, "text/event-stream")) return false;
  for (const auto& t : types) {
    if (!t.empty() && t.back() == '*') {
      if (starts_with_nocase(media, std::string_view(t).substr(0, t.size() - 1))) return true;
    } else if (http::iequals(media, t)) {
      return true;
    }
  }
  return false;
}

// True when a list field (every instance of `name`) holds `element`,
// compared case-insensitively up to any "=value".
bool list_holds(const ResponseHead& head, std::string_view name, std::string_view element) {
  for (const auto& f : head.fields) {
    if (!http::iequals(f.name, name)) continue;
    http::ListTokens items(f.value);
    std::string_view item;
    while (items.next(item)) {
      if (http::iequals(trim(item.substr(0, item.find('='))), element)) return true;
    }
  }
  return false;
}

// A Content-Encoding other than identity: the content is coded already
// (RFC 9110 §8.4), and coding it twice helps nobody.
bool already_coded(const ResponseHead& head) {
  for (const auto& f : head.fields) {
    if (!http::iequals(f.name, "content-encoding")) continue;
    http::ListTokens items(f.value);
    std::string_view item;
    while (items.next(item)) {
      if (!http::iequals(item, "identity")) return true;
    }
  }
  return false;
}

// RFC 9110 §12.5.5: a response that varies by Accept-Encoding says so, so
// that caches keep one copy per coding. Appended to the last Vary unless
// some Vary names it already or is "*" (which covers everything).
void vary_on_accept_encoding(ResponseHead& head) {
  if (list_holds(head, "vary", "accept-encoding") || list_holds(head, "vary", "*")) return;
  for (auto it = head.fields.rbegin(); it != head.fields.rend(); ++it) {
    if (!http::iequals(it->name, "vary")) continue;
    const std::string_view old = trim(it->value);
    it->value = old.empty() ? std::string_view("Accept-Encoding")
                            : head.make(std::string(old) + ", Accept-Encoding");
    return;
  }
  head.add("Vary", "Accept-Encoding");
}

// RFC 9110 §8.8.3.3: a strong validator promises the same bytes; the
// compressed bytes differ from the backend's, so the tag becomes weak
// (still good for If-None-Match, which compares weakly: §13.1.2).
void weaken_etag(ResponseHead& head) {
  for (auto& f : head.fields) {
    if (http::iequals(f.name, "etag") && !f.value.empty() && f.value.front() == '"') {
      f.value = head.make("W/" + std::string(f.value));
    }
  }
}

// The content's length as the head states it: the framing for a body that
// follows, or the Content-Length a HEAD response may keep (RFC 9110 §8.6).
// False: unknown.
bool content_length(const ResponseHead& head, std::uint64_t& length) {
  if (head.has_body) {
    length = head.length;
    return head.length_known;
  }
  const std::string_view v = trim(head.get("content-length"));
  const auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), length);
  return ec == std::errc() && end == v.data() + v.size() && !v.empty();
}

class CompressFilter final : public ResponseFilter {
 public:
  CompressFilter(std::shared_ptr<const Settings> settings, std::optional<Coding> coding,
                 bool head_request)
      : settings_(std::move(settings)), coding_(coding), head_request_(head_request) {}

  // ResponseFilter
  void on_head(ResponseHead& head) override {
    std::uint64_t length = 0;
    const bool length_known = content_length(head, length);
    if (!compressible(head) || (length_known && length < settings_->config.min_size)) return;
    // Whether this client gets a coding or not, another may: caches must
    // know (RFC 9110 §12.5.5).
    vary_on_accept_encoding(head);
    if (!coding_) return;
    head.set("Content-Encoding", coding_name(*coding_));
    // The coded length is known only once it is all out: the body is
    // streamed (chunked in HTTP/1.1).
    head.length_known = false;
    head.length = 0;
    head.remove("content-length");
    weaken_etag(head);
    size_hint_ = length_known ? length : 0;
    compressing_ = head.has_body;
  }

  bool transforms_body() const override { return compressing_; }

  bool on_body(std::string_view in, bool end, std::string& out) override {
    if (finished_) return true;  // the stream has ended; nothing may follow it
    if (!encoder_) {
      if (in.empty() && !end) return true;
      encoder_ = make_encoder(*coding_, settings_->level(*coding_), size_hint_);
      if (!encoder_) return false;
    }
    const EncodeStep step = end                ? EncodeStep::finish
                            : kFlushEveryPiece ? EncodeStep::flush
                                               : EncodeStep::more;
    const bool ok = encoder_->encode(in, step, out);
    // The encoder's state (its window) is the biggest thing a compressed
    // response holds: gone as soon as the stream ends.
    if (end || !ok) encoder_.reset();
    finished_ = end;
    return ok;
  }

 private:
  // Whether a response of this kind may be coded at all, whoever asks.
  bool compressible(const ResponseHead& head) const {
    // 1xx, 204 and 304 have no content (a 304 keeps the fields of its
    // stored 200, which we cannot see; left as the backend sent it).
    if (head.status < 200 || head.status == 204 || head.status == 304) return false;
    // RFC 9110 §14.4: a range is of the identity content; coding it would
    // give the client bytes it cannot splice.
    if (head.status == 206 || head.has("content-range")) return false;
    // HEAD: the same fields as GET would get (RFC 9110 §9.3.2).
    if (!head.has_body && !head_request_) return false;
    if (already_coded(head)) return false;
    // RFC 9110 §7.7: an intermediary must not change the content of a
    // response that says no-transform (RFC 9111 §5.2.2.6).
    if (list_holds(head, "cache-control", "no-transform")) return false;
    return type_listed(settings_->config.types, head.get("content-type"));
  }

  std::shared_ptr<const Settings> settings_;
  std::optional<Coding> coding_;  // nullopt: this client gets identity
  bool head_request_;
  bool compressing_ = false;
  std::uint64_t size_hint_ = 0;
  std::unique_ptr<Encoder> encoder_;  // from the first byte to the end
  bool finished_ = false;
};

class CompressMiddleware final : public Middleware {
 public:
  explicit CompressMiddleware(std::shared_ptr<const Settings> settings)
      : settings_(std::move(settings)) {}

  Task<Verdict> on_request(const Context& ctx, const Request& r, RequestEdits& edits,
                           Answer& answer, std::unique_ptr<ResponseFilter>& filter) override {
    (void)ctx;
    (void)edits;
    (void)answer;
    // Several Accept-Encoding fields make one list (RFC 9110 §5.3). No
    // field: nothing says the client decodes any coding.
    std::string accept;
    bool any = false;
    for (const auto& f : r.fields) {
      if (!http::iequals(f.name, "accept-encoding")) continue;
      if (any) accept.append(", ");
      accept.append(f.value);
      any = true;
    }
    std::optional<Coding> coding;
    if (any) coding = negotiate_coding(accept, settings_->config.algorithms);
    filter = std::make_unique<CompressFilter>(settings_, coding, r.method == "HEAD");
    co_return Verdict::next;
  }

 private:
  std::shared_ptr<const Settings> settings_;
};

}  // namespace

std::shared_ptr<Middleware> make_compress(const config::Middleware& def, const BuildContext& ctx,
                                          std::string& error) {
  (void)ctx;
  (void)error;
  auto settings = std::make_shared<Settings>();
  settings->config = def.compress;
  return std::make_shared<CompressMiddleware>(std::move(settings));
}

}  // namespace sluice::middleware
