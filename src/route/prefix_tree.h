// Path prefixes in a radix tree (edges labelled with strings, split where
// prefixes diverge): finding every configured prefix of a request path costs
// one walk down the path, however many prefixes there are.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::route {

class PrefixTree {
 public:
  PrefixTree();
  ~PrefixTree();
  PrefixTree(PrefixTree&&) noexcept;
  PrefixTree& operator=(PrefixTree&&) noexcept;

  // Adds `value` under `prefix`; values of one prefix keep insertion order.
  void add(std::string_view prefix, std::uint32_t value);
  // Calls `fn` with the values of every added prefix of `path`, shortest
  // prefix first.
  template <typename Fn>
  void for_each_prefix_of(std::string_view path, Fn&& fn) const;
  bool empty() const;

 private:
  struct Node {
    std::string label;  // edge from the parent
    std::vector<std::unique_ptr<Node>> children;
    std::vector<std::uint32_t> values;
  };
  std::unique_ptr<Node> root_;
};

template <typename Fn>
void PrefixTree::for_each_prefix_of(std::string_view path, Fn&& fn) const {
  const Node* node = root_.get();
  std::size_t pos = 0;
  while (node != nullptr) {
    if (!node->values.empty()) fn(node->values);
    if (pos == path.size()) return;
    const Node* next = nullptr;
    for (const auto& child : node->children) {
      if (child->label[0] == path[pos]) {
        next = child.get();
        break;
      }
    }
    if (next == nullptr || path.substr(pos, next->label.size()) != next->label) return;
    pos += next->label.size();
    node = next;
  }
}

}  // namespace sluice::route
