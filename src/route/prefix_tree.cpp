#include "route/prefix_tree.h"

namespace sluice::route {

PrefixTree::PrefixTree() : root_(std::make_unique<Node>()) {}
PrefixTree::~PrefixTree() = default;
PrefixTree::PrefixTree(PrefixTree&&) noexcept = default;
PrefixTree& PrefixTree::operator=(PrefixTree&&) noexcept = default;

bool PrefixTree::empty() const {
  return root_->children.empty() && root_->values.empty();
}

void PrefixTree::add(std::string_view prefix, std::uint32_t value) {
  Node* node = root_.get();
  while (!prefix.empty()) {
    Node* child = nullptr;
    for (auto& c : node->children) {
      if (c->label[0] == prefix[0]) {
        child = c.get();
        break;
      }
    }
    if (child == nullptr) {
      auto leaf = std::make_unique<Node>();
      leaf->label = std::string(prefix);
      leaf->values.push_back(value);
      node->children.push_back(std::move(leaf));
      return;
    }
    // Length of the common part of the edge and the rest of the prefix.
    std::size_t common = 0;
    while (common < child->label.size() && common < prefix.size() &&
           child->label[common] == prefix[common]) {
      ++common;
    }
    if (common < child->label.size()) {
      // Split the edge: child keeps the tail under a new middle node.
      auto tail = std::make_unique<Node>();
      tail->label = child->label.substr(common);
      tail->children = std::move(child->children);
      tail->values = std::move(child->values);
      child->label.resize(common);
      child->children.clear();
      child->values.clear();
      child->children.push_back(std::move(tail));
    }
    prefix.remove_prefix(common);
    node = child;
  }
  node->values.push_back(value);
}

}  // namespace sluice::route
