// The dashboard: one page on the admin listener (GET / or /dashboard) with
// its script and style sheet (GET /dashboard/NAME). It reads what the other
// endpoints answer (/status, /backends, /routes, /metrics) every second or
// two, and drains or enables a server with the bearer token the operator
// types into it. The files live in src/admin/dashboard/ and are built into
// the binary (dashboard/embed.cmake): no CDN, nothing read at run time.
//
// Every answer carries Content-Security-Policy: default-src 'self', so the
// page runs no inline script and loads nothing from elsewhere: a name in
// the configuration that smuggles markup stays text (the script writes
// names with textContent only) and could not fetch or run anything if it
// did not.
#pragma once

#include <string_view>
#include <vector>

#include "admin/endpoints.h"

namespace sluice::admin {

struct DashboardAsset {
  std::string_view name;  // its file name in src/admin/dashboard/
  std::string_view body;
};

// Every file of the dashboard (generated: dashboard_assets.cpp).
const std::vector<DashboardAsset>& dashboard_assets();

// Whether `path` is the page's or one of its files'.
bool is_dashboard_path(std::string_view path);

// The page or file at `path` (is_dashboard_path), or 404.
AdminResponse dashboard_file(std::string_view path);

}  // namespace sluice::admin
