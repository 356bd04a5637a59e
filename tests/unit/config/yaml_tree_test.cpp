// The configuration's YAML reader (libyaml's events into a tree): what the
// walk relies on, as the loader saw it when yaml-cpp built the tree.
#include "config/yaml_tree.h"

#include <gtest/gtest.h>

#include <string>

namespace sluice::config::yaml {
namespace {

Document parsed(const std::string& text) {
  Document doc;
  parse(text, doc);
  return doc;
}

// YAML 1.2's core schema: plain and untagged, null in these spellings;
// quoted or tagged, the text itself.
TEST(YamlTree, NullIsAPlainUntaggedNullSpellingOrNothing) {
  const Document doc =
      parsed("a: ~\nb: null\nc: Null\nd: NULL\ne:\nf: 'null'\ng: \"~\"\nh: nULL\ni: !!str null\n");
  ASSERT_TRUE(doc.error.empty()) << doc.error;
  const Node root = doc.root;
  ASSERT_TRUE(root.IsMap());
  ASSERT_EQ(root.size(), 9u);
  std::string nulls;
  std::string scalars;
  for (const auto& kv : root) {
    if (kv.second.IsNull()) nulls += kv.first.Scalar();
    if (kv.second.IsScalar()) scalars += kv.first.Scalar() + "=" + kv.second.Scalar() + " ";
  }
  EXPECT_EQ(nulls, "abcde");
  EXPECT_EQ(scalars, "f=null g=~ h=nULL i=null ");
  EXPECT_EQ(root[0].IsDefined(), false) << "a map is not indexed as a list";
}

TEST(YamlTree, ListsMapsFlowStyleAndMarks) {
  const Document doc = parsed("# a comment\nroutes:\n  - {name: a, x: [1, 2]}\n  - name: b\n");
  ASSERT_TRUE(doc.error.empty()) << doc.error;
  const Node routes = (*doc.root.begin()).second;
  ASSERT_TRUE(routes.IsSequence());
  EXPECT_FALSE(routes.IsFlow());
  ASSERT_EQ(routes.size(), 2u);
  EXPECT_TRUE(routes[0].IsFlow());
  EXPECT_EQ(routes[0].Mark().line, 2);
  EXPECT_EQ(routes[0].Mark().column, 4);
  EXPECT_FALSE(routes[1].IsFlow());
  EXPECT_EQ(routes[1].Mark().line, 3);
  EXPECT_EQ(routes[1].Mark().column, 4) << "a block map is where its first key is";
  EXPECT_FALSE(routes[2].IsDefined());
  std::string items;
  for (const auto& item : routes)
    items += std::to_string(item.size());
  EXPECT_EQ(items, "21");
  EXPECT_TRUE(Node().Mark().is_null());
  EXPECT_EQ(Node().size(), 0u);
  EXPECT_TRUE(Node().begin() == Node().end());
  EXPECT_TRUE(Node::empty_map().IsMap());
  EXPECT_EQ(Node::empty_map().size(), 0u);
}

TEST(YamlTree, AnAliasIsTheNodeItsAnchorNames) {
  const Document doc = parsed("base: &b {port: 1}\none: *b\ntwo: *b\n");
  ASSERT_TRUE(doc.error.empty()) << doc.error;
  const Node root = doc.root;
  auto it = root.begin();
  const Node base = it->second;
  ++it;
  EXPECT_TRUE(it->second.is(base));
  ++it;
  EXPECT_TRUE(it->second.is(base));
  EXPECT_FALSE(root.is(base));
}

// An alias inside the node its anchor names would make the tree a cycle,
// which every walk over it would follow for ever: it names nothing yet.
TEST(YamlTree, AnAliasInsideItsOwnAnchorsNodeIsAnError) {
  const Document cycle = parsed("a: &loop [1, *loop]\n");
  EXPECT_FALSE(cycle.root.IsDefined());
  EXPECT_EQ(cycle.error, "unknown anchor 'loop'");
  EXPECT_EQ(cycle.error_at.line, 0);
  EXPECT_EQ(cycle.error_at.column, 13);
  EXPECT_EQ(parsed("a: *nowhere\n").error, "unknown anchor 'nowhere'");
}

// "Billion laughs": nine levels of ten aliases each name 10^9 scalars in
// under 300 bytes. The tree stays small, but a walk would visit (and copy
// into the model) every one, so the text is refused where the weight passes
// the bound.
TEST(YamlTree, AliasesThatMultiplyPastTheBoundAreAnError) {
  std::string text = "l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i <= 9; ++i) {
    const std::string prev = "*l" + std::to_string(i - 1);
    text += "l" + std::to_string(i) + ": &l" + std::to_string(i) + " [";
    for (int k = 0; k < 10; ++k)
      text += (k ? ", " : "") + prev;
    text += "]\n";
  }
  const Document bomb = parsed(text);
  EXPECT_FALSE(bomb.root.IsDefined());
  EXPECT_EQ(bomb.error, "aliases expand to more than " + std::to_string(kMaxWeight) + " nodes");
  EXPECT_EQ(bomb.error_at.line, 6) << "10^6 scalars by the 7th line, 10^5 before it";
  // The same aliases a few levels down stay well inside it.
  const Document fine = parsed(text.substr(0, text.find("l4:")));
  EXPECT_TRUE(fine.error.empty()) << fine.error;
  EXPECT_EQ(fine.root.size(), 4u);
}

TEST(YamlTree, NestingPastTheLimitIsAnErrorAtItsPlace) {
  const std::string at_limit = std::string(kMaxDepth, '[') + std::string(kMaxDepth, ']');
  EXPECT_TRUE(parsed(at_limit).error.empty()) << parsed(at_limit).error;
  const std::string deeper = "a: " + std::string(kMaxDepth, '[') + std::string(kMaxDepth, ']');
  const Document doc = parsed(deeper);
  EXPECT_FALSE(doc.root.IsDefined());
  EXPECT_EQ(doc.error, "nested too deeply (" + std::to_string(kMaxDepth + 1) + " levels)");
  EXPECT_EQ(doc.error_at.column, 3 + kMaxDepth - 1);
}

TEST(YamlTree, ASecondDocumentIsNamedAndTheFirstIsKept) {
  const Document doc = parsed("a: 1\n---\nb: 2\n");
  ASSERT_TRUE(doc.error.empty()) << doc.error;
  EXPECT_EQ(doc.root.size(), 1u);
  EXPECT_EQ(doc.another_document.line, 1);
  EXPECT_TRUE(parsed("---\na: 1\n...\n").another_document.is_null());
  const Document empty = parsed("# nothing\n");
  EXPECT_TRUE(empty.error.empty());
  EXPECT_FALSE(empty.root.IsDefined());
}

// libyaml counts columns in characters: the character named is found by
// counting them, past multi-byte ones, not by the column as a byte offset.
TEST(YamlTree, AnErrorNamesTheCharacterItStoppedAt) {
  const Document doc = parsed("\xc3\xa9t\xc3\xa9: 1\n  \xc3\xa9: 2\n");
  EXPECT_EQ(doc.error, "unexpected ':' (mapping values are not allowed in this context)");
  EXPECT_EQ(doc.error_at.line, 1);
  EXPECT_EQ(doc.error_at.column, 3);
  const Document cut = parsed("a: [1, 2\n");
  EXPECT_EQ(cut.error, "did not find expected ',' or ']' while parsing a flow sequence");
  EXPECT_FALSE(cut.root.IsDefined());
}

// The reader (bytes to characters) reports a byte offset, not a mark: the
// place is counted from it, and the byte named.
TEST(YamlTree, AByteThatIsNotATextCharacterIsNamedWhereItIs) {
  const Document control = parsed(
      "listeners:\n  - name: w\x01"
      "b\n");
  EXPECT_EQ(control.error, "control characters are not allowed (byte 0x01)");
  EXPECT_EQ(control.error_at.line, 1);
  EXPECT_EQ(control.error_at.column, 11);
  const Document latin1 = parsed("a: 1 # caf\xe9\n");
  EXPECT_EQ(latin1.error, "not UTF-8: incomplete UTF-8 octet sequence (byte 0xE9)");
  EXPECT_EQ(latin1.error_at.line, 0);
  EXPECT_EQ(latin1.error_at.column, 10);
}

}  // namespace
}  // namespace sluice::config::yaml
