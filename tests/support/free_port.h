// A loopback port the kernel has just handed out and nothing listens on:
// for tests that must name a port before anything binds it (a server
// address in a config, a port where connects are refused).
#pragma once

#include <cstdint>

namespace sluice::test {

std::uint16_t free_loopback_port();

}  // namespace sluice::test
