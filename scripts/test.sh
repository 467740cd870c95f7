#!/usr/bin/env bash
# The README's second command: install, build, run every test suite, and
# print one summary line "N passed, N failed, N skipped".
# Tests that need /dev/kvm (or root) print SKIP with the reason where it is
# missing. Extra arguments go to `meson test` (e.g. --suite unit).
set -uo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh || exit 1
./scripts/build.sh || exit 1
BUILD=${VMM_BUILD:-build}
log=$(mktemp)
trap 'rm -f "$log"' EXIT
meson test -C "$BUILD" --print-errorlogs --num-processes 2 "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
count() { awk -v k="$1" '$1 == k":" {print $2; exit}' "$log"; }
ok=$(count Ok); fail=$(count Fail); to=$(count Timeout); skip=$(count Skipped)
echo "${ok:-0} passed, $(( ${fail:-0} + ${to:-0} )) failed, ${skip:-0} skipped"
exit "$rc"
