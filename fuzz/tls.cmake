# The ClientHello reader: the first bytes of every SNI-routed TLS connection.
sluice_fuzz_target(client_hello SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/client_hello_fuzz.cpp
  LIBS sluice_tls)
