# etcd's JSON gateway answers: every byte from etcd is hostile.
sluice_fuzz_target(etcd_wire SOURCES ${CMAKE_CURRENT_SOURCE_DIR}/etcd_wire_fuzz.cpp
  ${PROJECT_SOURCE_DIR}/src/fleet/etcd_wire.cpp ${PROJECT_SOURCE_DIR}/src/observe/json_text.cpp)
