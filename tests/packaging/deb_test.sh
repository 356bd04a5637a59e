#!/usr/bin/env bash
# make deb: the package holds the binary, the unit, the example
# configuration (as a conffile) and the docs, and depends on the libraries
# the binary links. Builds the package from the binary already built.
# Usage: deb_test.sh BUILD_DIR
set -euo pipefail
build=$1
# CPack needs `file` to find the binaries whose libraries become Depends.
for tool in cpack dpkg-deb dpkg-shlibdeps file; do
  command -v "$tool" >/dev/null || { echo "$tool is not installed: skipped"; exit 77; }
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
cpack -G DEB --config "$build/CPackConfig.cmake" -B "$tmp/out" >"$tmp/cpack.log" 2>&1 ||
  { cat "$tmp/cpack.log"; fail "cpack -G DEB failed"; }
debs=("$tmp"/out/*.deb)
[ -f "${debs[0]}" ] || { cat "$tmp/cpack.log"; fail "no .deb produced"; }
deb=${debs[0]}

contents=$(dpkg-deb -c "$deb")
for f in ./usr/bin/sluice ./usr/lib/systemd/system/sluice.service ./etc/sluice/sluice.yaml \
  ./usr/share/doc/sluice/operations.md ./usr/share/doc/sluice/examples/sluice.socket; do
  grep -q " $f\$" <<<"$contents" || { echo "$contents"; fail "the package lacks $f"; }
done

info=$(dpkg-deb -I "$deb")
depends=$(dpkg-deb -f "$deb" Depends)
for lib in libc6 libssl3 libstdc++6; do
  grep -q "$lib" <<<"$depends" || { echo "$info"; fail "Depends lacks $lib: '$depends'"; }
done
dpkg-deb -e "$deb" "$tmp/control"
grep -qxF /etc/sluice/sluice.yaml "$tmp/control/conffiles" ||
  fail "/etc/sluice/sluice.yaml is not a conffile"

# What it installs works: the unit names it, the example passes a check.
dpkg-deb -x "$deb" "$tmp/root"
grep -qxF 'ExecStart=/usr/bin/sluice run -c /etc/sluice/sluice.yaml' \
  "$tmp/root/usr/lib/systemd/system/sluice.service" || fail "the packaged unit's ExecStart is wrong"
"$tmp/root/usr/bin/sluice" check -c "$tmp/root/etc/sluice/sluice.yaml" ||
  fail "the packaged example configuration does not pass sluice check"
echo "deb ok: $(basename "$deb"), Depends: $depends"
