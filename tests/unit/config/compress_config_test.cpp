// The 'compress' middleware's settings: the defaults, every key accepted
// and what it loads as, every rejected value with its file:line:col.
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "config/loader.h"
#include "config/model.h"
#include "config_test_support.h"

namespace sluice::config {
namespace {

using testing::dump;
using testing::position_of;

// A configuration whose middleware 'gz' is `compress: <block>`.
std::string with_compress(std::string_view block) {
  return "listeners: [{name: web, listen: '127.0.0.1:0', middlewares: [gz]}]\n"
         "middlewares:\n  gz:\n    compress: " +
         std::string(block) + "\nroutes: [{respond: {status: 200}}]\n";
}

const Compress& loaded(const LoadResult& r) {
  return r.config->middlewares.at(0).compress;
}

// Exactly one error, at the start of `at` in `yaml`, saying `message`.
void expect_error(const std::string& yaml, std::string_view at, const std::string& message) {
  SCOPED_TRACE(yaml);
  const SourceLocation want = position_of(yaml, at);
  ASSERT_NE(want.line, 0) << "'" << at << "' is not in the text";
  const auto r = load_string(yaml, "f.yaml");
  EXPECT_FALSE(r.ok());
  std::vector<const Diagnostic*> e;
  for (const auto& d : r.diagnostics)
    if (d.severity == Severity::error) e.push_back(&d);
  ASSERT_EQ(e.size(), 1u) << dump(r);
  EXPECT_EQ(e[0]->file, "f.yaml");
  EXPECT_EQ(e[0]->message, message) << dump(r);
  EXPECT_EQ(e[0]->line, want.line) << dump(r);
  EXPECT_EQ(e[0]->column, want.column) << dump(r);
}

TEST(CompressConfig, AnEmptyBlockTakesTheDefaults) {
  for (std::string_view block : {"{}", ""}) {
    const auto r = load_string(with_compress(block), "f.yaml");
    ASSERT_TRUE(r.ok()) << dump(r);
    EXPECT_TRUE(r.diagnostics.empty()) << dump(r);
    const Compress& c = loaded(r);
    EXPECT_EQ(c.algorithms, (std::vector<Coding>{Coding::zstd, Coding::gzip, Coding::br}));
    EXPECT_EQ(c.level.gzip, 5);
    EXPECT_EQ(c.level.br, 4);
    EXPECT_EQ(c.level.zstd, 3);
    EXPECT_EQ(c.min_size, 1024u);
    ASSERT_FALSE(c.types.empty());
    EXPECT_EQ(c.types.front(), "text/*");
    EXPECT_NE(std::find(c.types.begin(), c.types.end(), "application/json"), c.types.end());
    EXPECT_NE(std::find(c.types.begin(), c.types.end(), "image/svg+xml"), c.types.end());
  }
}

TEST(CompressConfig, EveryKeyIsRead) {
  const auto r =
      load_string(with_compress("{algorithms: [gzip, zstd], level: {gzip: 9, br: 11, zstd: 19},\n"
                                "      min_size: 4KiB, types: [Text/HTML, 'application/vnd.*']}"),
                  "f.yaml");
  ASSERT_TRUE(r.ok()) << dump(r);
  EXPECT_TRUE(r.diagnostics.empty()) << dump(r);
  const Compress& c = loaded(r);
  EXPECT_EQ(c.algorithms, (std::vector<Coding>{Coding::gzip, Coding::zstd}));
  EXPECT_EQ(c.level.gzip, 9);
  EXPECT_EQ(c.level.br, 11);
  EXPECT_EQ(c.level.zstd, 19);
  EXPECT_EQ(c.min_size, 4096u);
  EXPECT_EQ(c.types, (std::vector<std::string>{"text/html", "application/vnd.*"}));
}

TEST(CompressConfig, LevelsAtTheirLowerBoundsAndAZeroMinSizeAreAccepted) {
  const auto r =
      load_string(with_compress("{level: {gzip: 1, br: 0, zstd: 1}, min_size: 0}"), "f.yaml");
  ASSERT_TRUE(r.ok()) << dump(r);
  const Compress& c = loaded(r);
  EXPECT_EQ(c.level.gzip, 1);
  EXPECT_EQ(c.level.br, 0);
  EXPECT_EQ(c.level.zstd, 1);
  EXPECT_EQ(c.min_size, 0u);
  // Levels not named keep their defaults.
  const auto one = load_string(with_compress("{level: {br: 6}}"), "f.yaml");
  ASSERT_TRUE(one.ok()) << dump(one);
  EXPECT_EQ(loaded(one).level.br, 6);
  EXPECT_EQ(loaded(one).level.gzip, 5);
}

TEST(CompressConfig, AnUnknownKeyIsRefusedWithASuggestion) {
  const std::string y = with_compress("{min_sise: 1KiB}");
  const auto r = load_string(y, "f.yaml");
  EXPECT_FALSE(r.ok());
  EXPECT_NE(dump(r).find("min_sise"), std::string::npos) << dump(r);
  EXPECT_NE(dump(r).find("min_size"), std::string::npos) << dump(r);
}

TEST(CompressConfig, AnUnknownAlgorithmIsRefusedWhereItIsWritten) {
  const std::string y = with_compress("{algorithms: [br, deflate]}");
  expect_error(y, "deflate]",
               "middleware 'gz': compress.algorithms: expected br, zstd or gzip, got 'deflate'");
  const std::string typo = with_compress("{algorithms: [gzp]}");
  expect_error(typo, "gzp]",
               "middleware 'gz': compress.algorithms: expected br, zstd or gzip, got 'gzp' (did "
               "you mean 'gzip'?)");
}

TEST(CompressConfig, AnAlgorithmListedTwiceOrNoneAtAllIsRefused) {
  const std::string twice = with_compress("{algorithms: [gzip, br, gzip]}");
  expect_error(twice, "gzip]", "middleware 'gz': compress.algorithms: 'gzip' is listed twice");
  const std::string none = with_compress("{algorithms: []}");
  expect_error(none, "[]",
               "middleware 'gz': compress.algorithms: expected a list of br, zstd and gzip, got "
               "a list");
}

TEST(CompressConfig, LevelsOutsideTheLibrariesRangesAreRefused) {
  expect_error(with_compress("{level: {gzip: 10}}"), "10}",
               "middleware 'gz': compress.level.gzip: expected a whole number from 1 to 9, got "
               "'10'");
  expect_error(with_compress("{level: {gzip: 0}}"), "0}",
               "middleware 'gz': compress.level.gzip: expected a whole number from 1 to 9, got "
               "'0'");
  expect_error(with_compress("{level: {br: 12}}"), "12}",
               "middleware 'gz': compress.level.br: expected a whole number from 0 to 11, got "
               "'12'");
  expect_error(with_compress("{level: {zstd: 20}}"), "20}",
               "middleware 'gz': compress.level.zstd: expected a whole number from 1 to 19, got "
               "'20'");
  const auto r = load_string(with_compress("{level: {deflate: 3}}"), "f.yaml");
  EXPECT_FALSE(r.ok());
  EXPECT_NE(dump(r).find("deflate"), std::string::npos) << dump(r);
}

TEST(CompressConfig, AMinSizeThatIsNotASizeIsRefused) {
  expect_error(with_compress("{min_size: lots}"), "lots}",
               "middleware 'gz': compress.min_size: expected a size such as 512, 16KiB or 1MiB, "
               "got 'lots'");
}

TEST(CompressConfig, TypesMustBeMediaTypesOrPrefixesAndNeverEventStreams) {
  expect_error(with_compress("{types: [html]}"), "html]",
               "middleware 'gz': compress.types: 'html': expected a media type such as text/html "
               "or text/*");
  expect_error(with_compress("{types: ['text/*+xml']}"), "'text/*+xml'",
               "middleware 'gz': compress.types: 'text/*+xml': '*' may only end a type (as in "
               "text/*)");
  expect_error(with_compress("{types: ['text/html; charset=utf-8']}"), "'text/html; charset=utf-8'",
               "middleware 'gz': compress.types: 'text/html; charset=utf-8': expected a media "
               "type such as text/html or text/*, without parameters");
  expect_error(with_compress("{types: [text/event-stream]}"), "text/event-stream]",
               "middleware 'gz': compress.types: 'text/event-stream': text/event-stream "
               "(Server-Sent Events) is never compressed");
  expect_error(with_compress("{types: []}"), "[]",
               "middleware 'gz': compress.types: an empty list compresses nothing (remove the "
               "middleware instead)");
}

}  // namespace
}  // namespace sluice::config
