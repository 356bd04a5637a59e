# The whole proxy: raw client bytes through a running sluice (one worker,
# the real session and exchange code) to a scripted backend, in one process.
sluice_fuzz_target(proxy SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/proxy_fuzz.cpp
  LIBS sluice_proxy spdlog::spdlog)
