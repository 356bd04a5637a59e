# HTTP/1 codec fuzz targets.
sluice_fuzz_target(h1_request SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/h1_request_fuzz.cpp LIBS sluice_http)
sluice_fuzz_target(h1_response SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/h1_response_fuzz.cpp LIBS sluice_http)
sluice_fuzz_target(chunked SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/chunked_fuzz.cpp LIBS sluice_http)
sluice_fuzz_target(body_decoder SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/body_decoder_fuzz.cpp LIBS sluice_http)
sluice_fuzz_target(h2_server SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/h2_server_fuzz.cpp LIBS sluice_http)
