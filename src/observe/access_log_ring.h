// The handoff of access log lines from one worker to the writer thread: a
// bounded ring of bytes with one producer (the worker) and one consumer
// (the writer). Neither side takes a lock or makes a system call; a line
// that does not fit is refused, and the worker counts it as dropped, so a
// slow disk never holds a request up.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string_view>

namespace sluice::observe {

class AccessLogRing {
 public:
  // `capacity` bytes, rounded up to a power of two. The memory is taken at
  // the first push: a worker that never logs costs nothing.
  explicit AccessLogRing(std::size_t capacity) {
    capacity_ = 4096;
    while (capacity_ < capacity)
      capacity_ *= 2;
  }
  AccessLogRing(const AccessLogRing&) = delete;
  AccessLogRing& operator=(const AccessLogRing&) = delete;

  std::size_t capacity() const { return capacity_; }

  // Producer only. Hands `line` over for `sink`; false when the ring has
  // no room for it (or it could never fit: longer than half the ring).
  bool push(std::uint32_t sink, std::string_view line) {
    const std::size_t need = sizeof(Header) + round_up(line.size());
    if (need > capacity_ / 2) return false;
    if (!data_) data_ = std::make_unique<std::uint64_t[]>(capacity_ / 8);
    std::uint64_t head = head_.load(std::memory_order_relaxed);
    const std::size_t to_end = capacity_ - (head & (capacity_ - 1));
    const std::size_t total = need <= to_end ? need : to_end + need;
    if (capacity_ - (head - cached_tail_) < total) {
      cached_tail_ = tail_.load(std::memory_order_acquire);
      if (capacity_ - (head - cached_tail_) < total) return false;
    }
    if (need > to_end) {  // a line never wraps: mark the rest as skipped
      write_header(head, Header{kSkip, 0});
      head += to_end;
    }
    write_header(head, Header{static_cast<std::uint32_t>(line.size()), sink});
    std::memcpy(bytes() + (head & (capacity_ - 1)) + sizeof(Header), line.data(), line.size());
    head_.store(head + need, std::memory_order_release);
    return true;
  }

  // Producer only: more than an eighth of the ring waits for the consumer.
  // Reads the consumer's position only when its last view says so, so an
  // emptied ring costs the producer no shared cache line.
  bool filling_up() {
    const std::uint64_t head = head_.load(std::memory_order_relaxed);
    if (head - cached_tail_ <= capacity_ / 8) return false;
    cached_tail_ = tail_.load(std::memory_order_acquire);
    return head - cached_tail_ > capacity_ / 8;
  }

  // Either side: bytes handed over and not yet taken (a moment's view).
  std::size_t used() const {
    return head_.load(std::memory_order_acquire) - tail_.load(std::memory_order_acquire);
  }

  // Consumer only. Calls take(sink, line) for every line handed over so
  // far, in order, then frees their room.
  template <typename Take>
  std::size_t drain(Take&& take) {
    std::uint64_t tail = tail_.load(std::memory_order_relaxed);
    const std::uint64_t head = head_.load(std::memory_order_acquire);
    std::size_t lines = 0;
    while (tail != head) {
      const std::size_t at = tail & (capacity_ - 1);
      Header h;
      std::memcpy(&h, bytes() + at, sizeof h);
      if (h.length == kSkip) {
        tail += capacity_ - at;
        continue;
      }
      take(h.sink, std::string_view(bytes() + at + sizeof h, h.length));
      tail += sizeof h + round_up(h.length);
      ++lines;
    }
    tail_.store(tail, std::memory_order_release);
    return lines;
  }

 private:
  struct Header {
    std::uint32_t length;
    std::uint32_t sink;
  };
  static constexpr std::uint32_t kSkip = UINT32_MAX;  // from here to the end: unused
  static std::size_t round_up(std::size_t n) { return (n + 7) & ~std::size_t{7}; }
  char* bytes() { return reinterpret_cast<char*>(data_.get()); }
  void write_header(std::uint64_t pos, Header h) {
    std::memcpy(bytes() + (pos & (capacity_ - 1)), &h, sizeof h);
  }

  std::size_t capacity_;
  std::unique_ptr<std::uint64_t[]> data_;  // 8-byte aligned; entries are 8-byte multiples
  // The producer's line: where it writes next, and the consumer's position
  // as last seen (read again only when the ring looks full).
  alignas(64) std::atomic<std::uint64_t> head_{0};
  std::uint64_t cached_tail_ = 0;
  // The consumer's line: where it reads next.
  alignas(64) std::atomic<std::uint64_t> tail_{0};
};

}  // namespace sluice::observe
