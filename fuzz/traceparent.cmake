# W3C traceparent, read from every client's request when tracing is on.
sluice_fuzz_target(traceparent SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/traceparent_fuzz.cpp
  LIBS sluice_observe)
