// Header values with variables, as the 'headers' middleware reads them.
#include <gtest/gtest.h>

#include "config/field_template.h"

namespace sluice::config {
namespace {

TEST(FieldTemplate, SplitsLiteralsVariablesAndCaptures) {
  std::vector<FieldTemplatePiece> p;
  std::string error;
  ASSERT_TRUE(parse_field_template("id=${request_id}; user $1 from ${client_ip} $$5", p, error))
      << error;
  ASSERT_EQ(p.size(), 7u);
  EXPECT_EQ(p[0].literal, "id=");
  EXPECT_EQ(p[1].variable, FieldVariable::request_id);
  EXPECT_EQ(p[2].literal, "; user ");
  EXPECT_EQ(p[3].variable, FieldVariable::capture);
  EXPECT_EQ(p[3].group, 1);
  EXPECT_EQ(p[4].literal, " from ");
  EXPECT_EQ(p[5].variable, FieldVariable::client_ip);
  EXPECT_EQ(p[6].literal, " $5");
}

TEST(FieldTemplate, RefusesUnknownVariablesAndUnclosedBraces) {
  std::vector<FieldTemplatePiece> p;
  std::string error;
  EXPECT_FALSE(parse_field_template("${hots}", p, error));
  EXPECT_NE(error.find("unknown variable \"hots\""), std::string::npos) << error;
  EXPECT_FALSE(parse_field_template("${host", p, error));
  EXPECT_FALSE(parse_field_template("cost: 5$", p, error));
  EXPECT_FALSE(parse_field_template("${16}", p, error));
}

}  // namespace
}  // namespace sluice::config
