#!/usr/bin/env bash
# Runs every libFuzzer target for a bounded time:
#   fuzz/run.sh BUILD_FUZZ_DIR SECONDS [NAME...]   (names: only those targets)
# Each target gets its seed corpus fuzz/corpus/NAME/ and, when there is one,
# the dictionary fuzz/NAME.dict (tokens of its syntax: methods, field names,
# CRLF, chunk extensions, PROXY signatures), which libFuzzer splices in.
set -euo pipefail
dir=$1; seconds=${2:-60}
only=("${@:3}")
root=$(cd "$(dirname "$0")" && pwd)
# Undefined behaviour is a finding like a crash: stop at the first report.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
status=0
for corpus in "$root"/corpus/*/; do
  name=$(basename "$corpus")
  if [ ${#only[@]} -gt 0 ] && ! printf '%s\n' "${only[@]}" | grep -qx "$name"; then continue; fi
  bin="$dir/$name"
  [ -x "$bin" ] || { echo "fuzz: no binary for $name" >&2; status=1; continue; }
  work=$(mktemp -d)
  dict=()
  [ -f "$root/$name.dict" ] && dict=(-dict="$root/$name.dict")
  echo "== $name for ${seconds}s${dict:+ with $(basename "${dict[0]#-dict=}")}"
  mkdir -p "$root/artifacts"
  if ! "$bin" "$work" "$corpus" "${dict[@]}" -max_total_time="$seconds" -print_final_stats=1 \
       -artifact_prefix="$root/artifacts/$name-" 2>"$work.log"; then
    tail -40 "$work.log"; status=1
  else
    # Runs, coverage (cov: edges, ft: features) and corpus at the end.
    grep -E '^#[0-9]+[[:space:]]+DONE|stat::number_of_executed_units|stat::average_exec_per_sec' "$work.log"
  fi
  rm -rf "$work" "$work.log"
done
exit $status
