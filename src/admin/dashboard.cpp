#include "admin/dashboard.h"

#include <string>

namespace sluice::admin {
namespace {

constexpr std::string_view kPrefix = "/dashboard/";

std::string content_type_of(std::string_view name) {
  if (name.ends_with(".js")) return "text/javascript; charset=utf-8";
  if (name.ends_with(".css")) return "text/css; charset=utf-8";
  return "text/html; charset=utf-8";
}

// The fields every dashboard answer carries. The policy forbids inline
// script and style and anything from another origin; frame-ancestors
// keeps another site from framing the page to trick a click on Drain.
void add_page_fields(AdminResponse& r) {
  r.headers.emplace_back("Content-Security-Policy",
                         "default-src 'self'; base-uri 'none'; form-action 'none'; "
                         "frame-ancestors 'none'");
  r.headers.emplace_back("X-Content-Type-Options", "nosniff");
  r.headers.emplace_back("Referrer-Policy", "no-referrer");
  // The files change with the binary: a browser asks again each time.
  r.headers.emplace_back("Cache-Control", "no-cache");
}

}  // namespace

bool is_dashboard_path(std::string_view path) {
  return path == "/" || path == "/dashboard" || path.starts_with(kPrefix);
}

AdminResponse dashboard_file(std::string_view path) {
  const std::string_view name =
      path.starts_with(kPrefix) ? path.substr(kPrefix.size()) : std::string_view("index.html");
  for (const DashboardAsset& asset : dashboard_assets()) {
    if (asset.name != name) continue;
    AdminResponse r(200, content_type_of(name), std::string(asset.body));
    add_page_fields(r);
    return r;
  }
  return {404, "text/plain", "no such dashboard file; the page is at /dashboard\n"};
}

}  // namespace sluice::admin
