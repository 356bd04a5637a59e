# The request path normaliser: every routed path goes through it.
sluice_fuzz_target(path_normalizer SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/path_normalizer_fuzz.cpp
  ${PROJECT_SOURCE_DIR}/src/route/path_normalizer.cpp)
