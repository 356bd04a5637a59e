# The compress middleware's Accept-Encoding negotiation: every request
# header of a compressing route goes through it.
sluice_fuzz_target(accept_encoding SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/accept_encoding_fuzz.cpp
  ${PROJECT_SOURCE_DIR}/src/middleware/accept_encoding.cpp)
