#include "http/serializer.h"

#include <cstdio>
#include <cstring>
#include <ctime>

namespace sluice::http {
namespace {

class Writer {
 public:
  explicit Writer(std::span<char> out) : out_(out) {}
  void put(std::string_view s) {
    if (!ok_ || s.size() > out_.size() - n_) {
      ok_ = false;
      return;
    }
    std::memcpy(out_.data() + n_, s.data(), s.size());
    n_ += s.size();
  }
  std::size_t result() const { return ok_ ? n_ : 0; }

 private:
  std::span<char> out_;
  std::size_t n_ = 0;
  bool ok_ = true;
};

void put_fields(Writer& w, std::span<const HeaderField> fields) {
  for (const auto& f : fields) {
    w.put(f.name);
    w.put(": ");
    w.put(f.value);
    w.put("\r\n");
  }
}

}  // namespace

const char* reason_phrase(int status) {
  switch (status) {
    case 100:
      return "Continue";
    case 101:
      return "Switching Protocols";
    case 103:
      return "Early Hints";
    case 200:
      return "OK";
    case 201:
      return "Created";
    case 202:
      return "Accepted";
    case 203:
      return "Non-Authoritative Information";
    case 204:
      return "No Content";
    case 206:
      return "Partial Content";
    case 301:
      return "Moved Permanently";
    case 302:
      return "Found";
    case 303:
      return "See Other";
    case 304:
      return "Not Modified";
    case 307:
      return "Temporary Redirect";
    case 308:
      return "Permanent Redirect";
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 408:
      return "Request Timeout";
    case 409:
      return "Conflict";
    case 411:
      return "Length Required";
    case 413:
      return "Content Too Large";
    case 414:
      return "URI Too Long";
    case 415:
      return "Unsupported Media Type";
    case 417:
      return "Expectation Failed";
    case 421:
      return "Misdirected Request";
    case 429:
      return "Too Many Requests";
    case 431:
      return "Request Header Fields Too Large";
    case 500:
      return "Internal Server Error";
    case 501:
      return "Not Implemented";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    case 505:
      return "HTTP Version Not Supported";
    default:
      if (status < 200) return "Informational";
      if (status < 300) return "Success";
      if (status < 400) return "Redirection";
      if (status < 500) return "Client Error";
      return "Server Error";
  }
}

std::size_t write_date_field(char* out) {
  thread_local std::time_t cached_second = 0;
  thread_local char cached[kDateFieldBytes + 1];
  const std::time_t now = std::time(nullptr);  // vDSO: no system call
  if (now != cached_second) {
    std::tm tm{};
    gmtime_r(&now, &tm);
    // RFC 9110 §5.6.7: IMF-fixdate, always in English and GMT.
    std::strftime(cached, sizeof cached, "Date: %a, %d %b %Y %H:%M:%S GMT\r\n", &tm);
    cached_second = now;
  }
  std::memcpy(out, cached, kDateFieldBytes);
  return kDateFieldBytes;
}

std::size_t write_response_head(std::span<char> out, int status,
                                std::span<const HeaderField> fields, bool end) {
  // RFC 9110 §15: three digits from 100 to 599; anything else would put
  // a status line on the wire that no client parses the same way.
  if (status < 100 || status > 599) return 0;
  Writer w(out);
  char code[8];
  std::snprintf(code, sizeof code, "%03d ", status);
  w.put("HTTP/1.1 ");
  w.put(code);
  w.put(reason_phrase(status));
  w.put("\r\n");
  put_fields(w, fields);
  if (end) w.put("\r\n");
  return w.result();
}

std::size_t write_request_head(std::span<char> out, std::string_view method,
                               std::string_view target, std::span<const HeaderField> fields) {
  Writer w(out);
  w.put(method);
  w.put(" ");
  w.put(target);
  w.put(" HTTP/1.1\r\n");
  put_fields(w, fields);
  w.put("\r\n");
  return w.result();
}

std::size_t write_chunk_size(char* out, std::uint64_t size) {
  // Written by hand: snprintf's terminating NUL would be a 19th byte.
  char digits[16];
  std::size_t n = 0;
  do {
    digits[n++] = "0123456789abcdef"[size & 0xF];
    size >>= 4;
  } while (size != 0);
  for (std::size_t i = 0; i < n; ++i)
    out[i] = digits[n - 1 - i];
  out[n] = '\r';
  out[n + 1] = '\n';
  return n + 2;
}

}  // namespace sluice::http
