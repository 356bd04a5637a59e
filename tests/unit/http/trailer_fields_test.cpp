// Which fields a trailer section may carry on (RFC 9110 §6.5.1).
#include "http/trailer_fields.h"

#include <gtest/gtest.h>

#include <string_view>

namespace sluice::http {
namespace {

TEST(TrailerFields, GrpcStatusChecksumsAndOtherEndToEndFieldsPass) {
  for (std::string_view name : {"grpc-status", "grpc-message", "grpc-status-details-bin",
                                "x-checksum", "Server-Timing", "Digest", "X-Custom"}) {
    EXPECT_TRUE(allowed_in_trailers(name)) << name;
  }
}

TEST(TrailerFields, FramingRoutingAuthenticationAndContentFormatAreDropped) {
  for (std::string_view name : {"Content-Length",
                                "transfer-encoding",
                                "Host",
                                "Connection",
                                "Keep-Alive",
                                "TE",
                                "Upgrade",
                                "Proxy-Connection",
                                "Authorization",
                                "WWW-Authenticate",
                                "Proxy-Authorization",
                                "Content-Encoding",
                                "Content-Type",
                                "Content-Range",
                                "Trailer",
                                "Cache-Control",
                                "Expect",
                                "Range",
                                "If-None-Match",
                                "Set-Cookie",
                                "Cookie",
                                "Location"}) {
    EXPECT_FALSE(allowed_in_trailers(name)) << name;
  }
}

TEST(TrailerFields, PseudoFieldsAndEmptyNamesAreDropped) {
  EXPECT_FALSE(allowed_in_trailers(":status"));
  EXPECT_FALSE(allowed_in_trailers(":path"));
  EXPECT_FALSE(allowed_in_trailers(""));
}

}  // namespace
}  // namespace sluice::http
