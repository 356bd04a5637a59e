# The PROXY protocol header, read before any byte on listeners that expect it.
sluice_fuzz_target(proxy_protocol SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/proxy_protocol_fuzz.cpp
  LIBS sluice_http)
