// Result<T>: a value or an Error, returned across the data path instead of
// throwing (std::expected is C++23). Errors are small and allocation-free.
#pragma once

#include <cassert>
#include <cstdint>
#include <string_view>
#include <utility>
#include <variant>

namespace sluice {

// What went wrong, as the caller needs to act on it.
enum class Errc : std::uint8_t {
  ok = 0,
  timeout,    // a deadline passed before the operation completed
  cancelled,  // someone (a stop, a sibling task) asked the waiter to give up
  closed,     // the peer closed its side (read returned 0)
  reset,      // the peer reset the connection (ECONNRESET, EPIPE)
  refused,    // connect was refused (ECONNREFUSED)
  system,     // any other system call failure; see Error::sys_errno
  invalid,    // the caller passed something unusable
};

std::string_view to_string(Errc code);

struct Error {
  Errc code = Errc::ok;
  int sys_errno = 0;  // errno for Errc::system and friends, else 0

  static Error from_errno(int e);
  // The failure is this host's (out of descriptors, local ports, buffers or
  // memory), not the peer's: it says nothing about the peer's health.
  bool is_local_shortage() const;
  friend bool operator==(const Error& a, const Error& b) = default;
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T value) : v_(std::move(value)) {}  // NOLINT: implicit by design
  Result(Error e) : v_(e) {}                 // NOLINT
  Result(Errc c) : v_(Error{c, 0}) {}        // NOLINT

  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & {
    assert(ok());
    return std::get<0>(v_);
  }
  T&& value() && {
    assert(ok());
    return std::get<0>(std::move(v_));
  }
  const T& value() const& {
    assert(ok());
    return std::get<0>(v_);
  }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  Error error() const { return ok() ? Error{} : std::get<1>(v_); }
  Errc code() const { return ok() ? Errc::ok : std::get<1>(v_).code; }

 private:
  std::variant<T, Error> v_;
};

// Result<void>: just success or an Error.
template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error e) : e_(e) {}           // NOLINT
  Result(Errc c) : e_(Error{c, 0}) {}  // NOLINT
  bool ok() const { return e_.code == Errc::ok; }
  explicit operator bool() const { return ok(); }
  Error error() const { return e_; }
  Errc code() const { return e_.code; }

 private:
  Error e_{};
};

}  // namespace sluice
