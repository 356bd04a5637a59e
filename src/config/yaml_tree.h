// A YAML document as the configuration walk reads it: maps, lists and
// scalars, each with where it was written. Built by libyaml's event parser,
// which reads a 5,000-route file several times faster than yaml-cpp's
// scanner (docs/architecture.md, "The configuration's YAML"). The method
// names follow yaml-cpp's Node, which the walk was first written against.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

namespace sluice::config::yaml {

enum class NodeType : std::uint8_t { Undefined, Null, Scalar, Sequence, Map };

// 0-based, as libyaml counts; line -1 for a node nobody wrote.
struct Mark {
  int line = -1;
  int column = -1;
  bool is_null() const { return line < 0; }
};

struct NodeData {
  NodeType type = NodeType::Undefined;
  bool flow = false;  // written as {...} or [...]
  Mark mark;
  // Nodes a walk visits under this one, itself included, each alias
  // counted as the whole node it names.
  std::uint64_t weight = 1;
  std::string scalar;
  // A list's items; a map's keys and values, alternating.
  std::vector<const NodeData*> children;
};

class Entry;

// A handle on a node of a Document (or on nothing: Undefined). Valid while
// the Document lives; copies are a pointer.
class Node {
 public:
  Node() = default;
  explicit Node(const NodeData* data) : data_(data) {}

  NodeType Type() const { return data_ ? data_->type : NodeType::Undefined; }
  bool IsDefined() const { return data_ != nullptr; }
  bool IsNull() const { return Type() == NodeType::Null; }
  bool IsScalar() const { return Type() == NodeType::Scalar; }
  bool IsSequence() const { return Type() == NodeType::Sequence; }
  bool IsMap() const { return Type() == NodeType::Map; }
  bool IsFlow() const { return data_ && data_->flow; }
  // The scalar's text; empty for anything else.
  const std::string& Scalar() const;
  // Where it was written (yaml-cpp's spelling, hence a method named as the type).
  yaml::Mark Mark() const { return data_ ? data_->mark : yaml::Mark{}; }
  // Items of a list, entries of a map; 0 for anything else.
  std::size_t size() const;
  // The i-th item of a list (Undefined past the end or on anything else).
  Node operator[](std::size_t i) const;
  // The same node (an alias is the node it names).
  bool is(const Node& other) const { return data_ == other.data_; }

  class iterator;
  iterator begin() const;
  iterator end() const;

  // An empty map nobody wrote (a block given no settings reads as one).
  static Node empty_map();

 private:
  const NodeData* data_ = nullptr;
};

// What iterating yields: a list's item (the Entry itself), or a map's
// entry (`first` the key, `second` the value).
class Entry : public Node {
 public:
  Node first;
  Node second;
};

class Node::iterator {
 public:
  iterator(const NodeData* const* at, const NodeData* const* end, bool map)
      : at_(at), end_(end), map_(map) {
    load();
  }
  const Entry& operator*() const { return entry_; }
  const Entry* operator->() const { return &entry_; }
  iterator& operator++() {
    at_ += map_ ? 2 : 1;
    load();
    return *this;
  }
  bool operator==(const iterator& o) const { return at_ == o.at_; }
  bool operator!=(const iterator& o) const { return at_ != o.at_; }

 private:
  void load();
  const NodeData* const* at_;
  const NodeData* const* end_;
  bool map_;
  Entry entry_;
};

// The first document of a text, or why there is none.
struct Document {
  Node root;  // Undefined for an empty text
  // Set when the text is not YAML that can be walked (root is then Undefined).
  std::string error;
  Mark error_at;
  // Where a second document starts, if one does (an error for a
  // configuration file, which holds one).
  Mark another_document;
  std::deque<NodeData> nodes;  // owns what `root` points into
};

// Nesting deeper than this is an error: walks over the tree recurse.
inline constexpr int kMaxDepth = 256;
// Aliases let a few bytes name a node many times over, and aliases of
// aliases multiply ("billion laughs"): what the walk would visit, and copy
// into the model, is bounded. The 4,800-route example weighs 72,814.
inline constexpr std::uint64_t kMaxWeight = 4'000'000;

// Parses the first document of `text` into `doc`. libyaml keeps pointers
// into nothing of `text` once this returns.
void parse(std::string_view text, Document& doc);

}  // namespace sluice::config::yaml
