// Spans as an OTLP/HTTP JSON export request
// (https://opentelemetry.io/docs/specs/otlp/#json-protobuf-encoding):
// resourceSpans -> scopeSpans -> spans, ids in hex (not base64, as the JSON
// mapping requires), 64-bit numbers as decimal strings, enums as integers.
// Attributes follow the OpenTelemetry HTTP server conventions.
#pragma once

#include <string>
#include <string_view>

#include "observe/span.h"

namespace sluice::observe {

// Builds one ExportTraceServiceRequest: begin, append each span, finish.
class OtlpJsonWriter {
 public:
  // `out` is cleared and receives the document.
  OtlpJsonWriter(std::string& out, std::string_view service_name);
  void append(const Span& span);
  // Closes the document; `out` then holds valid JSON.
  void finish();
  std::size_t spans() const { return spans_; }

 private:
  std::string& out_;
  std::size_t spans_ = 0;
};

}  // namespace sluice::observe
