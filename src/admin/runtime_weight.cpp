#include "admin/runtime_weight.h"

#include <spdlog/spdlog.h>
#include <charconv>

#include "balance/balancer.h"
#include "proxy/backend.h"

namespace sluice::admin {

std::optional<int> parse_weight(std::string_view body) {
  const auto first = body.find_first_not_of(" \t\r\n");
  if (first == std::string_view::npos) return std::nullopt;
  body = body.substr(first, body.find_last_not_of(" \t\r\n") - first + 1);
  // Digits only: from_chars alone would take "-0" and stop at "1x".
  if (body.size() > 3 || body.find_first_not_of("0123456789") != std::string_view::npos) {
    return std::nullopt;
  }
  int weight = 0;
  std::from_chars(body.data(), body.data() + body.size(), weight);
  if (weight > balance::Balancer::kMaxWeight) return std::nullopt;
  return weight;
}

std::variant<WeightChange, AdminResponse> parse_weight_change(std::string_view target,
                                                              std::string_view body) {
  auto names = parse_server_path(target, "weight");
  if (auto* answer = std::get_if<AdminResponse>(&names)) return std::move(*answer);
  const std::optional<int> weight = parse_weight(body);
  if (!weight) {
    return AdminResponse(400, "text/plain",
                         "the body must be a weight: an integer from 0 (no new requests) to 256\n");
  }
  return WeightChange{std::move(std::get<ServerPath>(names)), *weight};
}

AdminResponse apply_weight_change(const WeightChange& change, proxy::Server& server) {
  return change_server(change.where, server, [&](const proxy::Backend& up, int s) {
    const balance::Balancer& b = *up.balancer;
    const int was = b.weight_of(s);
    b.set_weight(s, change.weight);
    spdlog::warn(
        "backend '{}' server {}: weight {} (was {}; {} in the configuration), by the "
        "admin API",
        change.where.backend, change.where.server, change.weight, was, b.spec(s).weight);
    return AdminResponse(200, "application/json", server_json(up, s) + "\n");
  });
}

AdminResponse change_weight(std::string_view target, std::string_view body, proxy::Server& server) {
  const auto change = parse_weight_change(target, body);
  if (const auto* answer = std::get_if<AdminResponse>(&change)) return *answer;
  return apply_weight_change(std::get<WeightChange>(change), server);
}

}  // namespace sluice::admin
