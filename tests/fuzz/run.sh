#!/usr/bin/env bash
# tests/fuzz/run.sh SECONDS [TARGET...]: fuzz every target (or the ones
# named) for SECONDS each, two at a time (this machine has 2 cores), and
# print per target: execs/s, edges covered (libFuzzer's cov:), corpus size
# and crashes. Corpora persist in $VMM_CACHE/fuzz/corpus/<target> (default
# ~/.cache/vmm), start from tests/fuzz/seeds.py's seeds and the committed
# regressions, and crash inputs land in $VMM_CACHE/fuzz/crashes/<target>/.
# Builds build-fuzz (or $VMM_FUZZ_BUILD) with clang first if needed.
set -uo pipefail
SRC=$(cd "$(dirname "$0")/../.." && pwd)
FZ=${VMM_FUZZ_BUILD:-$SRC/build-fuzz}
CACHE=${VMM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vmm}
JOBS=${VMM_FUZZ_JOBS:-2}
SECS=${1:?usage: run.sh SECONDS [TARGET...]}
shift
TARGETS=$*

if [ ! -f "$FZ/build.ninja" ]; then
	CC=clang meson setup "$FZ" "$SRC" -Dfuzz=true >/dev/null || exit 1
fi
ninja -C "$FZ" fuzz >/dev/null || ninja -C "$FZ" fuzz || exit 1
# No names: every target the build made (one per device class and the rest).
[ -n "$TARGETS" ] || TARGETS=$(find "$FZ/tests/fuzz" -maxdepth 1 -type f -perm -u+x -name 'fuzz-*' \
	-printf '%f\n' | sed 's/^fuzz-//' | sort)
[ -d "$CACHE/fuzz/seeds" ] || echo "run.sh: no seeds yet (tests/fuzz/seeds.py makes them); starting from regressions" >&2

run_one() {
	local t=$1 corpus=$CACHE/fuzz/corpus/$1 crashes=$CACHE/fuzz/crashes/$1
	local seeds=$CACHE/fuzz/seeds/$1 reg=$SRC/tests/fuzz/regressions/$1 dirs=()
	mkdir -p "$corpus" "$crashes" "$CACHE/fuzz/logs"
	[ -d "$seeds" ] && dirs+=("$seeds")
	[ -d "$reg" ] && dirs+=("$reg")
	[ -d "$SRC/tests/fuzz/seeds/$t" ] && dirs+=("$SRC/tests/fuzz/seeds/$t")
	"$FZ/tests/fuzz/fuzz-$t" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 \
		-print_final_stats=1 -artifact_prefix="$crashes/" "$corpus" "${dirs[@]}" \
		>"$CACHE/fuzz/logs/$t.log" 2>&1
	echo "$?" >"$CACHE/fuzz/logs/$t.rc"
}
export -f run_one
export FZ CACHE SECS SRC
before=$(mktemp)
trap 'rm -f "$before"' EXIT
touch "$before"
sleep 1
printf '%s\n' $TARGETS | xargs -P "$JOBS" -I{} bash -c 'run_one {}'

printf '%-16s %10s %8s %8s %10s %8s\n' target execs/s edges corpus "runs" crashes
for t in $TARGETS; do
	log=$CACHE/fuzz/logs/$t.log
	last=$(grep -a -E '^#[0-9]+' "$log" | tail -n 1)
	runs=$(awk '/stat::number_of_executed_units/ {print $2}' "$log")
	[ -n "$runs" ] || runs=$(sed -n 's/^#\([0-9]*\).*/\1/p' <<<"$last")
	eps=$(sed -n 's/.*exec\/s: \([0-9]*\).*/\1/p' <<<"$last")
	cov=$(sed -n 's/.*cov: \([0-9]*\).*/\1/p' <<<"$last")
	corp=$(find "$CACHE/fuzz/corpus/$t" -type f | wc -l)
	new=$(find "$CACHE/fuzz/crashes/$t" -type f -newer "$before" | wc -l)
	[ "$(cat "$CACHE/fuzz/logs/$t.rc")" = 0 ] || [ "$new" -gt 0 ] || new="rc=$(cat "$CACHE/fuzz/logs/$t.rc")"
	printf '%-16s %10s %8s %8s %10s %8s\n' "$t" "${eps:-?}" "${cov:-?}" "$corp" "${runs:-?}" "$new"
done
echo "($SECS s per target, $JOBS at a time; logs in $CACHE/fuzz/logs, crashes in $CACHE/fuzz/crashes)"
