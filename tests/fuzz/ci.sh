#!/usr/bin/env bash
# The 'fuzz' suite's one test (meson test in the default build): configure
# a clang build dir for the fuzz targets if there is none (build-fuzz, or
# $VMM_FUZZ_BUILD), build them, replay every committed crasher in
# tests/fuzz/regressions/<target>/ and fuzz each target for a few seconds
# ($VMM_FUZZ_CI_SECONDS, default 8), starting from the seeds of
# tests/fuzz/seeds.py when they exist and the committed ones of
# tests/fuzz/seeds/<target>/ (inputs that reach deep paths at once). Exit 77 (SKIP) without clang or
# without libFuzzer's runtime (Debian: libclang-rt-14-dev).
set -uo pipefail
SRC=${VMM_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}
FZ=${VMM_FUZZ_BUILD:-$SRC/build-fuzz}
SECS=${VMM_FUZZ_CI_SECONDS:-8}
CACHE=${VMM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vmm}

tmp=$(mktemp -d "${TMPDIR:-/tmp}/vmm-fuzz-ci.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
skip() { echo "SKIP: $*"; exit 77; }

command -v clang >/dev/null || skip "clang is not installed (scripts/setup.sh installs it)"
printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return 0; }\n' >"$tmp/p.c"
clang -fsanitize=fuzzer,address,undefined "$tmp/p.c" -o "$tmp/p" 2>"$tmp/p.err" ||
	skip "clang cannot link -fsanitize=fuzzer,address,undefined (libclang-rt-14-dev missing?): $(head -c 200 "$tmp/p.err")"

if [ ! -f "$FZ/build.ninja" ]; then
	CC=clang meson setup "$FZ" "$SRC" -Dfuzz=true >"$tmp/setup.log" 2>&1 ||
		{ cat "$tmp/setup.log"; echo "FAIL: configuring $FZ"; exit 1; }
fi
start=$(date +%s)
ninja -C "$FZ" fuzz >"$tmp/build.log" 2>&1 || { tail -n 40 "$tmp/build.log"; echo "FAIL: building the fuzz targets"; exit 1; }
# Every target the build made (tests/fuzz/meson.build: one per device class and the rest).
TARGETS=$(find "$FZ/tests/fuzz" -maxdepth 1 -type f -perm -u+x -name 'fuzz-*' -printf '%f\n' | sed 's/^fuzz-//' | sort)
echo "built the $(echo $TARGETS | wc -w) fuzz targets in $FZ ($(( $(date +%s) - start )) s)"

fail=0
for t in $TARGETS; do
	exe=$FZ/tests/fuzz/fuzz-$t
	reg=$SRC/tests/fuzz/regressions/$t
	files=()
	[ -d "$reg" ] && mapfile -t files < <(find "$reg" -type f ! -name '*.md' | sort)
	if [ ${#files[@]} -gt 0 ]; then
		if "$exe" -runs=1 "${files[@]}" >"$tmp/$t.replay" 2>&1; then
			echo "ok $t: ${#files[@]} regression inputs replayed"
		else
			echo "FAIL $t: a regression input fails again"; tail -n 30 "$tmp/$t.replay"; fail=1
		fi
	fi
	corpus=$tmp/corpus-$t
	mkdir -p "$corpus" "$FZ/crashes/$t"
	seeds=$CACHE/fuzz/seeds/$t
	[ -d "$seeds" ] || seeds=
	kept=$SRC/tests/fuzz/seeds/$t
	[ -d "$kept" ] || kept=
	if "$exe" -max_total_time="$SECS" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
		-artifact_prefix="$FZ/crashes/$t/" "$corpus" ${seeds:+"$seeds"} ${kept:+"$kept"} ${files[0]:+"$reg"} \
		>"$tmp/$t.log" 2>&1; then
		echo "ok $t: $(grep -a 'DONE' "$tmp/$t.log" | tail -n 1 | sed 's/^#[0-9]*[[:space:]]*DONE[[:space:]]*//')"
	else
		echo "FAIL $t: the fuzzer found a crash (input kept in $FZ/crashes/$t/)"
		grep -a -E 'invariant broken|ERROR: |SUMMARY|^    #[0-9] ' "$tmp/$t.log" | head -n 25
		fail=1
	fi
done
echo "fuzz CI: $(( $(date +%s) - start )) s"
exit $fail
