#!/usr/bin/env bash
# Fails when a file under src/ includes a folder at its own level or above
# (docs/architecture.md lists the levels). CMake's per-folder libraries catch
# most such includes at link time; this catches them at the include line.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
level() {
  case "$1" in
    core) echo 0 ;;
    http|config|tls) echo 1 ;;
    route|balance|observe) echo 2 ;;
    middleware) echo 3 ;;
    proxy) echo 4 ;;
    fleet) echo 5 ;;
    admin) echo 6 ;;
    *) echo 9 ;;
  esac
}
status=0
while IFS= read -r file; do
  dir=${file#"$root"/src/}
  dir=${dir%%/*}
  [ "$dir" = "main.cpp" ] && continue
  mine=$(level "$dir")
  while IFS= read -r inc; do
    target=${inc%%/*}
    [ "$target" = "$dir" ] && continue
    theirs=$(level "$target")
    if [ "$theirs" -ge "$mine" ]; then
      echo "layering: ${file#"$root"/} includes \"$inc\" ($target is L$theirs, $dir is L$mine)"
      status=1
    fi
  done < <(grep -hoE '^#include "[a-z_]+/[^"]+"' "$file" | sed -E 's/#include "([^"]+)"/\1/')
done < <(find "$root/src" -name '*.h' -o -name '*.cpp' | sort)
[ $status -eq 0 ] && echo "layering: ok"
exit $status
