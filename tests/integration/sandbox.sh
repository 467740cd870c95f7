#!/bin/bash
# The device sandbox (--sandbox strict|log|off, sandbox/). One case per meson
# test: sandbox.sh CASE.
#
# The forbidden-* cases run the monitor with VMM_DEVPROC pointing at
# vmm-devproc-test ($VMM_DEVPROC_TEST), a test-only build of vmm-devproc
# (-DVMM_TEST_HOOKS) that, right after READY, attempts the operation named by
# $VMM_TEST_ATTEMPT in the device of class $VMM_TEST_CLASS. The production
# vmm-devproc has no such code. Under --sandbox strict every attempt must
# stop that device, the monitor must name the device, class, pid and
# syscall, exit with status 1 itself (not killed), and leave no process.

. "$(dirname "$0")/lib.sh"

# Every attempt and the syscall the monitor must name for it.
ATTEMPTS="openat:openat socket:socket execve:execve ptrace:ptrace mmap-exec:mmap kill:kill
	  ftruncate:ftruncate"

# ---- Modes on real guests ----

case_strict_hello() {
	run_vm hello.elf --devices process --sandbox strict
	expect_pass hello
	ok "hello passes with --sandbox strict"
}

# Log mode reports every syscall outside a profile: none for this workload.
case_log_hello() {
	run_vm hello.elf --sandbox log -v
	expect_pass hello
	grep -q "is not in its profile" "$ERR" && fail "a syscall outside a profile in log mode"
	expect_err 'sandbox log: [0-9]+ syscalls \(profile serial\), Landlock ABI'
	ok "hello passes with --sandbox log and no syscall outside the profiles"
}

case_log_disks() {
	truncate -s 1M "$TMP/a.img" "$TMP/b.img" || fail "truncate"
	run_vm pci.elf --sandbox log --cmdline "expect_pci_functions=5" \
		--disk "path=$TMP/a.img" --disk "path=$TMP/b.img,readonly=on" \
		--console "out=$TMP/console.out"
	grep -q "is not in its profile" "$ERR" && fail "a syscall outside a profile in log mode"
	expect_pass pci
	ok "virtio-blk, virtio-console and virtio-rng start under --sandbox log, nothing reported"
}

case_off_hello() {
	run_vm hello.elf --sandbox off
	expect_pass hello
	[ "$(grep -c 'warning: --sandbox off' "$ERR")" = 1 ] || fail "not one --sandbox off warning"
	ok "--sandbox off: guest passes, one warning line"
}

# inproc devices live in the monitor: nothing to confine, so strict|log are refused.
case_inproc_strict() {
	need_guest hello.elf
	run_monitor --kernel "$(guest hello.elf)" --devices inproc --sandbox strict
	expect_usage_error 'inproc.*cannot confine'
	ok "--devices inproc --sandbox strict: status 2, one line"
}

case_inproc_log() {
	need_guest hello.elf
	run_monitor --kernel "$(guest hello.elf)" --sandbox log --devices inproc
	expect_usage_error 'inproc.*cannot confine'
	ok "--devices inproc --sandbox log: status 2, one line"
}

# ---- Profiles ----

# Every class: at most 28 syscalls (SANDBOX_MAX_SYSCALLS), a reason on every rule; the production
# binary carries no test hook.
case_print_profile() {
	local dp=$VMM_DEVPROC_BIN c n
	[ -x "$dp" ] || fail "VMM_DEVPROC_BIN not set or not executable"
	for c in serial rtc i8042 acpi_pm virtio-blk virtio-rng virtio-console; do
		CMD="$dp --print-profile $c"
		"$dp" --print-profile "$c" >"$OUT" 2>"$ERR" || fail "--print-profile $c failed"
		n=$(sed -n "s/^profile $c: \([0-9]*\) syscalls.*/\1/p" "$OUT")
		[ -n "$n" ] && [ "$n" -le 28 ] || fail "$c: syscall count \"$n\" not 1..28"
		[ "$(awk -v c="$c" '($2 == "base" || $2 == c) && !/ # [a-zA-Z]/' "$OUT" | wc -l)" = 0 ] ||
			fail "$c: a rule without a reason"
		grep -q '^  mmap .*prot without PROT_EXEC' "$OUT" || fail "$c: mmap not limited"
	done
	CMD="$dp --print-profile bogus"
	STATUS=0
	"$dp" --print-profile bogus >"$OUT" 2>"$ERR" || STATUS=$?
	expect_status 2 "unknown class"
	grep -q VMM_TEST_ATTEMPT "$dp" && fail "the production vmm-devproc contains the test hook"
	grep -q VMM_TEST_ATTEMPT "$VMM_DEVPROC_TEST" || fail "vmm-devproc-test lacks the test hook"
	ok "7 profiles of at most 25 syscalls, each rule with a reason; no hook in vmm-devproc"
}

# ---- What /proc shows of a confined device ----

# The status field $1 must match the extended regex $2 (after the tab), in
# $status (/proc/PID/status, read once: a slow machine spawns slowly, and
# the guest waits for the test's keystroke only so long).
expect_status_field() {
	[[ $status =~ (^|$'\n')$1:[[:space:]]+$2($'\n'|$) ]] ||
		fail "pid $pid: $1 does not match /$2/ in: $(grep "^$1:" <<<"$status")"
}

check_confined() {
	local pid=$1 ns z=0000000000000000 status limits task ntasks nproc
	limits=$(<"/proc/$pid/limits") || fail "pid $pid: no /proc/$pid/limits"
	ntasks=0
	# Every thread (virtio-blk has I/O threads) is confined alike.
	for task in /proc/$pid/task/*; do
		status=$(<"$task/status") || fail "pid $pid: no $task/status"
		expect_status_field Seccomp 2
		expect_status_field NoNewPrivs 1
		for f in CapInh CapPrm CapEff CapBnd CapAmb; do
			expect_status_field "$f" "$z"
		done
		expect_status_field Uid "65534[[:space:]]+65534[[:space:]]+65534[[:space:]]+65534"
		expect_status_field Gid "65534[[:space:]]+65534[[:space:]]+65534[[:space:]]+65534"
		ntasks=$((ntasks + 1))
	done
	status=$(<"/proc/$pid/status")
	expect_status_field NSpid "$pid[[:space:]]+1"
	for ns in user mnt pid net ipc uts; do
		local mine theirs
		mine=$(readlink "/proc/$MON_PID/ns/$ns") || fail "monitor: no $ns namespace link"
		theirs=$(readlink "/proc/$pid/ns/$ns") || fail "pid $pid: no $ns namespace link (exited?)"
		[ "$theirs" != "$mine" ] || fail "pid $pid shares the monitor's $ns namespace"
	done
	[ -z "$(ls -A "/proc/$pid/root/")" ] || fail "pid $pid: its root is not empty"
	# No new process or thread: 0 without threads, else exactly the ones it has.
	nproc=$(( ntasks > 1 ? ntasks : 0 ))
	[[ $limits =~ $'\n'"Max processes"\ +$nproc\ +$nproc\  ]] ||
		fail "pid $pid ($ntasks threads): RLIMIT_NPROC not $nproc"
	[[ $limits =~ $'\n'"Max core file size"\ +0\ +0\  ]] || fail "pid $pid: RLIMIT_CORE not 0"
	[[ $limits =~ $'\n'"Max open files"\ +([0-9]|1[0-9])\  ]] || fail "pid $pid: RLIMIT_NOFILE not small"
	THREADS=$((THREADS + ntasks))
}

# Every device process of a strict VM: seccomp filter, no_new_privs, no
# capabilities, uid 65534, its own namespaces and an empty root.
case_proc_status() {
	local pids pid n=0
	THREADS=0
	truncate -s 1M "$TMP/d.img"
	start_uart_guest --disk "path=$TMP/d.img,aio=threads"
	pids=$(pgrep -P "$MON_PID" -f -- "--vm vm$MON_PID\$") || fail "no device processes of the monitor"
	for pid in $pids; do
		check_confined "$pid"
		n=$((n + 1))
	done
	[ "$n" -ge 6 ] || fail "only $n device processes"
	[ "$THREADS" -gt "$n" ] || fail "no device process has threads (virtio-blk with aio=threads should)"
	printf Z >&3
	wait_monitor
	expect_status 0
	expect_line "PASS uart"
	ok "$n device processes, $THREADS threads: Seccomp 2, NoNewPrivs 1, no capabilities, uid 65534, own namespaces, empty root, NPROC = their threads"
}

# ---- Forbidden operations, per class ----

# run_attempt CLASS ATTEMPT MONITOR-ARGS...: the monitor runs with its own
# pid in VMM_TEST_MONITOR_PID (the target of kill and ptrace).
run_attempt() {
	local class=$1 what=$2
	shift 2
	CMD="VMM_TEST_CLASS=$class VMM_TEST_ATTEMPT=$what vmm-monitor $*"
	STATUS=0
	VMM_DEVPROC=$VMM_DEVPROC_TEST VMM_TEST_CLASS=$class VMM_TEST_ATTEMPT=$what \
		timeout --kill-after=5 "$VMM_TIMEOUT" bash -c \
		'export VMM_TEST_MONITOR_PID=$$; echo $$ >"$0.pid"; exec "$@"' "$TMP/mon" \
		"$VMM_MONITOR" "$@" </dev/null >"$OUT" 2>"$ERR" || STATUS=$?
	MON_PID=$(cat "$TMP/mon.pid")
}

forbidden_case() {
	local class=$1 id=$2 a what sys left
	shift 2
	need_kvm
	need_guest hello.elf
	[ -x "${VMM_DEVPROC_TEST:-}" ] || fail "VMM_DEVPROC_TEST not set or not executable"
	for a in $ATTEMPTS; do
		what=${a%%:*}
		sys=${a#*:}
		run_attempt "$class" "$what" --kernel "$(guest hello.elf)" "$@"
		expect_status 1 "the device failed; the monitor itself exits"
		expect_err "device $id \\(class $class, pid [0-9]+\\) was stopped by its sandbox: forbidden syscall $sys \\("
		left=$(pgrep -f -- "--vm vm$MON_PID\$" || true)
		[ -z "$left" ] || fail "$what: device processes left: $left"
	done
	ok "$class: openat, socket, execve, ptrace, mmap(PROT_EXEC), kill, ftruncate each stop the device, named by the monitor"
}

# --device-restart-violations: a device its sandbox stopped is replaced too
# (here each replacement makes the same forbidden call, as the test build
# does at every start), until --device-restart's limit stops the VM.
case_violation_restart() {
	need_kvm
	need_guest uart.elf
	[ -x "${VMM_DEVPROC_TEST:-}" ] || fail "VMM_DEVPROC_TEST not set or not executable"
	run_attempt rtc openat --kernel "$(guest uart.elf)" --cmdline uart_wait=60 \
		--device-restart 2 --device-restart-violations
	expect_status 1 "past the restart limit"
	[ "$(grep -acE 'device rtc0 \(class rtc, pid [0-9]+\) was stopped by its sandbox: forbidden syscall openat \([0-9]+\) \(.*\): replaced by pid' "$ERR")" = 2 ] ||
		fail "not replaced twice after its violations: $(grep -a 'rtc0' "$ERR" | tail -n 3)"
	expect_err "device rtc0 \\(class rtc, pid [0-9]+\\) was stopped by its sandbox: forbidden syscall openat .*; not replaced: 2 restarts in the last minute \\(--device-restart 2\\)"
	ok "--device-restart-violations: a device stopped by its sandbox was replaced twice, then the limit stopped the VM"
}

case_forbidden_serial() { forbidden_case serial serial0; }
case_forbidden_rtc() { forbidden_case rtc rtc0; }
case_forbidden_i8042() { forbidden_case i8042 i8042-0; }
case_forbidden_acpi_pm() { forbidden_case acpi_pm acpi_pm0; }
case_forbidden_virtio_rng() { forbidden_case virtio-rng virtio-rng0; }
case_forbidden_virtio_blk() {
	truncate -s 1M "$TMP/a.img" || fail "truncate"
	forbidden_case virtio-blk virtio-blk0 --disk "path=$TMP/a.img"
}
case_forbidden_virtio_console() {
	forbidden_case virtio-console virtio-console0 --console "out=$TMP/console.out"
}
# virtio-net's tap lives in a network namespace of the case's own. Its one
# ioctl request (TUNSETOFFLOAD) runs; another (TUNSETIFF) stops the device.
case_forbidden_virtio_net() {
	need_kvm
	[ "$(id -u)" = 0 ] || skip "needs root for a network namespace and a tap"
	if [ -z "${VMM_IN_NETNS:-}" ]; then
		modprobe tun 2>/dev/null
		[ -c /dev/net/tun ] || skip "no /dev/net/tun in this kernel"
		rm -rf "$TMP"
		VMM_IN_NETNS=1 exec unshare --net -- bash "$0" forbidden-virtio-net
	fi
	ip tuntap add vmmf0 mode tap || fail "cannot make a tap"
	run_attempt virtio-net tap-offload --kernel "$(guest hello.elf)" --net tap=vmmf0
	expect_pass hello
	expect_err "test attempt tap-offload returned 0 "
	run_attempt virtio-net tap-setiff --kernel "$(guest hello.elf)" --net tap=vmmf0
	expect_status 1 "the device failed; the monitor itself exits"
	expect_err "device virtio-net0 \\(class virtio-net, pid [0-9]+\\) was stopped by its sandbox: forbidden syscall ioctl \\("
	forbidden_case virtio-net virtio-net0 --net tap=vmmf0
}

# virtio-vsock reaches host programs only through its broker: connecting
# or accepting on a socket it holds, or shutting its reading side, stops it
# (socket() itself is in the usual attempts).
case_forbidden_virtio_vsock() {
	local a
	need_kvm
	need_guest hello.elf
	for a in unix-connect:connect unix-accept:accept4 shutdown-read:shutdown; do
		VMM_TEST_UNIX_PATH=$TMP/v.sock_1 run_attempt virtio-vsock "${a%%:*}" \
			--kernel "$(guest hello.elf)" --vsock "cid=3,socket=$TMP/v.sock"
		expect_status 1 "the device failed; the monitor itself exits"
		expect_err "device virtio-vsock0 \\(class virtio-vsock, pid [0-9]+\\) was stopped by its sandbox: forbidden syscall ${a#*:} \\("
		[ ! -e "$TMP/v.sock" ] || fail "${a%%:*}: $TMP/v.sock is left behind"
	done
	forbidden_case virtio-vsock virtio-vsock0 --vsock "cid=3,socket=$TMP/v.sock"
}

# A device class holds what its descriptor says and no more: guest RAM only
# where the class uses it; an event its class does not post is refused and
# costs the device its life (a compromised serial process cannot power the
# VM off as if the guest had asked).
case_class_least_privilege() {
	need_kvm
	need_guest hello.elf
	run_attempt serial guest-ram --kernel "$(guest hello.elf)"
	expect_pass hello
	expect_err "test attempt guest-ram returned 0 \\(success\\)"
	run_attempt virtio-rng guest-ram --kernel "$(guest hello.elf)"
	expect_pass hello
	expect_err "test attempt guest-ram returned 1 \\(success\\)"
	run_attempt serial log-flood --kernel "$(guest hello.elf)"
	expect_pass hello
	n=$(grep -ac "flood line" "$ERR")
	[ "$n" -ge 1 ] && [ "$n" -le 100 ] || fail "$n of 1000 flooded log lines reached the user"
	expect_err "serial0\\]: [0-9]+ log lines dropped \\(more than 50 a second\\)"
	run_attempt serial event-poweroff --kernel "$(guest hello.elf)"
	expect_status 1 "the device failed; the monitor itself exits"
	expect_err "device serial0 \\(class serial, pid [0-9]+\\) posted event 2, which its class does not; killed"
	run_attempt serial stderr --kernel "$(guest hello.elf)"
	expect_pass hello
	expect_err "test attempt stderr returned 29 \\(success\\)"
	! grep -aq "forged line" "$ERR" || fail "a device's own stderr reached the user"
	ok "serial maps no guest RAM, virtio-rng does; serial posting poweroff is killed, the VM fails; a device's stderr reaches nobody"
}

# A compromised virtio-blk process cannot grow its image or allocate past its
# end: RLIMIT_FSIZE is the image's size, and the only fallocate modes its
# filter allows are those the kernel holds to that limit (KEEP_SIZE would
# allocate past the end without growing the file, which FSIZE does not see).
case_disk_bounds() {
	local a blocks0 blocks
	need_kvm
	need_guest hello.elf
	truncate -s 1M "$TMP/a.img" || fail "truncate"
	blocks0=$(stat -c %b "$TMP/a.img")
	for a in pwrite-past-end fallocate-past-end; do
		run_attempt virtio-blk "$a" --kernel "$(guest hello.elf)" --disk "path=$TMP/a.img"
		expect_pass hello
		expect_err "test attempt $a returned -1 \\(File too large\\)"
	done
	run_attempt virtio-blk fallocate-keep-size --kernel "$(guest hello.elf)" --disk "path=$TMP/a.img"
	expect_status 1 "the device failed; the monitor itself exits"
	expect_err "device virtio-blk0 \\(class virtio-blk, pid [0-9]+\\) was stopped by its sandbox: forbidden syscall fallocate \\("
	[ "$(stat -c %s "$TMP/a.img")" = 1048576 ] || fail "the image's size changed: $(stat -c %s "$TMP/a.img")"
	blocks=$(stat -c %b "$TMP/a.img")
	[ "$blocks" = "$blocks0" ] || fail "blocks allocated to the image: $blocks0 before, $blocks after"
	ok "virtio-blk: pwrite and fallocate past the image's end get EFBIG, fallocate KEEP_SIZE stops the device; the image has its size and blocks"
}

# A device cannot take the host's memory: RLIMIT_AS and RLIMIT_DATA are what
# it holds once confined plus a few MiB (its profile's mem_headroom_mib).
case_memory_limits() {
	local class a
	need_kvm
	need_guest hello.elf
	truncate -s 1M "$TMP/a.img" || fail "truncate"
	for class in serial virtio-blk; do
		for a in mmap-1g brk-1g; do
			run_attempt "$class" "$a" --kernel "$(guest hello.elf)" --disk "path=$TMP/a.img"
			expect_pass hello
			expect_err "test attempt $a returned -1 \\(Cannot allocate memory\\)"
		done
	done
	run_monitor -v --kernel "$(guest hello.elf)" --disk "path=$TMP/a.img"
	expect_pass hello
	expect_err "serial0\\]: sandbox strict: .*, address space [0-9]+ MiB, data [0-9]+ MiB;"
	ok "serial and virtio-blk: 1 GiB by mmap or brk gets ENOMEM, the guest goes on; -v names the limits"
}

# Log mode lets the attempt through (reported, named) and the guest goes on;
# the layers under seccomp still hold: the root is empty, the memfd sealed.
case_log_attempts() {
	need_kvm
	need_guest hello.elf
	run_attempt serial openat --kernel "$(guest hello.elf)" --sandbox log
	expect_pass hello
	expect_err "device serial0 \\(class serial, pid [0-9]+\\): sandbox log: syscall openat \\(257\\) is not in its profile; allowed"
	expect_err "test attempt openat returned -1 \\(No such file or directory\\)"
	run_attempt serial ftruncate --kernel "$(guest hello.elf)" --sandbox log
	expect_pass hello
	expect_err "test attempt ftruncate returned -1 \\(Operation not permitted\\)"
	ok "log mode: reported and run; the empty root and the memfd seals still stop them"
}


# ---- The monitor's own confinement (monitor/confine.h) ----

# Both thread profiles print, each rule with a reason, at most 40 syscalls;
# the production monitor carries no test hook.
case_monitor_print_profile() {
	local t n
	for t in main vcpu; do
		run_monitor --print-profile "$t"
		expect_status 0
		n=$(sed -n "s/^profile $t: \([0-9]*\) syscalls.*/\1/p" "$OUT")
		[ -n "$n" ] && [ "$n" -le 40 ] || fail "$t: syscall count \"$n\" not 1..40"
		[ "$(awk -v t="$t" '$2 == t && !/ # [a-zA-Z]/' "$OUT" | wc -l)" = 0 ] ||
			fail "$t: a rule without a reason"
		grep -q '^  mmap .*prot without PROT_EXEC' "$OUT" || fail "$t: mmap not limited"
		grep -qE '^  (execve|clone|clone3|fork|socket|connect) ' "$OUT" && fail "$t: may start processes or make sockets"
		eval "n_$t=$n"
	done
	grep -q "fd == its own vCPU's && request == KVM_RUN" "$OUT" || fail "vcpu: KVM_RUN not limited to its own fd"
	run_monitor --print-profile bogus
	expect_usage_error 'print-profile'
	grep -q VMM_TEST_MONITOR_ATTEMPT "$VMM_MONITOR" && fail "the production vmm-monitor contains the test hook"
	grep -q VMM_TEST_MONITOR_ATTEMPT "$VMM_MONITOR_TEST" || fail "vmm-monitor-test lacks the test hook"
	ok "main $n_main syscalls, vcpu $n_vcpu, each rule with a reason; no hook in vmm-monitor"
}

# Every thread of a running strict monitor has its filter; the spawner is its child.
case_monitor_proc_status() {
	local task status n=0 names="" sp
	start_uart_guest --cpus 2 -v
	for task in /proc/$MON_PID/task/*; do
		status=$(<"$task/status") || fail "no $task/status"
		pid=$MON_PID expect_status_field Seccomp 2
		pid=$MON_PID expect_status_field NoNewPrivs 1
		names="$names $(<"$task/comm")"
		n=$((n + 1))
	done
	[ "$n" = 3 ] || fail "$n threads, expected 3 (main, vcpu0, vcpu1):$names"
	sp=$(pgrep -P "$MON_PID" -x vmm-spawner) || fail "no vmm-spawner child of the monitor"
	printf Z >&3
	wait_monitor
	expect_status 0
	expect_line "PASS uart"
	expect_err 'sandbox strict: monitor threads: main [0-9]+ syscalls, vcpu0..1 [0-9]+ syscalls each'
	kill -0 "$sp" 2>/dev/null && fail "the spawner outlived the monitor"
	ok "monitor threads$names: Seccomp 2, NoNewPrivs 1; spawner pid $sp gone with it"
}

# run_monitor_attempt THREAD WHAT MONITOR-ARGS...: vmm-monitor-test with the attempt.
run_monitor_attempt() {
	local thread=$1 what=$2
	shift 2
	[ -x "${VMM_MONITOR_TEST:-}" ] || fail "VMM_MONITOR_TEST not set or not executable"
	CMD="VMM_TEST_MONITOR_ATTEMPT=$thread:$what vmm-monitor-test $*"
	STATUS=0
	VMM_TEST_MONITOR_ATTEMPT=$thread:$what timeout --kill-after=5 "$VMM_TIMEOUT" \
		bash -c 'echo $$ >"$0.pid"; exec "$@"' "$TMP/mon" \
		"$VMM_MONITOR_TEST" "$@" </dev/null >"$OUT" 2>"$ERR" || STATUS=$?
	MON_PID=$(cat "$TMP/mon.pid")
}

# Each attempt in thread $1 stops the monitor (status 159), named with the
# thread and syscall, and no process of the VM is left.
monitor_forbidden_case() {
	local thread=$1 a what sys left
	shift
	need_kvm
	need_guest hello.elf
	for a in open-write:openat socket:socket execve:execve fork:clone ptrace:ptrace \
		 mmap-exec:mmap kvm-ioctl:ioctl; do
		what=${a%%:*}
		sys=${a#*:}
		run_monitor_attempt "$thread" "$what" --kernel "$(guest hello.elf)" "$@"
		expect_status 159 "$what: the monitor stops itself"
		expect_err "^vmm-monitor: thread $thread made a forbidden syscall $sys \\([0-9]+\\): the monitor stops"
		grep -q "vmm-monitor-test: thread" "$ERR" && fail "$what: the attempt returned"
		for ((i = 0; i < 100; i++)); do
			left=$(pgrep -f -- "--vm vm$MON_PID\$"; pgrep -P "$MON_PID" || true)
			[ -z "$left" ] && break
			sleep 0.05
		done
		[ -z "$left" ] || fail "$what: processes left: $left"
	done
	ok "thread $thread: write-open, socket, execve, fork, ptrace, mmap(PROT_EXEC), a KVM ioctl each stop the monitor with status 159, named"
}

case_monitor_forbidden_main() { monitor_forbidden_case main; }
case_monitor_forbidden_vcpu() { monitor_forbidden_case vcpu1 --cpus 2; }

# A read-only open passes seccomp (for /proc) but Landlock refuses any other file.
case_monitor_landlock() {
	local t
	need_kvm
	need_guest hello.elf
	for t in main vcpu0; do
		run_monitor_attempt "$t" openat --kernel "$(guest hello.elf)"
		expect_status 0
		expect_pass hello
		expect_err "^vmm-monitor-test: thread $t: openat returned -1 \\(Permission denied\\)"
	done
	ok "open(/etc/passwd) in main and vcpu0: Permission denied (Landlock); the guest passes"
}

# Log mode reports a thread's syscall outside its profile once and runs it.
case_monitor_log() {
	need_kvm
	need_guest hello.elf
	run_monitor_attempt vcpu0 socket --kernel "$(guest hello.elf)" --sandbox log
	expect_status 0
	expect_pass hello
	expect_err "^vmm-monitor: sandbox log: thread vcpu0: syscall socket \\([0-9]+\\) is not in its profile; allowed"
	expect_err "^vmm-monitor-test: thread vcpu0: socket returned [0-9]+ \\(no error\\)"
	ok "--sandbox log: vcpu0's socket() reported and run; the guest passes"
}

dispatch "$@"
