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
	for opt in --kernel --initrd --cmdline --mem --cpus --devices --sandbox --vsock \
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


# run_without_kvm ARGS...: vmm-monitor --kernel hello.elf ARGS with /dev
# hidden by an empty tmpfs in a private mount namespace; sets STATUS.
run_without_kvm() {
	need_guest hello.elf
	command -v unshare >/dev/null || skip "unshare (util-linux) is missing"
	local as_root=()
	[ "$(id -u)" = 0 ] || as_root=(--map-root-user)
	CMD="unshare --mount ${as_root[*]} (empty /dev) vmm-monitor --kernel hello.elf $*"
	STATUS=0
	timeout --kill-after=5 "$VMM_TIMEOUT" unshare --mount "${as_root[@]}" \
		bash -c 'mount -t tmpfs none /dev && exec "$@"' - "$VMM_MONITOR" --kernel "$KERNEL" \
		"$@" </dev/null >"$OUT" 2>"$ERR" || STATUS=$?
}

# No /dev/kvm (hidden by an empty /dev in a private mount namespace): one
# line naming the cause and the way out, status 3, before any VM exists.
case_no_kvm() {
	run_without_kvm
	expect_status 3 "no usable KVM"
	expect_one_error_line '^vmm-monitor: /dev/kvm: No such file or directory: this machine has no KVM; scripts/kvm-machine.sh runs'
	ok "no /dev/kvm: status 3, one line naming the runner"
}

# ---- --vsock cid=N,socket=PATH ----

# Nothing is left in $TMP but the run's stdout, stderr and the files named.
expect_only_files() {
	local want got
	want=$(printf '%s\n' stderr stdout "$@" | sort | tr '\n' ' ')
	got=$(ls -A "$TMP" | sort | tr '\n' ' ')
	[ "$got" = "$want" ] || fail "left in $TMP: $got(want $want)"
}

VSOCK_WANT='--vsock .*: want cid=3\.\.4294967294,socket=PATH \(at most 96 bytes\)$'

case_vsock_no_cid() {
	bad_args --vsock "socket=$TMP/v.sock"
	expect_usage_error "$VSOCK_WANT"
	expect_only_files
	ok "--vsock without cid: status 2, says the form"
}

case_vsock_cid_2() {
	bad_args --vsock "cid=2,socket=$TMP/v.sock"
	expect_usage_error "$VSOCK_WANT"
	expect_only_files
	ok "--vsock cid=2 (the host's): status 2"
}

case_vsock_cid_garbage() {
	bad_args --vsock "cid=abc,socket=$TMP/v.sock"
	expect_usage_error "$VSOCK_WANT"
	expect_only_files
	ok "--vsock cid=abc: status 2"
}

# 97 bytes: PATH_4294967295 would not fit in sun_path.
case_vsock_path_too_long() {
	local p
	p=$TMP/$(printf '%0*d' $((96 - ${#TMP})) 0)
	[ ${#p} = 97 ] || fail "test bug: a ${#p}-byte path"
	bad_args --vsock "cid=3,socket=$p"
	expect_usage_error "$VSOCK_WANT"
	expect_only_files
	ok "--vsock with a 97-byte path: status 2"
}

case_vsock_twice() {
	bad_args --vsock "cid=3,socket=$TMP/a.sock" --vsock "cid=4,socket=$TMP/b.sock"
	expect_usage_error '^vmm-monitor: --vsock cid=4,.*: at most one --vsock$'
	expect_only_files
	ok "--vsock twice: status 2"
}

case_vsock_missing_dir() {
	bad_args --vsock "cid=3,socket=$TMP/nodir/v.sock"
	expect_usage_error "^vmm-monitor: --vsock socket=$TMP/nodir/v\.sock: no such directory$"
	expect_only_files
	ok "--vsock socket in a missing directory: status 2, nothing created"
}

case_vsock_not_a_socket() {
	echo keep >"$TMP/v.sock"
	bad_args --vsock "cid=3,socket=$TMP/v.sock"
	expect_usage_error "^vmm-monitor: --vsock socket=$TMP/v\.sock: exists and is not a socket$"
	[ "$(cat "$TMP/v.sock")" = keep ] || fail "the regular file at PATH was changed"
	expect_only_files v.sock
	ok "--vsock socket that is a regular file: status 2, the file untouched"
}

# Good arguments on a machine without KVM: the broker starts (replacing a
# leftover socket at PATH), the VM cannot, and on the way out the broker is
# stopped and PATH removed.
case_vsock_cleanup() {
	command -v python3 >/dev/null || skip "python3 is missing (it makes the leftover socket)"
	python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' \
		"$TMP/v.sock" || fail "cannot make a leftover socket"
	[ -S "$TMP/v.sock" ] || fail "no leftover socket"
	run_without_kvm --vsock "cid=3,socket=$TMP/v.sock"
	expect_status 3 "no usable KVM"
	expect_one_error_line '/dev/kvm'
	expect_only_files
	# The broker is a fork of the monitor: its command line names PATH.
	pgrep -f -- "socket=$TMP/v.sock" >/dev/null && fail "the broker still runs"
	ok "--vsock without KVM: status 3, the leftover socket replaced, then removed"
}

dispatch "$@"
