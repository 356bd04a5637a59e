// Top-level `tracing` (docs/config.md, "tracing"): W3C trace context taken
// part in (traceparent read, ours sent on, one created when absent) and,
// optionally, spans exported to an OpenTelemetry collector (OTLP/HTTP JSON).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

namespace sluice::config {

struct Otlp {
  std::string endpoint;  // as written: http://host:port/path
  std::string host;      // without brackets
  std::uint16_t port = 80;
  std::string path = "/v1/traces";
  std::uint32_t batch = 512;                       // spans per POST at most
  std::uint32_t queue = 2048;                      // spans waiting, over all workers
  std::chrono::milliseconds flush_interval{5000};  // a partial batch waits at most this long
  std::chrono::milliseconds timeout{10000};        // connecting and each POST

  friend bool operator==(const Otlp&, const Otlp&) = default;
};

struct Tracing {
  // Probability that a trace sluice starts is sampled; a traceparent
  // received keeps its caller's decision.
  double sample = 1.0;
  std::string service_name = "sluice";  // resource attribute service.name
  std::optional<Otlp> otlp;             // absent: ids are propagated, nothing is exported
};

}  // namespace sluice::config
