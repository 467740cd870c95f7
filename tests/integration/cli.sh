#!/bin/bash
# vmm-monitor's command line and input checking. One case per meson test:
# cli.sh CASE.
#
# Bad input must give exit status 2 and exactly one line on stderr naming
# the problem. These cases expect the monitor to validate its arguments and
# files before it opens /dev/kvm, so they run without KVM, except where a
# case calls need_kvm.

. "$(dirname "$0")/lib.sh"

# A valid kernel, so that the option under test is the only thing wrong.
KERNEL=$GUEST_DIR/hello.elf

bad_args() {
	need_guest hello.elf
	run_monitor --kernel "$KERNEL" "$@"
}

case_help() {
	local opt
	run_monitor --help
	expect_status 0 "--help"
	cat "$ERR" >>"$OUT"
	for opt in --kernel --initrd --cmdline --mem --cpus --devices --sandbox \
		   inproc process strict log off; do
		grep -aqe "$opt" "$OUT" || fail "--help does not mention $opt"
	done
	ok "--help lists every option"
}

case_no_args() {
	run_monitor
	expect_usage_error 'kernel'
	ok "no arguments: status 2"
}

case_missing_kernel() {
	run_monitor --kernel "$TMP/no-such-kernel"
	expect_usage_error 'no-such-kernel'
	ok "missing kernel file: status 2, names the file"
}

case_kernel_is_directory() {
	run_monitor --kernel "$TMP"
	expect_usage_error "$(basename "$TMP")|director"
	ok "kernel is a directory: status 2"
}

case_kernel_not_a_kernel_text() {
	cp /etc/passwd "$TMP/passwd" || fail "cannot copy /etc/passwd"
	run_monitor --kernel "$TMP/passwd"
	expect_usage_error 'passwd|kernel|bzimage|elf'
	ok "text file as kernel: status 2"
}

case_kernel_not_a_kernel_random() {
	head -c 65536 /dev/urandom >"$TMP/random.bin" || fail "cannot make file"
	run_monitor --kernel "$TMP/random.bin"
	expect_usage_error 'random\.bin|kernel|bzimage|elf'
	ok "random bytes as kernel: status 2"
}

case_kernel_empty() {
	: >"$TMP/empty"
	run_monitor --kernel "$TMP/empty"
	expect_usage_error 'empty|kernel|bzimage|elf'
	ok "empty kernel file: status 2"
}

case_missing_initrd() {
	bad_args --initrd "$TMP/no-such-initrd"
	expect_usage_error 'no-such-initrd'
	ok "missing initrd file: status 2, names the file"
}

case_missing_disk() {
	bad_args --disk "path=$TMP/no-such-disk.img"
	expect_usage_error 'no-such-disk'
	ok "missing disk image: status 2, names the file"
}

case_disk_bad_option() {
	truncate -s 1M "$TMP/d.img"
	bad_args --disk "path=$TMP/d.img,readonly=maybe"
	expect_usage_error 'readonly=on\|off'
	ok "bad --disk option: status 2, says the form"
}

case_disk_locked() {
	local lockfd
	truncate -s 1M "$TMP/d.img"
	exec {lockfd}<"$TMP/d.img"
	flock -x "$lockfd"	# held by this shell, as another VM would hold it
	bad_args --disk "path=$TMP/d.img"
	exec {lockfd}<&-
	expect_usage_error 'in use by another VM'
	ok "a disk another process holds: status 2"
}

case_console_bad() {
	bad_args --console "in=/dev/null"
	expect_usage_error 'out=FILE'
	ok "--console without out=: status 2"
}

case_mem_too_small() {
	bad_args --mem 1M
	expect_usage_error 'mem'
	ok "--mem 1M: status 2"
}

case_mem_too_big() {
	bad_args --mem 100T
	expect_usage_error 'mem'
	ok "--mem 100T: status 2"
}

case_mem_garbage() {
	bad_args --mem lots
	expect_usage_error 'mem|lots'
	ok "--mem lots: status 2"
}

case_cpus_0() {
	bad_args --cpus 0
	expect_usage_error 'cpu'
	ok "--cpus 0: status 2"
}

case_cpus_1000() {
	bad_args --cpus 1000
	expect_usage_error 'cpu'
	ok "--cpus 1000: status 2"
}

case_cpus_garbage() {
	bad_args --cpus two
	expect_usage_error 'cpu|two'
	ok "--cpus two: status 2"
}

case_unknown_option() {
	bad_args --frobnicate
	expect_usage_error 'frobnicate'
	ok "unknown option: status 2, names it"
}

case_missing_value() {
	run_monitor --kernel
	expect_usage_error 'kernel'
	ok "--kernel without a value: status 2"
}

case_devices_bogus() {
	bad_args --devices bogus
	expect_usage_error 'devices|bogus'
	ok "--devices bogus: status 2"
}

case_sandbox_bogus() {
	bad_args --sandbox bogus
	expect_usage_error 'sandbox|bogus'
	ok "--sandbox bogus: status 2"
}

# The 64 KiB the monitor reserves for the command line (X86_CMDLINE_MAX,
# including the NUL) cannot hold this. May be found only while laying out
# the boot, after KVM is open, hence need_kvm.
case_cmdline_too_long() {
	local s
	need_kvm
	s=$(head -c 70000 /dev/zero | tr '\0' 'x')
	bad_args --cmdline "$s"
	expect_usage_error 'cmdline|command line|long'
	ok "70000-byte command line: status 2"
}


# No /dev/kvm (hidden by an empty /dev in a private mount namespace): one
# line naming the cause and the way out, status 3, before any VM exists.
case_no_kvm() {
	need_guest hello.elf
	command -v unshare >/dev/null || skip "unshare (util-linux) is missing"
	local as_root=()
	[ "$(id -u)" = 0 ] || as_root=(--map-root-user)
	CMD="unshare --mount ${as_root[*]} (empty /dev) vmm-monitor --kernel hello.elf"
	STATUS=0
	timeout --kill-after=5 "$VMM_TIMEOUT" unshare --mount "${as_root[@]}" \
		bash -c 'mount -t tmpfs none /dev && exec "$@"' - "$VMM_MONITOR" --kernel "$KERNEL" \
		</dev/null >"$OUT" 2>"$ERR" || STATUS=$?
	expect_status 3 "no usable KVM"
	expect_one_error_line '^vmm-monitor: /dev/kvm: No such file or directory: this machine has no KVM; scripts/kvm-machine.sh runs'
	ok "no /dev/kvm: status 3, one line naming the runner"
}

dispatch "$@"
