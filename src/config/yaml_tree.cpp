#include "config/yaml_tree.h"

#include <yaml.h>

#include <algorithm>
#include <cstdio>
#include <map>
#include <utility>

namespace sluice::config::yaml {

namespace {

const std::string kNoText;

Mark mark_of(const yaml_mark_t& m) {
  return Mark{static_cast<int>(m.line), static_cast<int>(m.column)};
}

std::string_view text_of(const yaml_char_t* p) {
  return p ? std::string_view(reinterpret_cast<const char*>(p)) : std::string_view();
}

// YAML 1.2's core schema, as yaml-cpp reads it: a plain scalar without a
// tag that says nothing, or says null in one of these spellings, is null.
bool null_spelling(std::string_view s) {
  return s.empty() || s == "~" || s == "null" || s == "Null" || s == "NULL";
}

// The tree under construction: the open maps and lists, innermost last.
class Builder {
 public:
  explicit Builder(Document& doc) : doc_(doc) {}

  // False (with doc_.error set) when the event cannot be taken.
  bool take(const yaml_event_t& e) {
    switch (e.type) {
      case YAML_SCALAR_EVENT:
        return scalar(e);
      case YAML_ALIAS_EVENT:
        return alias(e);
      case YAML_SEQUENCE_START_EVENT:
        return open(e, NodeType::Sequence, text_of(e.data.sequence_start.anchor),
                    e.data.sequence_start.style == YAML_FLOW_SEQUENCE_STYLE);
      case YAML_MAPPING_START_EVENT:
        return open(e, NodeType::Map, text_of(e.data.mapping_start.anchor),
                    e.data.mapping_start.style == YAML_FLOW_MAPPING_STYLE);
      case YAML_SEQUENCE_END_EVENT:
      case YAML_MAPPING_END_EVENT:
        close();
        return true;
      default:
        return true;
    }
  }

 private:
  NodeData& make(const yaml_event_t& e, NodeType type) {
    NodeData& n = doc_.nodes.emplace_back();
    n.type = type;
    n.mark = mark_of(e.start_mark);
    return n;
  }

  // False (with doc_.error set) when the tree would weigh too much.
  bool attach(const NodeData* n, std::string_view anchor, const yaml_event_t& e) {
    if (!anchor.empty()) name(n, anchor);
    if (open_.empty()) {
      doc_.root = Node(n);
      return true;
    }
    // Every open node weighs what is attached under it; the outermost is
    // the heaviest, so it alone is checked.
    for (NodeData* o : open_)
      o->weight += n->weight;
    open_.back()->children.push_back(n);
    if (open_.front()->weight <= kMaxWeight) return true;
    doc_.error = "aliases expand to more than " + std::to_string(kMaxWeight) + " nodes";
    doc_.error_at = mark_of(e.start_mark);
    return false;
  }

  bool scalar(const yaml_event_t& e) {
    const auto& s = e.data.scalar;
    const std::string_view value(reinterpret_cast<const char*>(s.value), s.length);
    const bool plain_untagged = s.style == YAML_PLAIN_SCALAR_STYLE && s.plain_implicit;
    NodeData& n =
        make(e, plain_untagged && null_spelling(value) ? NodeType::Null : NodeType::Scalar);
    if (n.type == NodeType::Scalar) n.scalar.assign(value);
    return attach(&n, text_of(s.anchor), e);
  }

  bool alias(const yaml_event_t& e) {
    const std::string_view name = text_of(e.data.alias.anchor);
    const auto it = anchors_.find(name);
    if (it == anchors_.end()) {
      doc_.error = "unknown anchor '" + std::string(name) + "'";
      doc_.error_at = mark_of(e.start_mark);
      return false;
    }
    return attach(it->second, {}, e);
  }

  bool open(const yaml_event_t& e, NodeType type, std::string_view anchor, bool flow) {
    if (open_.size() >= static_cast<std::size_t>(kMaxDepth)) {
      doc_.error = "nested too deeply (" + std::to_string(open_.size() + 1) + " levels)";
      doc_.error_at = mark_of(e.start_mark);
      return false;
    }
    NodeData& n = make(e, type);
    n.flow = flow;
    if (!attach(&n, {}, e)) return false;
    open_.push_back(&n);
    // Named once whole: an alias inside the node itself would make the tree
    // a cycle, which every walk over it would follow for ever.
    open_anchors_.emplace_back(anchor);
    return true;
  }

  void close() {
    if (!open_anchors_.back().empty()) name(open_.back(), open_anchors_.back());
    open_.pop_back();
    open_anchors_.pop_back();
  }

  void name(const NodeData* n, std::string_view anchor) {
    anchors_.insert_or_assign(std::string(anchor), n);
  }

  Document& doc_;
  std::vector<NodeData*> open_;
  std::vector<std::string> open_anchors_;  // each open node's anchor, or ""
  std::map<std::string, const NodeData*, std::less<>> anchors_;
};

// The byte at a mark: libyaml counts columns in characters, so the line's
// UTF-8 lead bytes are counted up to it. -1 past the end.
int byte_at(std::string_view text, const yaml_mark_t& m) {
  std::size_t at = 0;
  for (std::size_t line = 0; line < m.line; ++line) {
    at = text.find('\n', at);
    if (at == std::string_view::npos) return -1;
    ++at;
  }
  for (std::size_t column = 0; at < text.size(); ++at) {
    if ((static_cast<unsigned char>(text[at]) & 0xC0) == 0x80) continue;  // a continuation
    if (column++ == m.column) return static_cast<unsigned char>(text[at]);
  }
  return -1;
}

// libyaml's words for what went wrong and what it was reading, led by the
// character it stopped at when that is a visible one.
std::string problem_of(const yaml_parser_t& p, std::string_view text) {
  std::string why = p.problem ? p.problem : "unreadable";
  if (p.context)
    why += std::string(" while ") +
           (p.context + (std::string_view(p.context).starts_with("while ") ? 6 : 0));
  const int c = byte_at(text, p.problem_mark);
  if (c > 0x20 && c < 0x7f)
    return "unexpected '" + std::string(1, static_cast<char>(c)) + "' (" + why + ")";
  return why;
}

// The reader (bytes to characters: UTF-8, control characters) says where
// by byte offset, without a mark: the line and column are counted here.
void reader_problem(const yaml_parser_t& p, std::string_view text, Document& doc) {
  const std::size_t at = std::min(p.problem_offset, text.size());
  Mark m{0, 0};
  for (std::size_t i = 0; i < at; ++i) {
    if (text[i] == '\n') {
      ++m.line;
      m.column = 0;
    } else if ((static_cast<unsigned char>(text[i]) & 0xC0) != 0x80) {
      ++m.column;
    }
  }
  doc.error_at = m;
  doc.error = p.problem ? p.problem : "unreadable";
  // YAML is Unicode (YAML 1.2 §5.2): a Latin-1 comment is refused too.
  if (doc.error.find("UTF-8") != std::string::npos) doc.error = "not UTF-8: " + doc.error;
  if (at < text.size()) {
    char byte[8];
    std::snprintf(byte, sizeof byte, "0x%02X", static_cast<unsigned char>(text[at]));
    doc.error += std::string(" (byte ") + byte + ")";
  }
}

}  // namespace

const std::string& Node::Scalar() const {
  return data_ && data_->type == NodeType::Scalar ? data_->scalar : kNoText;
}

std::size_t Node::size() const {
  if (IsSequence()) return data_->children.size();
  if (IsMap()) return data_->children.size() / 2;
  return 0;
}

Node Node::operator[](std::size_t i) const {
  return IsSequence() && i < data_->children.size() ? Node(data_->children[i]) : Node();
}

Node::iterator Node::begin() const {
  if (!IsSequence() && !IsMap()) return iterator(nullptr, nullptr, false);
  const auto& c = data_->children;
  return iterator(c.data(), c.data() + c.size(), IsMap());
}

Node::iterator Node::end() const {
  if (!IsSequence() && !IsMap()) return iterator(nullptr, nullptr, false);
  const auto& c = data_->children;
  return iterator(c.data() + c.size(), c.data() + c.size(), IsMap());
}

Node Node::empty_map() {
  static const NodeData kEmptyMap{NodeType::Map, false, {}, 1, {}, {}};
  return Node(&kEmptyMap);
}

void Node::iterator::load() {
  if (at_ == end_) return;
  if (map_) {
    entry_.first = Node(at_[0]);
    entry_.second = Node(at_[1]);
    static_cast<Node&>(entry_) = entry_.second;
  } else {
    static_cast<Node&>(entry_) = Node(at_[0]);
  }
}

void parse(std::string_view text, Document& doc) {
  yaml_parser_t parser;
  yaml_parser_initialize(&parser);
  yaml_parser_set_input_string(&parser, reinterpret_cast<const unsigned char*>(text.data()),
                               text.size());
  Builder builder(doc);
  int documents = 0;
  bool done = false;
  while (!done) {
    yaml_event_t event;
    if (!yaml_parser_parse(&parser, &event)) {
      if (parser.error == YAML_READER_ERROR) {
        reader_problem(parser, text, doc);
      } else {
        doc.error = problem_of(parser, text);
        doc.error_at = mark_of(parser.problem_mark);
      }
      break;
    }
    if (event.type == YAML_DOCUMENT_START_EVENT && ++documents == 2) {
      // The first document is whole: it is read, and the second one named.
      doc.another_document = mark_of(event.start_mark);
      done = true;
    } else if (event.type == YAML_STREAM_END_EVENT) {
      done = true;
    } else if (!builder.take(event)) {
      done = true;
    }
    yaml_event_delete(&event);
  }
  yaml_parser_delete(&parser);
  if (!doc.error.empty()) doc.root = Node();
}

}  // namespace sluice::config::yaml
