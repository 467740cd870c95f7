#!/bin/bash
# virtio-pci devices as a new user attaches them: --disk (virtio-blk, one
# device process each), the always-present virtio-rng, --console
# (virtio-console), driven by the virtio test guests (tests/guest/virtio*.c:
# their own virtio-pci driver, following Linux's virtio_pci_modern). The
# sandbox is the default one (strict): no --sandbox option is passed.
# One case per meson test: virtio.sh CASE. Needs a usable /dev/kvm, else
# SKIP (77).

. "$(dirname "$0")/lib.sh"

# check_pattern FILE SEED NSECT: sectors 0..NSECT-1 of FILE hold the
# virtio_blk guest's pattern (tests/guest/virtio_blkdrv.h): word 0 = sector,
# words 1..63 = splitmix64 finalizer of (seed * 0x9E3779B97F4A7C15 ^ sector).
# Prints the first bad sector and fails if one does not.
check_pattern() {
	python3 - "$@" <<'EOF'
import struct, sys
M = (1 << 64) - 1
def mix(seed, s):
    z = ((seed * 0x9e3779b97f4a7c15) & M) ^ s
    z = (z + 0x9e3779b97f4a7c15) & M
    z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) & M
    z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) & M
    return z ^ (z >> 31)
path, seed, n = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
with open(path, "rb") as f:
    data = f.read(512 * n)
for s in range(n):
    want = struct.pack("<Q", s) + struct.pack("<Q", mix(seed, s)) * 63
    if data[512 * s:512 * s + 512] != want:
        print("sector %d of %s does not hold the pattern (seed %d)" % (s, path, seed))
        sys.exit(1)
EOF
}

# A writable 2 MiB disk (zeros) and a read-only 1 MiB one (random bytes).
make_disks() {
	truncate -s 2M "$TMP/d0.img" || fail "cannot make $TMP/d0.img"
	head -c 1M /dev/urandom >"$TMP/d1.img" || fail "cannot make $TMP/d1.img"
	RO_SUM=$(md5sum <"$TMP/d1.img")
}

DISKS() {
	echo --disk "path=$TMP/d0.img,serial=vmm-disk0" --disk "path=$TMP/d1.img,readonly=on"
}

expect_ro_unchanged() {
	[ "$(md5sum <"$TMP/d1.img")" = "$RO_SUM" ] || fail "the read-only image changed"
}

# Two disks: write the pattern (several requests in flight, flush), check
# the file on the host, then a second VM finds the data (blk_mode=verify).
case_blk_persist() {
	local seed=$((RANDOM + 1))
	make_disks
	run_vm virtio_blk.elf $(DISKS) \
		--cmdline "blk_mode=write blk_seed=$seed blk_disks=2 blk_ro=1 blk_serial=vmm-disk0"
	expect_pass virtio_blk
	expect_line "virtio_blk: flushed up to sector 4096"
	expect_out '^ok virtio_blk: wrote pattern: sectors 0\.\.4095 in 64 requests'
	expect_line "ok virtio_blk: write: interrupt seen after 8 of 8 batches"
	expect_line "ok virtio_blk: read-only disk: write answers status 1 (IOERR 1)"
	expect_out '^ok virtio_blk: read of sector 4096 \(= capacity\): status 1'
	expect_line "ok virtio_blk: serial [vmm-disk0], expected [vmm-disk0]"
	expect_ro_unchanged
	check_pattern "$TMP/d0.img" "$seed" 4096 || fail "pattern not in the image after the write run"
	run_vm virtio_blk.elf $(DISKS) \
		--cmdline "blk_mode=verify blk_seed=$seed blk_disks=2 blk_ro=1"
	expect_pass virtio_blk
	expect_out '^ok virtio_blk: read back and compared pattern: sectors 0\.\.4095'
	expect_line "ok virtio_blk: read: interrupt seen after 8 of 8 batches"
	expect_ro_unchanged
	ok "two disks: pattern written (8 requests in flight), flushed, in the file, read back by a second VM; read-only disk answers IOERR"
}

# The same with a wrong seed must fail: the verify run really compares.
case_blk_verify_detects() {
	make_disks
	run_vm virtio_blk.elf $(DISKS) --cmdline "blk_mode=write blk_seed=11"
	expect_pass virtio_blk
	run_vm virtio_blk.elf $(DISKS) --cmdline "blk_mode=verify blk_seed=12"
	# Requests complete in any order: which sector is named first varies.
	expect_out '^FAIL virtio_blk: read: sector [0-9]+ does not hold the pattern \(seed 12\)'
	ok "verify run with another seed reports the mismatch"
}

# --disk ...,direct=on (O_DIRECT, the host's page cache bypassed): the same
# pattern written and read back through it. Where $TMP has no O_DIRECT
# (tmpfs before Linux 6.6) the monitor must refuse with a clear line, and
# the disk is then the image behind a loop block device (needs root).
case_blk_direct() {
	local path=$TMP/d0.img loop=
	make_disks
	if ! dd if=/dev/zero of="$TMP/probe" bs=4k count=1 oflag=direct 2>/dev/null; then
		run_vm virtio_blk.elf --disk "path=$path,direct=on"
		expect_status 2 "no O_DIRECT where the image is: bad input"
		expect_err "direct=on: .*this file system has no O_DIRECT"
		[ "$(id -u)" = 0 ] || skip "$TMP has no O_DIRECT and a loop device needs root"
		modprobe loop 2>/dev/null	# a module in Debian's kernel; no udev here to load it
		loop=$(losetup --find --show "$path") || fail "losetup $path"
		trap 'losetup -d "$loop"; rm -rf "$TMP"' EXIT	# lib.sh's trap, and the loop device
		path=$loop
	fi
	run_vm virtio_blk.elf --disk "path=$path,direct=on,serial=vmm-disk0" \
		--disk "path=$TMP/d1.img,readonly=on" --cmdline "blk_mode=write blk_seed=21 blk_disks=2 blk_ro=1"
	expect_pass virtio_blk
	expect_out '^ok virtio_blk: wrote pattern: sectors 0\.\.4095 in 64 requests'
	check_pattern "$path" 21 4096 || fail "pattern not on the disk after the direct write run"
	run_vm virtio_blk.elf --disk "path=$path,direct=on" --cmdline "blk_mode=verify blk_seed=21 blk_disks=1"
	expect_pass virtio_blk
	expect_out '^ok virtio_blk: read back and compared pattern: sectors 0\.\.4095'
	ok "direct=on${loop:+ (on $loop; \$TMP has no O_DIRECT, refused clearly)}: pattern written, on the disk, read back"
}

# Read-only disk alone: reads work, writes answer IOERR, nothing changes.
case_blk_readonly() {
	make_disks
	run_vm virtio_blk.elf --disk "path=$TMP/d1.img,readonly=on" --cmdline "blk_disks=1 blk_ro=1"
	expect_pass virtio_blk
	expect_line "ok virtio_blk: read-only disk: write answers status 1 (IOERR 1)"
	expect_out "read-only disk: sectors 0-7 unchanged after the write"
	expect_ro_unchanged
	ok "read-only disk: IOERR on write, image unchanged"
}

# With -v the monitor prints per-region trap counts at exit: while the guest
# kicked the queues (the guest counts its doorbell writes), the monitor must
# have trapped none of them (ioeventfd took them).
blk_notify_case() {
	make_disks
	run_vm virtio_blk.elf $(DISKS) -v "$@" --cmdline "blk_seed=5"
	expect_pass virtio_blk
	expect_out '^ok virtio_blk: wrote pattern: .*, [1-9][0-9]* kicks$'
	expect_out '^ok virtio_blk: read back and compared pattern: .*, [1-9][0-9]* kicks$'
	grep -aqE '^vmm-monitor: traps: virtio-blk0 notify 0$' "$ERR" ||
		fail "no \"vmm-monitor: traps: virtio-blk0 notify 0\" line on stderr"
	grep -aqE '^vmm-monitor: traps: virtio-blk1 notify 0$' "$ERR" ||
		fail "no \"vmm-monitor: traps: virtio-blk1 notify 0\" line on stderr"
}

case_blk_notify_untrapped() {
	blk_notify_case
	ok "guest kicked the queue, the monitor trapped 0 notifications (ioeventfd)"
}

case_blk_inproc() {
	blk_notify_case --devices inproc
	ok "virtio-blk inside the monitor (--devices inproc): data, IOERR, 0 notifications trapped"
}

intx_case() {
	run_vm virtio_intx.elf "$@"
	expect_pass virtio_intx
	ok "INTx fallback: level-triggered INTA on the GSI the tables name ($*)"
}

case_intx() { intx_case; }
case_intx_inproc() { intx_case --devices inproc; }

case_rng() {
	run_vm virtio_rng.elf --cmdline "rng_bytes=256"
	expect_pass virtio_rng
	expect_line "ok virtio_rng: the two draws differ"
	ok "virtio-rng: two draws of 256 bytes, not zero, different, interrupts seen"
}

# console: the guest's line must reach the out file; text from the host
# must reach the guest. $1: "file" (the in file holds the text from the
# start) or "fifo" (written once the guest waits for it).
console_case() {
	local in=$TMP/con.in out=$TMP/con.out pid i
	need_kvm
	need_guest virtio_console.elf
	: >"$out"
	if [ "$1" = fifo ]; then
		mkfifo "$in" || fail "mkfifo"
	else
		printf 'hello-from-the-host\n' >"$in"
	fi
	CMD="$VMM_MONITOR --kernel virtio_console.elf --console out=$out,in=$in"
	: >"$OUT"
	timeout --kill-after=5 "$VMM_TIMEOUT" "$VMM_MONITOR" \
		--kernel "$(guest virtio_console.elf)" --console "out=$out,in=$in" \
		--cmdline "con_wait=10 con_expect=hello-from-the-host" \
		</dev/null >"$OUT" 2>"$ERR" &
	pid=$!
	if [ "$1" = fifo ]; then
		# read-write: opening never blocks, and a dead reader is no SIGPIPE
		exec 3<>"$in"
		for ((i = 0; i < 10 * VMM_TIMEOUT; i++)); do
			grep -aq '^virtio_console: waiting for input' "$OUT" && break
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -0 "$pid" 2>/dev/null && printf 'hello-from-the-host\n' >&3
	fi
	STATUS=0
	wait "$pid" || STATUS=$?
	[ "$1" = fifo ] && exec 3>&-
	case $STATUS in 124 | 137) fail "monitor timed out" ;; esac
	expect_pass virtio_console
	expect_line "virtio_console: received [hello-from-the-host]"
	grep -aqxF "virtio-console: hello from the guest" "$out" ||
		fail "the out file lacks the guest's line: $(head -c 200 "$out" | cat -v)"
	ok "virtio-console both ways ($1 input): guest line in the out file, host text in the guest"
}

case_console_file() { console_case file; }
case_console_fifo() { console_case fifo; }

# Malformed descriptors: the device reports NEEDS_RESET each time, recovers
# after a reset; UART, RTC and virtio-rng keep working; bogus BAR writes
# (onto the MSI-X BAR, 0, all ones) do not hurt the monitor, which ends
# normally; BAR0 left at 0 is assigned by the guest's driver and works.
case_hostile() {
	make_disks
	run_vm virtio_hostile.elf $(DISKS)
	expect_pass virtio_hostile
	local c
	for c in oob-addr loop next-range zero-len nested-ind avail-jump; do
		expect_out "^ok virtio_hostile: $c \\(.*\\): status 0x[0-9a-f]+ has DEVICE_NEEDS_RESET$"
		expect_out "^ok virtio_hostile: after $c: a well-formed read answers status 0$"
	done
	expect_out '^ok virtio_hostile: after bogus BAR writes: a well-formed read answers status 0$'
	expect_out '^ok virtio_hostile: the MSI-X table still answers after BAR0 collided with it'
	expect_out "^ok virtio_hostile: [0-9a-f:.]+'s MSI-X table still answers after BAR0 collided with it"
	expect_out '^ok virtio_hostile: BAR[0-9] assigned by the guest at 0x[0-9a-f]+ '
	expect_out '^ok virtio_hostile: after BAR0 reassignment: a well-formed read answers status 0$'
	expect_err 'virtio-blk0.*needs.reset'
	expect_ro_unchanged
	ok "hostile driver: NEEDS_RESET for each malformed request, recovery, other devices fine, monitor exits 0"
}

# Kill the disk's device process during writes: a new process replaces it,
# the requests it had in flight are written again, and the guest goes on
# to write and flush every sector - all of them in the file at the end.
case_blk_kill() {
	local seed=$((RANDOM + 1)) pid dpid i
	need_kvm
	need_guest virtio_blk.elf
	truncate -s 64M "$TMP/big.img" || fail "cannot make $TMP/big.img"
	CMD="$VMM_MONITOR --kernel virtio_blk.elf --disk path=big.img --cmdline blk_mode=write ..."
	: >"$OUT"	# exists before the polling below reads it
	"$VMM_MONITOR" --kernel "$(guest virtio_blk.elf)" --disk "path=$TMP/big.img" \
		--cmdline "blk_mode=write blk_seed=$seed blk_sectors=131072 blk_flush_every=2" \
		</dev/null >"$OUT" 2>"$ERR" &
	pid=$!
	for ((i = 0; i < 20 * VMM_TIMEOUT; i++)); do
		grep -aq '^virtio_blk: flushed up to sector' "$OUT" && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	grep -aq '^virtio_blk: flushed up to sector' "$OUT" || {
		kill -9 "$pid" 2>/dev/null
		fail "no flush before the guest ended"
	}
	dpid=$(pgrep -f -- "vmm-devproc .*--name virtio-blk0 --vm vm$pid\$" | head -n 1)
	[ -n "$dpid" ] || { kill -9 "$pid"; fail "no device process for virtio-blk0: $(pgrep -af vmm-devproc)"; }
	kill -9 "$dpid"
	wait_pid "$pid"
	grep -aq 'died: was killed by signal 9' "$ERR" || fail "the guest finished before the kill took (disk too small?)"
	expect_status 0 "the guest went on to its end"
	expect_err "device virtio-blk0 \\(class virtio-blk, pid $dpid\\) died: was killed by signal 9 \\(Killed\\): replaced by pid [0-9]+"
	grep -aq '^PASS virtio_blk' "$OUT" || fail "the guest did not finish"
	check_pattern "$TMP/big.img" "$seed" 131072 || fail "a sector the guest wrote is not in the file"
	ok "virtio-blk0 killed during writes: replaced ($(grep -ao 'unavailable [0-9.]* ms' "$ERR")); all 131072 sectors in the file"
}

dispatch "$@"
