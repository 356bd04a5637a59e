// Appends the lines of an HTTP/1.1 head into a caller's fixed buffer. A
// write that does not fit sets overflow() and writes nothing more, so a
// caller checks once at the end instead of after every line.
#pragma once

#include <cstddef>
#include <cstring>
#include <span>
#include <string_view>

namespace sluice::http {

// The first and the last W bytes of [src, src + n), W <= n <= 2W: every
// byte of it, some twice, in two loads and two stores.
template <std::size_t W>
inline void copy_both_ends(char* dst, const char* src, std::size_t n) {
  char first[W];
  char last[W];
  std::memcpy(first, src, W);
  std::memcpy(last, src + n - W, W);
  std::memcpy(dst, first, W);
  std::memcpy(dst + n - W, last, W);
}

// Copies n bytes, inline. A head's pieces (names, values, a status line)
// are mostly under 32 bytes, and some thirty are copied a request: a call
// into libc's memcpy cost more than the copy. Each width reads and writes
// only [src, src + n) and [dst, dst + n); the two ranges do not overlap.
inline void copy_piece(char* dst, const char* src, std::size_t n) {
  if (n > 32) {
    std::memcpy(dst, src, n);
  } else if (n >= 16) {
    copy_both_ends<16>(dst, src, n);
  } else if (n >= 8) {
    copy_both_ends<8>(dst, src, n);
  } else if (n >= 4) {
    copy_both_ends<4>(dst, src, n);
  } else if (n > 0) {
    // 1 to 3 bytes: the first, the middle and the last (some the same).
    const char first = src[0];
    const char middle = src[n / 2];
    const char last = src[n - 1];
    dst[0] = first;
    dst[n / 2] = middle;
    dst[n - 1] = last;
  }
}

class HeadWriter {
 public:
  explicit HeadWriter(std::span<char> out) : out_(out) {}

  void put(std::string_view s) {
    if (overflow_ || s.size() > out_.size() - size_) {
      overflow_ = true;
      return;
    }
    copy_piece(out_.data() + size_, s.data(), s.size());  // an empty s (null data()) copies nothing
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
    copy_piece(p, name.data(), name.size());
    p += name.size();
    *p++ = ':';
    *p++ = ' ';
    copy_piece(p, value.data(), value.size());
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
