# The configuration loader takes whatever bytes are in the file.
sluice_fuzz_target(config_load SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/config_load_fuzz.cpp LIBS sluice_config)
