// Fuzzes the server side of an HTTP/2 connection (http/h2_connection.h)
// with what a client sends after the preface: frames of any kind, order
// and size, fed in two pieces. Each request is answered with a small body
// and every body byte is consumed, so the response paths, windows and
// resets run too. The codec must never crash, read out of bounds or let a
// stream outlive its close.
#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "http/h2_connection.h"

namespace {

using sluice::http::H2ServerConnection;
using sluice::http::H2StreamState;

class Handler final : public H2ServerConnection::Handler {
 public:
  H2StreamState* open_stream(std::int32_t id) override {
    auto s = std::make_unique<H2StreamState>();
    H2StreamState* p = s.get();
    streams[id] = std::move(s);
    return p;
  }
  void on_request(H2StreamState& s) override { requests.push_back(s.id); }
  void on_body(H2StreamState& s) override { bodies.push_back(s.id); }
  void on_output_taken(H2StreamState&) override {}
  void on_close(H2StreamState& s, std::uint32_t) override { streams.erase(s.id); }

  H2StreamState* find(std::int32_t id) {
    const auto it = streams.find(id);
    return it == streams.end() ? nullptr : it->second.get();
  }

  std::map<std::int32_t, std::unique_ptr<H2StreamState>> streams;
  std::vector<std::int32_t> requests;
  std::vector<std::int32_t> bodies;
};

void answer(H2ServerConnection& c, Handler& h) {
  static const sluice::http::HeaderField kFields[] = {{"Content-Type", "text/plain"}};
  for (const std::int32_t id : h.requests) {
    H2StreamState* s = h.find(id);
    if (s == nullptr) continue;
    const int status = s->too_large ? 431 : 200;
    H2ServerConnection::Head head;
    head.status = status;
    head.fields = kFields;
    head.content_length = 5;
    head.has_body = s->method != "HEAD";
    c.submit_head(*s, head);
    s->out = "hello";
    s->out_end = true;
    c.resume(*s);
  }
  h.requests.clear();
  for (const std::int32_t id : h.bodies) {
    H2StreamState* s = h.find(id);
    if (s == nullptr) continue;
    c.consume(*s, s->body.size());
    s->body.clear();
  }
  h.bodies.clear();
}

void drain(H2ServerConnection& c, Handler& h) {
  std::string out;
  for (int i = 0; i < 64; ++i) {
    out.clear();
    c.take_output(out, 64 * 1024);
    answer(c, h);
    if (out.empty()) break;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  sluice::http::H2Limits limits;
  limits.max_header_list_size = 4096;
  limits.max_concurrent_streams = 8;
  limits.reset_burst = 20;
  limits.control_burst = 50;
  Handler h;
  H2ServerConnection c(limits, h);
  std::string input("PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n");
  input.append(reinterpret_cast<const char*>(data), size);
  const std::size_t cut = size > 0 ? 24 + data[0] % (size + 1) : input.size();
  std::uint64_t now = 1000;
  if (c.receive(std::string_view(input).substr(0, cut), now)) {
    answer(c, h);
    drain(c, h);
    if (c.receive(std::string_view(input).substr(cut), now + 10)) answer(c, h);
  }
  drain(c, h);
  return 0;
}
