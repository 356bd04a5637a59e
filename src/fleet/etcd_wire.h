// The text of etcd's JSON gateway, both ways: base64 for keys and values,
// JSON strings for requests, and a strict reader for its answers. Every
// answer is treated as hostile: a text that is not JSON, nests too deeply
// or holds a number or base64 that does not parse is refused, never
// guessed at.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace sluice::fleet::wire {

// RFC 4648 §4, with padding (what Go's encoding/json writes for []byte).
std::string base64_encode(std::string_view bytes);
// Strict: the standard alphabet, padding to a multiple of four, nothing
// else (no white space); nullopt otherwise.
std::optional<std::string> base64_decode(std::string_view text);

// `text` as a JSON string, quotes included (observe/json_text.h, the
// escaper every JSON writer of ours uses).
std::string json_string(std::string_view text);

// The first key after every key starting with `prefix` (etcd's range_end
// for a prefix): the prefix with its last byte below 0xff incremented and
// what follows dropped; "\0" (to the end of the keyspace) when there is
// none, as for an empty prefix.
std::string prefix_end(std::string_view prefix);

// A JSON value (RFC 8259) as read from etcd: strings decoded, numbers kept
// as their text, object members in order (etcd's objects are small: a
// member is found by looking at each).
struct Json {
  enum class Type : std::uint8_t { null, boolean, number, string, array, object };
  Type type = Type::null;
  bool boolean = false;
  std::string text;  // a string's bytes, or a number as written
  // An array's items; an object's member values, named by `names` in
  // the same order (not pairs: a pair needs Json complete, a vector of
  // Json does not, and clang holds to that).
  std::vector<Json> items;
  std::vector<std::string> names;

  // A member of an object; null when absent or when this is no object.
  const Json* get(std::string_view name) const;
};

// Nesting etcd's answers never exceed (a watch event is five levels deep).
inline constexpr int kMaxJsonDepth = 32;

// One JSON object, strictly by RFC 8259's grammar (no comments, no
// trailing commas, nothing after it, no raw control character in a
// string, surrogates paired), nested at most kMaxJsonDepth deep; nullopt
// and `error` otherwise. Written for etcd's answers rather than taken from
// yaml-cpp: a 1 MB range answer reads in a few ms instead of ~170 ms, and
// no YAML rule (anchors, tags, implicit types) applies to hostile bytes.
std::optional<Json> parse_json_object(std::string_view text, std::string& error);

// Members by name, each null-safe (`node` may be null). Proto3 JSON leaves
// out fields at their default, so an absent member is 0, "", false or an
// empty list; a member that is there but malformed is nullopt (or null).
const Json* member(const Json* node, const char* name);
std::optional<std::int64_t> int64_member(const Json* node, const char* name);
std::optional<std::string> bytes_member(const Json* node, const char* name);
std::optional<std::string> string_member(const Json* node, const char* name);
std::optional<bool> bool_member(const Json* node, const char* name);
// An array member's items (an empty list when absent); null when the
// member is there but not an array.
const std::vector<Json>* array_member(const Json* node, const char* name);

}  // namespace sluice::fleet::wire
