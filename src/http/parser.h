// Strict, incremental, allocation-free HTTP/1.x head parsers.
//
// The caller keeps the received bytes in one contiguous buffer and calls
// parse() with all of them each time more arrive; the parser remembers how
// far it has scanned, finds the end of the head, then parses it in one pass.
// Field views point into the caller's buffer, stored in caller-provided
// storage whose size is the field limit.
//
// What enables request smuggling is rejected, never guessed: see the rules
// in parser.cpp, each with its RFC section, and tests/unit/http.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

#include "http/message.h"

namespace sluice::http {

struct ParserLimits {
  std::size_t max_request_line = 8 * 1024;  // 414 above (requests)
  std::size_t max_head_bytes = 16 * 1024;   // 431 above
  std::size_t max_fields = 100;             // 431 above
};

enum class ParseState : std::uint8_t { need_more, complete, error };

struct ParseError {
  int status = 0;           // 400, 414, 431, 501, 505 (502 for responses)
  const char* reason = "";  // static text for logs and error bodies
};

// Scanning state shared by both parsers: where the head ends.
class HeadScanner {
 public:
  explicit HeadScanner(ParserLimits limits) : limits_(limits) {}
  // need_more, complete (head_end() set) or error.
  ParseState scan(std::string_view buffered, bool is_request, ParseError& error);
  std::size_t head_start() const { return start_; }
  std::size_t head_end() const { return end_; }  // one past the blank line
  // The start line's length without its CRLF (once the head is complete).
  std::size_t start_line_size() const { return first_line_end_ - 2 - start_; }
  void reset() { *this = HeadScanner(limits_); }
  const ParserLimits& limits() const { return limits_; }

 private:
  ParseState end_start_line(const char* base, std::size_t i, bool is_request, ParseError& error);

  ParserLimits limits_;
  std::size_t start_ = 0;       // after skipped leading empty lines
  std::size_t scanned_ = 0;     // bytes checked so far
  std::size_t line_start_ = 0;  // where the line being scanned begins
  std::size_t end_ = 0;
  std::size_t first_line_end_ = 0;
  bool started_ = false;
};

class RequestParser {
 public:
  RequestParser(ParserLimits limits, std::span<HeaderField> field_storage)
      : scanner_(limits), storage_(field_storage) {}

  ParseState parse(std::string_view buffered);
  const RequestHead& head() const { return head_; }
  std::size_t head_bytes() const { return scanner_.head_end(); }  // includes skipped CRLFs
  ParseError error() const { return error_; }
  void reset();

 private:
  ParseState fail(int status, const char* reason);
  ParseState parse_head(std::string_view head);
  ParseState take_absolute_form(std::string_view& authority);

  HeadScanner scanner_;
  std::span<HeaderField> storage_;
  RequestHead head_;
  ParseError error_;
  ParseState state_ = ParseState::need_more;
};

class ResponseParser {
 public:
  ResponseParser(ParserLimits limits, std::span<HeaderField> field_storage)
      : scanner_(limits), storage_(field_storage) {}

  // `request_method` decides framing: a response to HEAD has no body.
  ParseState parse(std::string_view buffered, Method request_method);
  const ResponseHead& head() const { return head_; }
  std::size_t head_bytes() const { return scanner_.head_end(); }
  ParseError error() const { return error_; }
  void reset();

 private:
  ParseState fail(const char* reason);
  ParseState parse_head(std::string_view head, Method request_method);

  HeadScanner scanner_;
  std::span<HeaderField> storage_;
  ResponseHead head_;
  ParseError error_;
  ParseState state_ = ParseState::need_more;
};

// RFC 9110 §7.2: uri-host [ ":" port ], as a Host field (or HTTP/2's
// :authority) must be: no userinfo, path, query, white space or control
// character.
bool is_authority(std::string_view authority, bool port_required = false);

}  // namespace sluice::http
