// Appends the lines of an HTTP/1.1 head into a caller's fixed buffer. A
// write that does not fit sets overflow() and writes nothing more, so a
// caller checks once at the end instead of after every line.
#pragma once

#include <cstddef>
#include <cstring>
#include <span>
#include <string_view>

namespace sluice::http {

class HeadWriter {
 public:
  explicit HeadWriter(std::span<char> out) : out_(out) {}

  void put(std::string_view s) {
    if (s.empty()) return;  // may have a null data(): memcpy must not see it
    if (overflow_ || s.size() > out_.size() - size_) {
      overflow_ = true;
      return;
    }
    std::memcpy(out_.data() + size_, s.data(), s.size());
    size_ += s.size();
  }
  void field(std::string_view name, std::string_view value) {
    put(name);
    put(": ");
    put(value);
    put("\r\n");
  }
  // Room for a writer that fills raw bytes (the Date field); true if `n` fit.
  char* reserve(std::size_t n) {
    if (overflow_ || n > out_.size() - size_) {
      overflow_ = true;
      return nullptr;
    }
    return out_.data() + size_;
  }
  void commit(std::size_t n) { size_ += n; }

  bool overflow() const { return overflow_; }
  std::size_t size() const { return size_; }
  std::string_view text() const { return {out_.data(), size_}; }

 private:
  std::span<char> out_;
  std::size_t size_ = 0;
  bool overflow_ = false;
};

}  // namespace sluice::http
