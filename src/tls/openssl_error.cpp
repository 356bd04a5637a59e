#include "tls/openssl_error.h"

#include <openssl/err.h>

namespace sluice::tls {

std::string take_openssl_errors() {
  std::string out;
  unsigned long code = 0;
  while ((code = ERR_get_error()) != 0) {
    const char* reason = ERR_reason_error_string(code);
    if (!out.empty()) out += "; ";
    if (reason != nullptr) {
      out += reason;
    } else {
      char text[256];
      ERR_error_string_n(code, text, sizeof text);
      out += text;
    }
  }
  return out;
}

}  // namespace sluice::tls
