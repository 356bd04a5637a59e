#!/usr/bin/env bash
# Installs the Debian packages sluice needs, only when some are missing.
# Usage: scripts/install-deps.sh [build|test|bench|fuzz|package]...   (default: build test)
# Idempotent and quiet when everything is present.
set -euo pipefail

build_pkgs=(g++ cmake ninja-build pkg-config ccache
  libssl-dev libnghttp2-dev libre2-dev libyaml-dev libyaml-cpp-dev libcli11-dev
  libspdlog-dev libfmt-dev libgtest-dev libgmock-dev libbenchmark-dev
  zlib1g-dev libbrotli-dev libzstd-dev libhiredis-dev libcrypt-dev)
test_pkgs=(curl openssl testssl.sh nghttp2-client apache2-utils wrk python3 python3-grpcio iproute2 nginx-light haproxy redis-server redis-tools gzip brotli zstd chromium prometheus dpkg-dev file etcd-server etcd-client)
bench_pkgs=(wrk openssl nginx-light haproxy apache2-utils python3 util-linux nghttp2-client linux-perf strace valgrind)
fuzz_pkgs=(clang libclang-rt-14-dev)
# make deb: CPack computes Depends with dpkg-shlibdeps.
package_pkgs=(dpkg-dev file)

groups=("$@")
[ ${#groups[@]} -gt 0 ] || groups=(build test)

wanted=()
for g in "${groups[@]}"; do
  case "$g" in
    build) wanted+=("${build_pkgs[@]}") ;;
    test) wanted+=("${test_pkgs[@]}") ;;
    bench) wanted+=("${bench_pkgs[@]}") ;;
    fuzz) wanted+=("${fuzz_pkgs[@]}") ;;
    package) wanted+=("${package_pkgs[@]}") ;;
    *) echo "install-deps: unknown group '$g' (expected build, test, bench, fuzz or package)" >&2; exit 2 ;;
  esac
done

missing=()
for p in "${wanted[@]}"; do
  status=$(dpkg-query -W -f='${Status}' "$p" 2>/dev/null || true)
  [ "$status" = "install ok installed" ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "install-deps: installing ${missing[*]}" >&2
sudo=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "install-deps: need root (or sudo) to install: ${missing[*]}" >&2; exit 1; }
  sudo=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
# nginx and haproxy are only used as benchmark peers started by hand: keep
# their packaged services from starting.
policy_rc=/usr/sbin/policy-rc.d
made_policy=0
if [ ! -e "$policy_rc" ]; then
  printf '#!/bin/sh\nexit 101\n' | "${sudo[@]}" tee "$policy_rc" >/dev/null
  "${sudo[@]}" chmod +x "$policy_rc"
  made_policy=1
fi
trap '[ $made_policy -eq 1 ] && "${sudo[@]}" rm -f "$policy_rc"' EXIT
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
