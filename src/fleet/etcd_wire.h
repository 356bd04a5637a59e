// The text of etcd's JSON gateway, both ways: base64 for keys and values,
// JSON strings for requests, and a guarded reading of its answers. Every
// answer is treated as hostile: a text that is not JSON-shaped, nests too
// deeply or holds a number or base64 that does not parse is refused, never
// guessed at.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace sluice::fleet::wire {

// RFC 4648 §4, with padding (what Go's encoding/json writes for []byte).
std::string base64_encode(std::string_view bytes);
// Strict: the standard alphabet, padding to a multiple of four, nothing
// else (no white space); nullopt otherwise.
std::optional<std::string> base64_decode(std::string_view text);

// `text` as a JSON string, quotes included (RFC 8259 §7).
std::string json_string(std::string_view text);

// The first key after every key starting with `prefix` (etcd's range_end
// for a prefix): the prefix with its last byte below 0xff incremented and
// what follows dropped; "\0" (to the end of the keyspace) when there is
// none, as for an empty prefix.
std::string prefix_end(std::string_view prefix);

// Nesting etcd's answers never exceed (a watch event is five levels deep).
inline constexpr int kMaxJsonDepth = 32;

// One JSON text as a node tree, or nullopt (and `error`) when it is not a
// JSON object: characters outside strings must be JSON's own (so no YAML
// anchor, alias, tag or comment reaches the YAML reader), nesting is
// bounded, and whatever yaml-cpp throws is caught.
std::optional<YAML::Node> parse_json_object(std::string_view text, std::string& error);

// A member of an object; an undefined node when `node` is not an object
// or has no such member. Never throws.
YAML::Node member(const YAML::Node& node, const char* name);

// Proto3 JSON leaves out fields at their default, so an absent member is
// 0, "", false. A member that is there but malformed is nullopt.
std::optional<std::int64_t> int64_member(const YAML::Node& node, const char* name);
std::optional<std::string> bytes_member(const YAML::Node& node, const char* name);
std::optional<std::string> string_member(const YAML::Node& node, const char* name);
std::optional<bool> bool_member(const YAML::Node& node, const char* name);

}  // namespace sluice::fleet::wire
