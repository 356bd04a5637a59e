// etcd's JSON gateway answers (fleet/etcd_wire.h), whatever the bytes: the
// strict JSON reader never crashes, and what it accepts, written out again,
// reads back to the same value; every accessor copes with every member;
// base64 of any bytes decodes to those bytes; a JSON string we write of
// ASCII text reads back to that text.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>

#include "fleet/etcd_wire.h"

namespace {

using sluice::fleet::wire::Json;

// The value as JSON text (numbers as read, strings by json_string).
void write(const Json& v, std::string& out) {
  switch (v.type) {
    case Json::Type::null:
      out += "null";
      return;
    case Json::Type::boolean:
      out += v.boolean ? "true" : "false";
      return;
    case Json::Type::number:
      out += v.text;
      return;
    case Json::Type::string:
      out += sluice::fleet::wire::json_string(v.text);
      return;
    case Json::Type::array:
      out += '[';
      for (std::size_t i = 0; i < v.items.size(); ++i) {
        if (i > 0) out += ',';
        write(v.items[i], out);
      }
      out += ']';
      return;
    case Json::Type::object:
      out += '{';
      for (std::size_t i = 0; i < v.names.size(); ++i) {
        if (i > 0) out += ',';
        out += sluice::fleet::wire::json_string(v.names[i]);
        out += ':';
        write(v.items[i], out);
      }
      out += '}';
      return;
  }
}

// Every accessor on every member of every object, at any depth.
void touch(const Json& v) {
  for (const std::string& name : v.names) {
    (void)sluice::fleet::wire::int64_member(&v, name.c_str());
    (void)sluice::fleet::wire::bytes_member(&v, name.c_str());
    (void)sluice::fleet::wire::string_member(&v, name.c_str());
    (void)sluice::fleet::wire::bool_member(&v, name.c_str());
    (void)sluice::fleet::wire::array_member(&v, name.c_str());
  }
  for (const Json& item : v.items)
    touch(item);
}

void check_json(std::string_view text) {
  std::string error;
  const auto parsed = sluice::fleet::wire::parse_json_object(text, error);
  if (!parsed) {
    if (error.empty()) std::abort();  // a refusal says why
    return;
  }
  touch(*parsed);
  std::string again;
  write(*parsed, again);
  std::string error2;
  const auto reparsed = sluice::fleet::wire::parse_json_object(again, error2);
  if (!reparsed) std::abort();
  std::string third;
  write(*reparsed, third);
  if (third != again) std::abort();
}

void check_base64(std::string_view bytes) {
  const std::string encoded = sluice::fleet::wire::base64_encode(bytes);
  const auto decoded = sluice::fleet::wire::base64_decode(encoded);
  if (!decoded || *decoded != bytes) std::abort();
  (void)sluice::fleet::wire::base64_decode(bytes);  // hostile text: refused or read, never a crash
}

void check_string(std::string_view bytes) {
  for (char c : bytes) {
    if (static_cast<unsigned char>(c) >= 0x80) return;  // ASCII only: UTF-8 is the reader's rule
  }
  const std::string doc = "{\"v\":" + sluice::fleet::wire::json_string(bytes) + "}";
  std::string error;
  const auto parsed = sluice::fleet::wire::parse_json_object(doc, error);
  if (!parsed) std::abort();
  const auto v = sluice::fleet::wire::string_member(&*parsed, "v");
  if (!v || *v != bytes) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string_view text(reinterpret_cast<const char*>(data), size);
  check_json(text);
  check_base64(text);
  check_string(text);
  return 0;
}
