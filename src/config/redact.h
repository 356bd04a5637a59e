// What GET /config may show of a configuration's text. sluice reads its
// secrets from files (admin.token_file, access.basic_auth.htpasswd, TLS
// keys) and the file names are no secret; but an operator may write a
// credential inline as a header value (a headers middleware setting
// Authorization towards a backend, a route matching an API key). Those
// values are replaced, the rest of the text is kept byte for byte.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace sluice::config {

// The text shown instead of a secret value (valid YAML where it stands).
inline constexpr std::string_view kRedacted = "\"<redacted>\"";

// Whether a key names a secret wherever it stands: it holds "password",
// "passwd", "secret", "token" or "api-key"/"api_key"/"apikey" (any case);
// never a key ending in "_file" nor "htpasswd" (paths: admin.token_file).
bool names_secret(std::string_view key);
// Whether a header field of that name carries a credential: the above, or
// Authorization, Proxy-Authorization, Cookie, Set-Cookie.
bool is_credential_field(std::string_view name);

// `text` (YAML or JSON) with every scalar value of a key names_secret()
// accepts, and of a field is_credential_field() accepts in a map of header
// fields (under a key `set`, `add` or `headers`), replaced by kRedacted;
// `redacted` gets how many. Text that does not parse is returned whole (a
// configuration in force always parses).
std::string redact_secrets(std::string_view text, std::size_t* redacted = nullptr);

}  // namespace sluice::config
