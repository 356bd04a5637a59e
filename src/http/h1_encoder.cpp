#include "http/h1_encoder.h"

#include <charconv>
#include <cstring>

#include "http/serializer.h"

namespace sluice::http {
namespace {

// Decimal digits of any std::uint64_t or int fit in 20 bytes plus a sign.
constexpr std::size_t kNumberBytes = 24;

void put_fields(HeadWriter& out, std::span<const HeaderField> fields) {
  for (const auto& f : fields)
    out.field(f.name, f.value);
}

// "HTTP/1.1 <status> <reason>\r\n". The status is written as given: the
// parser only hands on three-digit codes (RFC 9110 §15). Every response
// writes one: one check for room and one copy of each part, not five
// checked appends.
void put_status_line(HeadWriter& out, const OutgoingResponse& res) {
  const std::string_view reason =
      res.reason.empty() ? std::string_view(reason_phrase(res.status)) : res.reason;
  char digits[kNumberBytes];
  const auto code = static_cast<std::size_t>(
      std::to_chars(digits, digits + sizeof digits, res.status).ptr - digits);
  constexpr std::string_view kVersion = "HTTP/1.1 ";
  const std::size_t line = kVersion.size() + code + 1 + reason.size() + 2;
  char* p = out.reserve(line);
  if (p == nullptr) return;
  std::memcpy(p, kVersion.data(), kVersion.size());
  p += kVersion.size();
  std::memcpy(p, digits, code);
  p += code;
  *p++ = ' ';
  if (!reason.empty()) std::memcpy(p, reason.data(), reason.size());
  p += reason.size();
  *p++ = '\r';
  *p = '\n';
  out.commit(line);
}

void put_framing_field(HeadWriter& out, H1Framing framing, std::uint64_t length) {
  if (framing == H1Framing::length) {
    char digits[kNumberBytes];
    const auto r = std::to_chars(digits, digits + sizeof digits, length);
    out.field("Content-Length", std::string_view(digits, static_cast<std::size_t>(r.ptr - digits)));
  } else if (framing == H1Framing::chunked) {
    out.put("Transfer-Encoding: chunked\r\n");
  }
  // none: no body; close: RFC 9112 §6.3 rule 8, the close is the framing.
}

}  // namespace

H1Framing choose_framing(BodyKind body, int peer_minor) {
  switch (body) {
    case BodyKind::sized:
      return H1Framing::length;
    case BodyKind::streamed:
      // RFC 9112 §7.1: the chunked coding is HTTP/1.1's; an HTTP/1.0
      // recipient learns where the body ends only from our close.
      return peer_minor >= 1 ? H1Framing::chunked : H1Framing::close;
    case BodyKind::none:
      break;
  }
  return H1Framing::none;
}

void write_connection_fields(HeadWriter& out, const H1Persistence& p) {
  if (!p.keep_alive) {
    out.put("Connection: close\r\n");
  } else if (!p.keep_alive_fields.empty()) {
    out.put(p.keep_alive_fields);
  } else if (p.peer_minor == 0) {
    // RFC 9112 §9.3: HTTP/1.0 closes unless keep-alive is confirmed.
    out.put("Connection: keep-alive\r\n");
  }
}

bool encode_request_head(HeadWriter& out, const OutgoingRequest& req) {
  out.put(req.method);
  out.put(" ");
  // RFC 9112 §3.2.1: origin-form starts with "/", also when the path of
  // an absolute-form target was empty before its query.
  if (!req.target.empty() && req.target.front() == '?') out.put("/");
  out.put(req.target);
  out.put(" HTTP/1.1\r\n");
  // RFC 9112 §3.2: every HTTP/1.1 request carries Host; first, where
  // clients put it.
  out.field("Host", req.authority);
  put_fields(out, req.fields);
  // A request is never close-delimited (RFC 9112 §6.3 rule 6): a streamed
  // body goes chunked, whatever the server's version.
  const H1Framing framing = req.body == BodyKind::sized      ? H1Framing::length
                            : req.body == BodyKind::streamed ? H1Framing::chunked
                                                             : H1Framing::none;
  put_framing_field(out, framing, req.length);
  // RFC 9110 §7.8: Upgrade is hop-by-hop, so Connection must name it.
  if (req.upgrade) out.put("Connection: upgrade\r\n");
  out.put("\r\n");
  return !out.overflow();
}

bool encode_response_head(HeadWriter& out, const OutgoingResponse& res, H1Framing framing,
                          const H1Persistence& p, std::string_view extra) {
  put_status_line(out, res);
  put_fields(out, res.fields);
  put_fields(out, res.listener_fields);
  out.put(extra);
  put_framing_field(out, framing, res.length);
  // RFC 9110 §7.8: after a 101 the connection belongs to the new protocol;
  // HTTP/1 persistence no longer applies to it.
  if (res.upgrade) {
    out.put("Connection: upgrade\r\n");
  } else {
    write_connection_fields(out, p);
  }
  out.put("\r\n");
  return !out.overflow();
}

bool encode_interim(HeadWriter& out, const OutgoingResponse& res) {
  put_status_line(out, res);
  put_fields(out, res.fields);
  out.put("\r\n");
  return !out.overflow();
}

std::size_t write_chunk_header(char* out, std::uint64_t size) {
  return write_chunk_size(out, size);
}

ChunkFrame frame_chunk(char* size_line, std::size_t data_size, bool end) {
  ChunkFrame f;
  if (data_size > 0)
    f.before = std::string_view(size_line, write_chunk_header(size_line, data_size));
  if (end) {
    f.after = data_size == 0 ? kLastChunk : kChunkEndThenLast;
  } else if (data_size > 0) {
    f.after = kChunkEnd;
  }
  return f;
}

bool encode_last_chunk(HeadWriter& out, std::span<const HeaderField> trailers) {
  out.put("0\r\n");
  put_fields(out, trailers);
  out.put("\r\n");
  return !out.overflow();
}

std::string keep_alive_announcement(std::uint64_t timeout_seconds) {
  return "Connection: keep-alive\r\nKeep-Alive: timeout=" + std::to_string(timeout_seconds) +
         "\r\n";
}

}  // namespace sluice::http
