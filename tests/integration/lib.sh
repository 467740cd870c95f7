# Helpers for the integration tests (bash; sourced, not run).
#
# Environment (set by meson.build):
#   VMM_MONITOR   path to vmm-monitor
#   GUEST_DIR     directory holding the test guests: <name>.elf, hello.bzImage
#   VMM_TIMEOUT   seconds before a monitor run counts as hung (default 30)
#
# A case function calls run_vm (or run_monitor) and then expect_* helpers;
# the first failed expectation prints what was wanted, the captured
# stdout/stderr, and exits 1. Exit 77 means skipped (meson's convention).

set -u

: "${VMM_TIMEOUT:=30}"

TMP=$(mktemp -d "${TMPDIR:-/tmp}/vmm-it.XXXXXX") || exit 1
trap 'rm -rf "$TMP"' EXIT
OUT=$TMP/stdout
ERR=$TMP/stderr
STATUS=

skip() {
	echo "SKIP: $*"
	exit 77
}

# KVM must exist and open read-write for anything that runs a guest.
need_kvm() {
	[ -e /dev/kvm ] || skip "/dev/kvm does not exist"
	( exec 3<>/dev/kvm ) 2>/dev/null || skip "/dev/kvm cannot be opened read-write"
}

need_guest() {
	local f=$GUEST_DIR/$1
	[ -f "$f" ] || { echo "missing test guest $f"; exit 1; }
}

guest() {
	echo "$GUEST_DIR/$1"
}

# dump: the failed command, its status, the ends of its stdout and stderr,
# what became of its device processes, and the end of each file named in
# DUMP_FILES (a test's own logs).
dump() {
	echo "---- command: ${CMD:-?}"
	echo "---- exit status: ${STATUS:-?}"
	echo "---- stdout:"
	cat -v "$OUT" 2>/dev/null | tail -n 80
	echo "---- stderr:"
	cat -v "$ERR" 2>/dev/null | tail -n 40
	echo "---- what happened to device processes (stderr):"
	grep -aE 'vmm-monitor: device [a-z0-9-]+ \(' "$ERR" 2>/dev/null | tail -n 16
	for f in ${DUMP_FILES:-}; do
		echo "---- ${f##*/}:"
		tail -n 20 "$f" 2>/dev/null
	done
	echo "----"
}

# threads_dump PID: where every thread of PID and of its children is (state,
# CPU, kernel wait channel, system call, kernel stack).
threads_dump() {
	local p t
	for p in "$1" $(pgrep -P "$1" 2>/dev/null); do
		echo "---- pid $p: $(tr '\0' ' ' <"/proc/$p/cmdline" 2>/dev/null | cut -c1-100)"
		for t in /proc/"$p"/task/*; do
			[ -r "$t/stat" ] || continue
			echo "  tid ${t##*/} $(cut -d' ' -f2,3 "$t/stat" 2>/dev/null) cpu $(cut -d' ' -f39 "$t/stat" 2>/dev/null)" \
				"wchan $(cat "$t/wchan" 2>/dev/null) syscall $(cut -d' ' -f1-3 "$t/syscall" 2>/dev/null)"
			sed -n '1,6s/^/      /p' "$t/stack" 2>/dev/null
		done
	done
}

# kill_hung PID: a hung monitor, killed after its threads are printed, so
# that an intermittent hang leaves its evidence.
kill_hung() {
	threads_dump "$1"
	kill -9 "$1" 2>/dev/null
}

fail() {
	echo "FAIL: $*"
	dump
	exit 1
}

# run_monitor ARGS...: run vmm-monitor with stdin from /dev/null (or from
# $STDIN if set), under a timeout; sets STATUS, OUT, ERR.
run_monitor() {
	CMD="$VMM_MONITOR $*"
	STATUS=0
	timeout --kill-after=5 "$VMM_TIMEOUT" "$VMM_MONITOR" "$@" \
		<"${STDIN:-/dev/null}" >"$OUT" 2>"$ERR" || STATUS=$?
	if [ "$STATUS" = 124 ] || [ "$STATUS" = 137 ]; then
		fail "monitor still running after ${VMM_TIMEOUT}s (killed)"
	fi
	return 0
}

# run_vm GUEST ARGS...: boot guest file GUEST (a name in GUEST_DIR) with
# extra monitor arguments.
run_vm() {
	local g=$1
	shift
	need_kvm
	need_guest "$g"
	run_monitor --kernel "$(guest "$g")" "$@"
}

expect_status() {
	[ "$STATUS" = "$1" ] || fail "exit status $STATUS, expected $1${2:+ ($2)}"
}

# Guest stdout must hold the line exactly.
expect_line() {
	grep -aqxF -- "$1" "$OUT" || fail "no line \"$1\" on stdout"
}

# Guest stdout must match the extended regex somewhere.
expect_out() {
	grep -aqE -- "$1" "$OUT" || fail "stdout does not match /$1/"
}

expect_no_fail() {
	if grep -aq '^FAIL' "$OUT"; then
		fail "guest reported failures: $(grep -a '^FAIL' "$OUT" | head -n 5 | tr '\n' '|')"
	fi
}

# The guest ran to its verdict: "PASS <name>", no FAIL line, status 0.
expect_pass() {
	expect_no_fail
	expect_line "PASS $1"
	expect_status 0 "guest powered off"
}

# stderr is exactly one line, matching the case-insensitive regex.
expect_one_error_line() {
	local n
	n=$(grep -c '' "$ERR")
	[ "$n" = 1 ] || fail "expected one line on stderr, got $n"
	grep -qiE -- "$1" "$ERR" || fail "stderr does not match /$1/ (case-insensitive)"
}

expect_err() {
	grep -qiE -- "$1" "$ERR" || fail "stderr does not match /$1/ (case-insensitive)"
}

# Bad input: status 2, one line on stderr matching the regex.
expect_usage_error() {
	expect_status 2 "bad command line or input"
	expect_one_error_line "$1"
}

ok() {
	echo "ok: $*"
	exit 0
}

# FNV-1a 32 of a file, as 8 hex digits (matches the initrd guest).
fnv1a32() {
	local h=2166136261 b
	for b in $(od -An -v -tu1 "$1"); do
		h=$(( ((h ^ b) * 16777619) & 0xffffffff ))
	done
	printf '%08x\n' "$h"
}

# ---- A VM in the background --------------------------------------------

MON_PID=

# wait_for_out TEXT SECONDS: TEXT appears on the background VM's stdout.
wait_for_out() {
	local i
	for ((i = 0; i < $2 * 20; i++)); do
		grep -aqF -- "$1" "$OUT" && return 0
		kill -0 "$MON_PID" 2>/dev/null || fail "monitor exited before \"$1\""
		sleep 0.05
	done
	kill_hung "$MON_PID"
	fail "no \"$1\" within $2 s"
}

# wait_for_err REGEX [SECONDS]: the background VM's stderr matches REGEX
# (extended, case-insensitive) within SECONDS (default 15).
wait_for_err() {
	local i
	for ((i = 0; i < ${2:-15} * 20; i++)); do
		grep -aqiE -- "$1" "$ERR" && return 0
		kill -0 "$MON_PID" 2>/dev/null || fail "monitor exited before stderr matched /$1/: $(tail -n 3 "$ERR")"
		sleep 0.05
	done
	kill_hung "$MON_PID"
	fail "stderr did not match /$1/ within ${2:-15} s: $(tail -n 3 "$ERR")"
}

# start_uart_guest ARGS...: the uart guest in the background, stdin a FIFO
# held open on fd 3; returns once it waits for input (every device is up
# and the serial device is being polled). Sets MON_PID.
start_uart_guest() {
	need_kvm
	need_guest uart.elf
	mkfifo "$TMP/in"
	CMD="$VMM_MONITOR --kernel uart.elf $*"
	"$VMM_MONITOR" --kernel "$(guest uart.elf)" --cmdline "uart_wait=60" "$@" \
		<"$TMP/in" >"$OUT" 2>"$ERR" &
	MON_PID=$!
	exec 3>"$TMP/in"
	wait_for_out "uart: waiting for input" 15
}

# wait_pid PID: wait (at most 10 s) for PID to exit; sets STATUS.
wait_pid() {
	local i
	for ((i = 0; i < 200; i++)); do
		kill -0 "$1" 2>/dev/null || break
		sleep 0.05
	done
	if kill -0 "$1" 2>/dev/null; then
		kill_hung "$1"
		fail "monitor still running 10 s later"
	fi
	STATUS=0
	wait "$1" || STATUS=$?
}

# wait_monitor: the background VM ends; sets STATUS, closes its stdin.
wait_monitor() {
	wait_pid "$MON_PID"
	exec 3>&-
}

# dispatch "$@": run case function case_<name> for argument <name>, with
# dashes mapped to underscores.
dispatch() {
	local name=${1:-}
	[ -n "$name" ] || { echo "usage: $0 CASE"; exit 1; }
	[ -n "${VMM_MONITOR:-}" ] || { echo "VMM_MONITOR not set"; exit 1; }
	[ -x "$VMM_MONITOR" ] || { echo "VMM_MONITOR=$VMM_MONITOR is not executable"; exit 1; }
	name=case_${name//-/_}
	declare -F "$name" >/dev/null || { echo "unknown case $1"; exit 1; }
	"$name"
}
