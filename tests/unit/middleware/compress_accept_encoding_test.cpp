// Accept-Encoding negotiation (RFC 9110 §12.5.3) for the compress
// middleware: the client's weights first, then our order.
#include <gtest/gtest.h>

#include <optional>
#include <string>
#include <vector>

#include "middleware/accept_encoding.h"

namespace sluice::middleware {
namespace {

using config::Coding;

const std::vector<Coding> kOurs{Coding::br, Coding::zstd, Coding::gzip};

std::string chosen(std::string_view accept, const std::vector<Coding>& ours = kOurs) {
  const auto c = negotiate_coding(accept, ours);
  if (!c) return "identity";
  switch (*c) {
    case Coding::br:
      return "br";
    case Coding::zstd:
      return "zstd";
    case Coding::gzip:
      return "gzip";
  }
  return "?";
}

TEST(AcceptEncoding, ASingleCodingIsUsed) {
  EXPECT_EQ(chosen("gzip"), "gzip");
  EXPECT_EQ(chosen("br"), "br");
  EXPECT_EQ(chosen("zstd"), "zstd");
}

TEST(AcceptEncoding, EqualWeightsGoToOurOrder) {
  EXPECT_EQ(chosen("gzip, deflate, br, zstd"), "br");
  EXPECT_EQ(chosen("gzip, zstd"), "zstd");
  EXPECT_EQ(chosen("gzip, deflate, br, zstd", {Coding::gzip, Coding::br}), "gzip");
  EXPECT_EQ(chosen("gzip;q=0.8, br;q=0.8"), "br");
}

TEST(AcceptEncoding, TheClientsHighestWeightWins) {
  EXPECT_EQ(chosen("gzip;q=0.5, br;q=0.9"), "br");
  EXPECT_EQ(chosen("gzip;q=1.0, br;q=0.9"), "gzip");
  EXPECT_EQ(chosen("br;q=0.001, gzip;q=0.002"), "gzip");
  EXPECT_EQ(chosen("zstd;q=0.7, br;q=0.6, gzip"), "gzip");
}

TEST(AcceptEncoding, WeightZeroMeansNever) {
  EXPECT_EQ(chosen("br;q=0, gzip"), "gzip");
  EXPECT_EQ(chosen("br;q=0, zstd;q=0.000, gzip;q=0.0"), "identity");
  EXPECT_EQ(chosen("gzip;q=0"), "identity");
}

TEST(AcceptEncoding, StarCoversCodingsNotListed) {
  EXPECT_EQ(chosen("*"), "br");
  EXPECT_EQ(chosen("br;q=0, *"), "zstd");
  EXPECT_EQ(chosen("br;q=0, zstd;q=0, *"), "gzip");
  EXPECT_EQ(chosen("*;q=0.5, gzip"), "gzip");
  EXPECT_EQ(chosen("gzip;q=0.1, *;q=0.5"), "br");
  EXPECT_EQ(chosen("*;q=0"), "identity");
  EXPECT_EQ(chosen("*;q=0, gzip"), "gzip");
}

TEST(AcceptEncoding, IdentityWinsOnlyWhenTheClientWeighsItHigher) {
  EXPECT_EQ(chosen("identity"), "identity");
  EXPECT_EQ(chosen("gzip;q=0.5, identity"), "identity");
  EXPECT_EQ(chosen("gzip, identity"), "gzip");
  EXPECT_EQ(chosen("gzip, identity;q=0"), "gzip");
  EXPECT_EQ(chosen("identity;q=0"), "identity");  // nothing better to offer
  EXPECT_EQ(chosen("identity;q=0.5, *;q=0.9"), "br");
}

TEST(AcceptEncoding, AnEmptyValueAcceptsOnlyIdentity) {
  EXPECT_EQ(chosen(""), "identity");
  EXPECT_EQ(chosen(" , ,"), "identity");
}

TEST(AcceptEncoding, CodingsOutsideOurListAreNeverChosen) {
  EXPECT_EQ(chosen("deflate, compress, exi"), "identity");
  EXPECT_EQ(chosen("br, gzip", {Coding::zstd}), "identity");
  EXPECT_EQ(chosen("*", {Coding::gzip}), "gzip");
}

TEST(AcceptEncoding, NamesAndParametersAreCaseInsensitiveAndSpacesAllowed) {
  EXPECT_EQ(chosen("GZIP"), "gzip");
  EXPECT_EQ(chosen("Br ; Q=0.5 , gZip;q=0.4"), "br");
  EXPECT_EQ(chosen("\tgzip\t;\tq=1\t,br;q=0.9"), "gzip");
  EXPECT_EQ(chosen(",,gzip,,"), "gzip");
}

TEST(AcceptEncoding, XGzipIsGzip) {
  EXPECT_EQ(chosen("x-gzip"), "gzip");
  EXPECT_EQ(chosen("x-gzip;q=0.9, br;q=0.5"), "gzip");
}

TEST(AcceptEncoding, MalformedElementsAreIgnored) {
  EXPECT_EQ(chosen("br;q=2, gzip;q=0.5"), "gzip");       // q above 1
  EXPECT_EQ(chosen("br;q=1.5, gzip;q=0.5"), "gzip");     // q above 1
  EXPECT_EQ(chosen("br;q=0.1234, gzip;q=0.5"), "gzip");  // four decimals
  EXPECT_EQ(chosen("br;q=, gzip;q=0.5"), "gzip");
  EXPECT_EQ(chosen("br;q=abc, gzip;q=0.5"), "gzip");
  EXPECT_EQ(chosen("br;q, gzip;q=0.5"), "gzip");
  EXPECT_EQ(chosen("br;, gzip;q=0.5"), "gzip");  // a ';' with no weight after it
  EXPECT_EQ(chosen("b r, gzip;q=0.5"), "gzip");
  EXPECT_EQ(chosen("br;q=-1, gzip;q=0.5"), "gzip");
  EXPECT_EQ(chosen("\"br\", gzip;q=0.5"), "gzip");
  EXPECT_EQ(chosen("br;q=1.000, gzip;q=0.5"), "br");  // at most 1, three zeros allowed
  EXPECT_EQ(chosen("br;q=1., gzip;q=0.5"), "br");
}

TEST(AcceptEncoding, OtherParametersAreIgnored) {
  EXPECT_EQ(chosen("br;level=3;q=0.4, gzip;q=0.3"), "br");
}

TEST(AcceptEncoding, TheFirstWeightOfACodingNamedTwiceCounts) {
  EXPECT_EQ(chosen("br;q=0, br, gzip;q=0.1"), "gzip");
  EXPECT_EQ(chosen("br, br;q=0"), "br");
}

}  // namespace
}  // namespace sluice::middleware
