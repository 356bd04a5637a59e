# Runs at install time (cmake --install, `make install`, CPack), when the
# prefix is known: `cmake --install --prefix DIR` overrides the configured
# one. Places the systemd unit, naming the installed binary and
# configuration, and the example configuration unless one is there already.
# Set by the install rule before this script: SLUICE_PACKAGING_DIR (the
# sources), SLUICE_SCRATCH_DIR (build-tree space for the generated unit).
set(prefix "${CMAKE_INSTALL_PREFIX}")
# /usr's configuration lives in /etc (FHS); another prefix keeps its own
# etc/, as /usr/local/etc.
if(prefix STREQUAL "/usr")
  set(confdir "/etc/sluice")
else()
  set(confdir "${prefix}/etc/sluice")
endif()

file(READ "${SLUICE_PACKAGING_DIR}/sluice.service" unit)
string(REPLACE "/usr/bin/sluice" "${prefix}/bin/sluice" unit "${unit}")
string(REPLACE "/usr/share/doc/sluice" "${prefix}/share/doc/sluice" unit "${unit}")
string(REPLACE "/etc/sluice" "${confdir}" unit "${unit}")
# In a directory of its own: two installs at once (make install beside
# make deb) must not install each other's unit.
string(RANDOM LENGTH 12 scratch)
set(scratch "${SLUICE_SCRATCH_DIR}/unit-${scratch}")
file(WRITE "${scratch}/sluice.service" "${unit}")
# file(INSTALL) puts $DESTDIR in front and records the file in the manifest.
file(INSTALL DESTINATION "${prefix}/lib/systemd/system" TYPE FILE
     FILES "${scratch}/sluice.service")
file(REMOVE_RECURSE "${scratch}")

# An operator's configuration is never replaced (dpkg has its own rule for
# a conffile: it asks).
if(EXISTS "$ENV{DESTDIR}${confdir}/sluice.yaml")
  message(STATUS "Kept: $ENV{DESTDIR}${confdir}/sluice.yaml (an existing configuration is not replaced)")
else()
  file(INSTALL DESTINATION "${confdir}" TYPE FILE
       FILES "${SLUICE_PACKAGING_DIR}/sluice.yaml")
endif()
