#!/usr/bin/env bash
# make install: the files land under DESTDIR/PREFIX where an operator and
# systemd look for them, the unit names the installed binary and
# configuration, the example configuration is valid, and an existing
# configuration survives another install.
# Usage: install_test.sh BUILD_DIR SOURCE_DIR
set -euo pipefail
build=$1
source=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() {
  echo "FAIL: $*" >&2
  exit 1
}
install_into() {  # DESTDIR PREFIX
  DESTDIR="$1" cmake --install "$build" --prefix "$2" >"$tmp/install.log" 2>&1 ||
    { cat "$tmp/install.log"; fail "cmake --install --prefix $2 failed"; }
}

# The default prefix, /usr/local.
root=$tmp/root
install_into "$root" /usr/local
for f in bin/sluice lib/systemd/system/sluice.service etc/sluice/sluice.yaml \
  share/doc/sluice/README.md share/doc/sluice/operations.md share/doc/sluice/config.md \
  share/doc/sluice/examples/sluice.socket; do
  [ -f "$root/usr/local/$f" ] || fail "make install did not place usr/local/$f"
done
[ -x "$root/usr/local/bin/sluice" ] || fail "bin/sluice is not executable"
unit=$root/usr/local/lib/systemd/system/sluice.service
for line in 'Type=notify' 'NotifyAccess=all' 'ExecReload=/bin/kill -HUP $MAINPID' \
  'ExecStart=/usr/local/bin/sluice run -c /usr/local/etc/sluice/sluice.yaml'; do
  grep -qxF "$line" "$unit" || fail "the installed unit lacks: $line"
done
"$root/usr/local/bin/sluice" check -c "$root/usr/local/etc/sluice/sluice.yaml" ||
  fail "the installed example configuration does not pass sluice check"

# Installing again keeps the operator's configuration.
echo "# edited by the operator" >>"$root/usr/local/etc/sluice/sluice.yaml"
install_into "$root" /usr/local
[ "$(tail -n 1 "$root/usr/local/etc/sluice/sluice.yaml")" = "# edited by the operator" ] ||
  fail "a second install replaced an existing configuration"
grep -q "Kept: .*sluice.yaml" "$tmp/install.log" || fail "the install did not say it kept the configuration"

# PREFIX=/usr: the configuration goes to /etc (FHS), the unit says so.
install_into "$tmp/usr" /usr
[ -f "$tmp/usr/etc/sluice/sluice.yaml" ] || fail "PREFIX=/usr did not place /etc/sluice/sluice.yaml"
grep -qxF 'ExecStart=/usr/bin/sluice run -c /etc/sluice/sluice.yaml' \
  "$tmp/usr/usr/lib/systemd/system/sluice.service" || fail "PREFIX=/usr: wrong ExecStart"

# The Makefile target passes PREFIX and DESTDIR through. `-o build`: it
# installs what is built and never starts a build in the middle of a test run.
make -s -o build -C "$source" install BUILD="$build" PREFIX=/opt/sluice DESTDIR="$tmp/make" \
  >"$tmp/make.log" 2>&1 || { cat "$tmp/make.log"; fail "make install failed"; }
[ -x "$tmp/make/opt/sluice/bin/sluice" ] || fail "make install PREFIX=/opt/sluice DESTDIR=... did not place bin/sluice"
[ -f "$tmp/make/opt/sluice/etc/sluice/sluice.yaml" ] || fail "make install did not place etc/sluice/sluice.yaml"

# systemd's own check of the unit, where systemd-analyze can run at all
# (it needs no running systemd, but some containers refuse it): the unit
# installed under a real prefix, so that ExecStart names a file that exists.
if command -v systemd-analyze >/dev/null; then
  printf '[Service]\nExecStart=/bin/true\n' >"$tmp/probe.service"
  if systemd-analyze verify "$tmp/probe.service" >/dev/null 2>&1; then
    install_into "" "$tmp/real"
    systemd-analyze verify "$tmp/real/lib/systemd/system/sluice.service" ||
      fail "systemd-analyze verify rejects the unit"
  else
    echo "systemd-analyze verify does not run here: unit not verified"
  fi
fi
echo "install layout ok"
