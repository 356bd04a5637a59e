// An access log line from a hand-made RequestRecord: every field in the
// JSON form and in a format string, the values of a request that got no
// answer, and hostile bytes in what the client sent: the JSON form stays
// valid JSON (checked by an independent strict reader) and the text form one
// line.
#include <gtest/gtest.h>

#include <string>
#include <string_view>
#include <vector>

#include "config/access_log_config.h"
#include "observe/access_log_format.h"
#include "support/json_reader.h"

namespace sluice::observe {
namespace {

using test::JsonValue;
using test::parse_json;

// 2026-12-01T10:20:30.456789Z
constexpr std::uint64_t kStartUs = 1'796'120'430'456'789ULL;

struct Sample {
  SocketAddress client = *SocketAddress::parse_numeric("192.0.2.7:51234");
  RequestRecord r;
  Sample() {
    r.start_unix_us = kStartUs;
    r.client = &client;
    r.listener = "web";
    r.protocol = "HTTP/1.1";
    r.method = "GET";
    r.host = "shop.example";
    r.target = "/cart?id=7";
    r.route = "shop";
    r.backend = "app";
    r.server = "10.0.0.5:8080";
    r.status = 200;
    r.bytes_in = 87;
    r.bytes_out = 1234;
    r.connect_us = 1500;
    r.first_byte_us = 12'345;
    r.total_us = 23'456;
    r.retries = 1;
    r.reused_connection = false;
    r.termination = "--";
    r.request_id = "4bf92f3577b34da6a3ce929d0e0e4736";
    const std::string_view trace = "0af7651916cd43dd8448eb211c80319c";
    std::copy(trace.begin(), trace.end(), r.trace.trace_id.begin());
    r.trace.valid = true;
    r.tls_version = "TLSv1.3";
    r.sni = "shop.example";
  }
};

std::string json_line(const RequestRecord& r) {
  SecondClock clock;
  std::string out;
  AccessLogFormat().append(r, clock, out);
  return out;
}

std::string text_line(const RequestRecord& r, std::string_view format) {
  std::vector<config::AccessLogPiece> pieces;
  std::string error;
  std::string bad;
  EXPECT_TRUE(config::parse_access_log_format(format, pieces, error, bad)) << error;
  SecondClock clock;
  std::string out;
  AccessLogFormat(std::move(pieces)).append(r, clock, out);
  return out;
}

// The line without its newline, parsed; fails the test when it is not JSON.
JsonValue parsed(const std::string& line) {
  EXPECT_EQ(line.back(), '\n');
  EXPECT_EQ(line.find('\n'), line.size() - 1) << "one line: " << line;
  std::string error;
  auto v = parse_json(std::string_view(line).substr(0, line.size() - 1), &error);
  EXPECT_TRUE(v.has_value()) << error << " in " << line;
  return v.value_or(JsonValue{});
}

std::string str(const JsonValue& obj, std::string_view key) {
  const JsonValue* v = obj.get(key);
  EXPECT_NE(v, nullptr) << key;
  if (v == nullptr) return "<absent>";
  EXPECT_EQ(v->type, JsonValue::Type::string) << key;
  return v->text;
}

std::string num(const JsonValue& obj, std::string_view key) {
  const JsonValue* v = obj.get(key);
  EXPECT_NE(v, nullptr) << key;
  if (v == nullptr) return "<absent>";
  EXPECT_EQ(v->type, JsonValue::Type::number) << key;
  return v->text;
}

bool is_null(const JsonValue& obj, std::string_view key) {
  const JsonValue* v = obj.get(key);
  return v != nullptr && v->is_null();
}

TEST(AccessLogJson, ALineCarriesEveryFieldOfTheRequest) {
  Sample s;
  const JsonValue v = parsed(json_line(s.r));
  EXPECT_EQ(str(v, "time"), "2026-12-01T10:20:30.456Z");
  EXPECT_EQ(str(v, "client_ip"), "192.0.2.7");
  EXPECT_EQ(num(v, "client_port"), "51234");
  EXPECT_EQ(str(v, "listener"), "web");
  EXPECT_EQ(str(v, "protocol"), "HTTP/1.1");
  EXPECT_EQ(str(v, "method"), "GET");
  EXPECT_EQ(str(v, "host"), "shop.example");
  EXPECT_EQ(str(v, "path"), "/cart?id=7");
  EXPECT_EQ(num(v, "status"), "200");
  EXPECT_EQ(num(v, "bytes_in"), "87");
  EXPECT_EQ(num(v, "bytes_out"), "1234");
  EXPECT_EQ(num(v, "duration_ms"), "23.456");
  EXPECT_EQ(num(v, "connect_ms"), "1.500");
  EXPECT_EQ(num(v, "first_byte_ms"), "12.345");
  EXPECT_EQ(str(v, "route"), "shop");
  EXPECT_EQ(str(v, "backend"), "app");
  EXPECT_EQ(str(v, "server"), "10.0.0.5:8080");
  EXPECT_EQ(num(v, "retries"), "1");
  ASSERT_NE(v.get("reused"), nullptr);
  EXPECT_EQ(v.get("reused")->type, JsonValue::Type::boolean);
  EXPECT_EQ(str(v, "termination"), "--");
  EXPECT_EQ(str(v, "request_id"), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(str(v, "trace_id"), "0af7651916cd43dd8448eb211c80319c");
  EXPECT_EQ(str(v, "tls_version"), "TLSv1.3");
  EXPECT_EQ(str(v, "sni"), "shop.example");
  // Every variable a format string may name is a key, and nothing else.
  EXPECT_EQ(v.members.size(), config::access_log_field_names().size());
  for (const auto& name : config::access_log_field_names())
    EXPECT_NE(v.get(name), nullptr) << name;
}

TEST(AccessLogJson, WhatARequestDidNotHaveIsNull) {
  RequestRecord r;  // closed before a request arrived: nothing known
  r.start_unix_us = kStartUs;
  r.termination = "CR";
  const JsonValue v = parsed(json_line(r));
  for (const char* key : {"client_ip", "client_port", "listener", "protocol", "method", "host",
                          "path", "status", "connect_ms", "first_byte_ms", "route", "backend",
                          "server", "request_id", "trace_id", "tls_version", "sni"}) {
    EXPECT_TRUE(is_null(v, key)) << key;
  }
  EXPECT_EQ(num(v, "bytes_in"), "0");
  EXPECT_EQ(num(v, "duration_ms"), "0.000");
  EXPECT_EQ(str(v, "termination"), "CR");
}

TEST(AccessLogJson, AnIpv6ClientIsWrittenWithoutBrackets) {
  Sample s;
  s.client = *SocketAddress::parse_numeric("[2001:db8::1]:443");
  const JsonValue v = parsed(json_line(s.r));
  EXPECT_EQ(str(v, "client_ip"), "2001:db8::1");
  EXPECT_EQ(num(v, "client_port"), "443");
}

TEST(AccessLogJson, EveryByteInHostAndPathGivesValidJsonThatReadsBackTheSame) {
  Sample s;
  // Every byte value, alone: ASCII comes back as itself; a byte that is
  // not UTF-8 on its own comes back as the character of the same number
  // (written \u00XX).
  for (int b = 0; b < 256; ++b) {
    const std::string one(1, static_cast<char>(b));
    const std::string path = "/a" + one + "b";
    s.r.target = path;
    s.r.host = one;
    const JsonValue v = parsed(json_line(s.r));
    std::string want_char = one;
    if (b >= 0x80) {
      want_char =
          std::string{static_cast<char>(0xc0 | (b >> 6)), static_cast<char>(0x80 | (b & 0x3f))};
    }
    EXPECT_EQ(str(v, "path"), "/a" + want_char + "b") << "byte " << b;
    EXPECT_EQ(str(v, "host"), want_char) << "byte " << b;
  }
}

TEST(AccessLogJson, WellFormedUtf8StaysAsItIsAndBrokenSequencesAreEscapedByteByByte) {
  Sample s;
  const std::string good = "/caf\xc3\xa9/\xe2\x82\xac/\xf0\x9f\x98\x80";  // é, €, 😀
  s.r.target = good;
  EXPECT_EQ(str(parsed(json_line(s.r)), "path"), good);
  EXPECT_NE(json_line(s.r).find(good), std::string::npos);  // raw, not escaped
  struct Case {
    std::string bytes;
    std::string written;  // in the line
  };
  const std::vector<Case> bad{
      {"\xc0\xaf", "\\u00c0\\u00af"},                        // overlong '/'
      {"\xed\xa0\x80", "\\u00ed\\u00a0\\u0080"},             // a surrogate
      {"\xf4\x90\x80\x80", "\\u00f4\\u0090\\u0080\\u0080"},  // above U+10FFFF
      {"\xe2\x82", "\\u00e2\\u0082"},                        // cut short at the end
      {"\xe2\x82/", "\\u00e2\\u0082/"},                      // cut short before ASCII
      {"\x80", "\\u0080"},                                   // a lone continuation byte
      {"\xff", "\\u00ff"},
  };
  for (const auto& c : bad) {
    s.r.target = c.bytes;
    const std::string line = json_line(s.r);
    parsed(line);
    EXPECT_NE(line.find("\"path\":\"" + c.written + "\""), std::string::npos) << line;
  }
}

TEST(AccessLogJson, QuotesBackslashesAndControlCharactersAreEscaped) {
  Sample s;
  const std::string path("/\"x\\y\n\r\t\x01\x7f\0", 11);
  s.r.target = path;
  const std::string line = json_line(s.r);
  EXPECT_NE(line.find(R"("path":"/\"x\\y\n\r\t\u0001\u007f\u0000")"), std::string::npos) << line;
  EXPECT_EQ(str(parsed(line), "path"), s.r.target);
}

TEST(AccessLogJson, AHostileHostCannotAddAField) {
  Sample s;
  s.r.host = R"(a","status":999,"x":")";
  const JsonValue v = parsed(json_line(s.r));
  EXPECT_EQ(str(v, "host"), s.r.host);
  EXPECT_EQ(num(v, "status"), "200");
  EXPECT_EQ(v.get("x"), nullptr);
}

TEST(AccessLogJson, TheSecondIsRecomputedWhenItChanges) {
  Sample s;
  SecondClock clock;
  std::string out;
  AccessLogFormat json;
  json.append(s.r, clock, out);
  s.r.start_unix_us = 946'684'799'999'000ULL;  // 1999-12-31T23:59:59.999Z
  json.append(s.r, clock, out);
  s.r.start_unix_us += 1000;
  json.append(s.r, clock, out);
  EXPECT_NE(out.find("\"time\":\"2026-12-01T10:20:30.456Z\""), std::string::npos);
  EXPECT_NE(out.find("\"time\":\"1999-12-31T23:59:59.999Z\""), std::string::npos);
  EXPECT_NE(out.find("\"time\":\"2000-01-01T00:00:00.000Z\""), std::string::npos);
}

TEST(AccessLogText, AFormatStringGetsTheValuesInPlace) {
  Sample s;
  EXPECT_EQ(text_line(s.r,
                      "${client_ip}:${client_port} \"${method} ${path} ${protocol}\" "
                      "${status} ${bytes_in}/${bytes_out} ${duration_ms}ms $$ ${termination}"),
            "192.0.2.7:51234 \"GET /cart?id=7 HTTP/1.1\" 200 87/1234 23.456ms $ --\n");
  EXPECT_EQ(text_line(s.r,
                      "${time} ${listener} ${route} ${backend} ${server} ${retries} "
                      "${reused} ${request_id} ${trace_id} ${tls_version} ${sni} "
                      "${connect_ms} ${first_byte_ms} ${host}"),
            "2026-12-01T10:20:30.456Z web shop app 10.0.0.5:8080 1 false "
            "4bf92f3577b34da6a3ce929d0e0e4736 0af7651916cd43dd8448eb211c80319c TLSv1.3 "
            "shop.example 1.500 12.345 shop.example\n");
}

TEST(AccessLogText, MissingValuesAreADash) {
  RequestRecord r;
  r.start_unix_us = kStartUs;
  EXPECT_EQ(text_line(r,
                      "${client_ip} ${method} ${path} ${status} ${route} ${connect_ms} "
                      "${trace_id} ${sni}"),
            "- - - - - - - -\n");
}

TEST(AccessLogText, ClientBytesCannotBreakTheLine) {
  Sample s;
  const std::string path = "/a\nGET /forged HTTP/1.1\r\n\x1b[31m\"\\";
  s.r.target = path;
  s.r.host = "h\xc2\x85x\xe2\x80\xa8y\xff";  // NEL, LINE SEPARATOR, a stray byte
  const std::string line = text_line(s.r, "${host} ${path}");
  EXPECT_EQ(line,
            "h\\xc2\\x85x\\xe2\\x80\\xa8y\\xff "
            "/a\\x0aGET /forged HTTP/1.1\\x0d\\x0a\\x1b[31m\\x22\\x5c\n");
  // Letters of other scripts are no threat: written as they came.
  s.r.target = "/caf\xc3\xa9";
  EXPECT_EQ(text_line(s.r, "${path}"), "/caf\xc3\xa9\n");
}

TEST(AccessLogText, EveryByteValueKeepsTheLineOneLineOfPrintableText) {
  Sample s;
  for (int b = 0; b < 256; ++b) {
    const std::string path = "/" + std::string(1, static_cast<char>(b));
    s.r.target = path;
    const std::string line = text_line(s.r, "${path}");
    EXPECT_EQ(line.find('\n'), line.size() - 1) << b;
    for (std::size_t i = 0; i + 1 < line.size(); ++i) {
      const auto c = static_cast<unsigned char>(line[i]);
      EXPECT_TRUE(c >= 0x20 && c < 0x7f) << "byte " << b << " gave " << line;
    }
  }
}

// The oracle itself: it must refuse what is not JSON, or the tests above
// would prove nothing.
TEST(JsonReader, RefusesWhatIsNotJson) {
  for (std::string_view bad :
       {R"({"a":1,})", R"({"a":"x)", "{\"a\":\"\x01\"}", "{\"a\":\"\xff\"}", "{\"a\":\"\xc0\xaf\"}",
        R"({"a":01})", R"({"a":"\x41"})", R"({"a":"\ud800"})", R"({"a":1} x)", R"({a:1})"}) {
    EXPECT_FALSE(parse_json(bad).has_value()) << bad;
  }
  EXPECT_TRUE(parse_json(R"({"a":[1,-2.5e3,true,null,"\u00e9\ud83d\ude00"]})").has_value());
}

}  // namespace
}  // namespace sluice::observe
