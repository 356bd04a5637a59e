// Must not compile: iequals_literal's constant has an uppercase letter,
// which could never match (http/token.h checks it when compiling). Built
// by the test IequalsLiteral.AConstantWithAnUppercaseLetterDoesNotCompile.
#include "http/token.h"

bool names_content_length(std::string_view name) {
#ifdef SLUICE_LOWERCASE_CONTROL
  return sluice::http::iequals_literal<"content-length">(name);
#else
  return sluice::http::iequals_literal<"Content-Length">(name);
#endif
}
