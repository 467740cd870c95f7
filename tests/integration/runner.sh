#!/bin/bash
# scripts/kvm-machine.sh, the emulated machine (forced with --emulated, so
# that it is tested on any host). One case per meson test: runner.sh CASE.
. "$(dirname "$0")/lib.sh"

RUNNER=$(cd "$(dirname "$0")/../../scripts" && pwd)/kvm-machine.sh

run_runner() {
	CMD="kvm-machine.sh $*"
	STATUS=0
	"$RUNNER" "$@" </dev/null >"$OUT" 2>"$ERR" || STATUS=$?
}

# The command's exit status, directory, environment (VMM_* carried, odd
# characters intact), a real /dev/kvm with kvm-amd, its own /tmp, and the
# emulated kernel's modules loadable.
case_status_env() {
	local dir=$TMP/work
	mkdir -p "$dir" && cd "$dir" || fail "mkdir"
	echo host-file >"$dir/seen"
	VMM_RUNNER_TEST='a b$c "d"' run_runner --emulated bash -c '
		echo "cwd=$PWD"; echo "var=$VMM_RUNNER_TEST"; cat seen
		[ -c /dev/kvm ] && echo kvm=yes; grep -q "^kvm_amd " /proc/modules && echo kvm_amd=yes
		modprobe tun && [ -c /dev/net/tun ] && echo tun=yes
		[ -n "$VMM_MACHINE" ] && echo machine=yes
		[ "$(cat <(echo fd))" = fd ] && echo procsubst=yes
		exit 7'
	expect_status 7 "the command's own status"
	expect_line "cwd=$dir"
	expect_line 'var=a b$c "d"'
	expect_line host-file
	expect_line kvm=yes
	expect_line kvm_amd=yes
	expect_line tun=yes
	expect_line machine=yes
	expect_line procsubst=yes
	ok "status 7 passed through; directory, environment, /dev/kvm, kvm_amd, modprobe tun, <(...)"
}

# A machine still running at the deadline is killed: 124 and one message.
case_deadline() {
	run_runner --emulated --timeout 3 sleep 600
	expect_status 124 "deadline"
	expect_err 'did not finish within 3 s and was killed'
	pgrep -f "qemu-system-x86_64 .*vmm.stage2=" >/dev/null && fail "a QEMU is left running"
	ok "killed at the deadline with status 124"
}

# A machine that shows no sign of life (here: its counter switched off) is
# killed after VMM_MACHINE_STALL s as stopped running: 125, which
# scripts/test.sh takes for the machine's failure and runs the tests again.
case_stall() {
	local t0=$SECONDS t1
	VMM_MACHINE_STALL=45 VMM_MACHINE_TEST_NO_HEARTBEAT=1 run_runner --emulated --timeout 240 sleep 600
	t1=$((SECONDS - t0))
	expect_status 125 "a machine with no sign of life"
	expect_err 'stopped running \(no sign of life for 45 s\) and was killed'
	pgrep -f "qemu-system-x86_64 .*vmm.stage2=" >/dev/null && fail "a QEMU is left running"
	[ "$t1" -lt 110 ] || fail "it took $t1 s, not about 45"
	# The allowance covers the boot too, which a busy host (fuzzing beside
	# this test) can stretch past 45 s: 75 s here, and a run longer than that.
	VMM_MACHINE_STALL=75 run_runner --emulated --timeout 240 sleep 85
	expect_status 0 "a live machine outlives the stall allowance"
	ok "no sign of life for 45 s: killed, status 125, after $t1 s; a live one ran 85 s, past a 75 s allowance"
}

case_usage() {
	run_runner --cpus 0 true
	expect_status 2 "bad --cpus"
	run_runner --bogus true
	expect_status 2 "unknown option"
	run_runner --where
	expect_status 0 "--where"
	grep -qE '^(native|emulated: .+)$' "$OUT" || fail "--where printed: $(cat "$OUT")"
	ok "bad options: status 2; --where: $(cat "$OUT")"
}

dispatch "$@"
