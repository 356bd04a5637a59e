// Text from outside (paths, names, header values, configuration, etcd) as
// it goes into JSON and into log lines: the one escaper every writer uses
// (access logs, OTLP spans, the admin API, requests to etcd), so that none
// writes invalid JSON or lets a byte forge a line. No dependencies.
#pragma once

#include <string>
#include <string_view>

namespace sluice::observe {

// Appends `s` as a JSON string's contents (without the quotes): '"', '\'
// and control characters escaped, well-formed UTF-8 kept as it is, a byte
// that is not UTF-8 written as \u00XX (RFC 8259 §8.1: JSON text is UTF-8).
void append_json_escaped_utf8(std::string& out, std::string_view s);
// `s` as a whole JSON string, quotes included.
std::string json_quoted(std::string_view s);
// Appends `s` with control characters, '"', '\' and bytes that are not
// UTF-8 written as \xNN (text log lines; also the non-ASCII line breaks).
void append_text_escaped(std::string& out, std::string_view s);

}  // namespace sluice::observe
