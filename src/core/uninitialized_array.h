// A fixed array whose elements are not initialised when it is made: for the
// per-request scratch arrays of header fields (a parser's 256 slots, a
// response's 161), which std::array would zero on every request — 5 to 8
// KiB of stores, a tenth of a keep-alive request's user-space cost — only
// for the few slots used to be overwritten. Only for trivially copyable,
// trivially destructible element types (implicit-lifetime types: an
// element begins its life when it is assigned).
#pragma once

#include <cstddef>
#include <span>
#include <type_traits>

namespace sluice {

template <typename T, std::size_t N>
class UninitializedArray {
  static_assert(std::is_trivially_copyable_v<T> && std::is_trivially_destructible_v<T>);

 public:
  // Deliberately leaves `items_` alone.
  UninitializedArray() {}  // NOLINT(modernize-use-equals-default)

  T* data() { return items_; }
  const T* data() const { return items_; }
  static constexpr std::size_t size() { return N; }
  T& operator[](std::size_t i) { return items_[i]; }
  const T& operator[](std::size_t i) const { return items_[i]; }
  T* begin() { return items_; }
  T* end() { return items_ + N; }
  operator std::span<T>() {
    return std::span<T>(items_, N);
  }  // NOLINT(google-explicit-constructor)

 private:
  union {
    T items_[N];
  };
};

}  // namespace sluice
