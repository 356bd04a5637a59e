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
  // "name: value\r\n", checked for room once (the head's most common line).
  void field(std::string_view name, std::string_view value) {
    const std::size_t line = name.size() + value.size() + 4;
    if (overflow_ || line > out_.size() - size_) {
      overflow_ = true;
      return;
    }
    char* p = out_.data() + size_;
    if (!name.empty()) std::memcpy(p, name.data(), name.size());
    p += name.size();
    *p++ = ':';
    *p++ = ' ';
    if (!value.empty()) std::memcpy(p, value.data(), value.size());
    p += value.size();
    *p++ = '\r';
    *p = '\n';
    size_ += line;
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
