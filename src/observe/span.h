// One finished request as a trace span: copied out of the RequestRecord
// (whose views die with the request) into fixed-size storage, so a
// worker's span queue holds spans without allocating, and the exporter
// thread reads them at its own pace.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string_view>

#include "core/address.h"

namespace sluice::observe {

struct RequestRecord;

// Text of at most N bytes; longer text is cut (a span is a summary, and a
// bounded slot keeps the queue's memory fixed).
template <std::size_t N>
class BoundedText {
 public:
  void assign(std::string_view s) {
    size_ = s.size() < N ? s.size() : N;
    if (size_ > 0) std::memcpy(data_.data(), s.data(), size_);  // an empty view may hold null
  }
  std::string_view view() const { return {data_.data(), size_}; }

 private:
  std::array<char, N> data_;
  std::size_t size_ = 0;
};

struct Span {
  std::array<char, 32> trace_id{};
  std::array<char, 16> span_id{};
  std::array<char, 16> parent_id{};  // all '\0': a root span
  std::uint64_t start_unix_ns = 0;
  std::uint64_t end_unix_ns = 0;
  int status = 0;  // 0: no response was sent
  BoundedText<16> method;
  BoundedText<256> target;  // path and query
  BoundedText<128> host;
  BoundedText<64> route;
  BoundedText<64> backend;
  BoundedText<64> server;
  BoundedText<64> request_id;
  BoundedText<16> protocol;
  BoundedText<4> termination;
  SocketAddress client;
  bool has_client = false;

  // Copies what a span shows from `r` (whose trace is valid).
  void fill(const RequestRecord& r);
};

}  // namespace sluice::observe
