#!/bin/bash
# Linux as the devices' real client: Debian's stock linux-image-cloud-amd64
# with the project's busybox initramfs (tests/linux/image.sh) boots under
# `vmm-monitor --sandbox strict`; its /etc/vmm/rc (tests/linux/rc) drives
# every device through Linux's own drivers and prints "ok"/"FAIL" per
# check; the host then checks what landed in the disk image and in the
# virtio-console file, and that the kernel log (dmesg, written to hvc0)
# names no problem with our devices. A watchdog (VMM_LINUX_TIMEOUT, 300 s)
# ends a run that hangs.
#
# One case per meson test: boot.sh CASE (suite 'linux'; needs KVM, so in
# suite 'kvm' too).
#   smp-1, smp-2, smp-4   1, 2 or 4 vCPUs: all online, and every check
#   reboot                `reboot -f` resets the VM through the i8042: status 0
#   tty                   ttyS0 as an interactive shell: a typed command is
#                         answered, `poweroff` ends the VM with status 0
#   net                   two virtio-net on taps in a network namespace of
#                         the test's own (the first with 2 queue pairs):
#                         ping, TCP both ways, 64 MiB each way, 32
#                         connections at once, MTU 9000
#   net-kill              virtio-net0's process killed under a running guest:
#                         replaced like any other device; the guest goes on
#   restart               device processes killed 22 times under a verifying
#                         workload: each replaced, nothing lost; then past
#                         --device-restart the VM stops with the report
#   ctl                   vmm-ctl on the guest at its shell: status, devices,
#                         stats, pause, resume, powerdown
#   vsock                 virtio-vsock with host programs on Unix sockets:
#                         64 MiB each way, 16 connections at once each way,
#                         refused ports both ways, a connection killed by
#                         the guest mid-transfer

. "$(dirname "$0")/../integration/lib.sh"

: "${VMM_LINUX_TIMEOUT:=300}"
HVC=$TMP/hvc0.out

# Lines of the kernel log that name a problem...
BAD='fail|error|timed? ?out|nobody cared|lost interrupt|spurious|conflict|invalid\b|'\
'can.t|cannot|unable|\bbug|warning|oops|call trace|not responding|broken|corrupt|'\
'I/O error|\breset|stall'
# ...but for these, each explained in tests/linux/README.md ("Lines the test
# accepts"): not about a device of ours.
ACCEPTED='PCI: Using host bridge windows from ACPI; if necessary, use "pci=nocrs" and report a bug$|'\
'acpi PNP0A03:00: fail to add MMCONFIG information, can.t access extended PCI configuration space under this bridge\.$|'\
'DMI not present or invalid\.$'

image() {
	local out
	out=$("$(dirname "$0")/image.sh") || fail "tests/linux/image.sh could not make the guest image"
	IMG=$out
}

# vdc: an ext4 made here from a folder (mkfs.ext4 -d) whose MD5SUMS the
# guest checks. VDC_BYTES0: the bytes the image holds on disk now.
make_ext4() {
	mkdir -p "$TMP/fs/dir" || fail "mkdir"
	head -c 1048576 /dev/urandom >"$TMP/fs/host.bin" && seq 1 20000 >"$TMP/fs/dir/numbers.txt" &&
		(cd "$TMP/fs" && md5sum host.bin dir/numbers.txt >MD5SUMS) || fail "cannot fill $TMP/fs"
	truncate -s 64M "$TMP/vdc.img" && mkfs.ext4 -q -F -d "$TMP/fs" "$TMP/vdc.img" ||
		fail "mkfs.ext4 -d failed"
	VDC_BYTES0=$(($(stat -c '%b * %B' "$TMP/vdc.img")))
}

# boot_linux CPUS CHECKS [CMDLINE...]: the stock guest with three disks (vda
# 64 MiB blank, vdb 8 MiB read-only, vdc the ext4) and a virtio-console
# that answers the guest's line with one of its own. VDA: another path for
# vda (vda.img is made anyway), VDA_OPTS more of its --disk options
# (",direct=on"); MONITOR_ARGS: more monitor options.
MONITOR_ARGS=()
boot_linux() {
	local cpus=$1 checks=$2 helper i
	shift 2
	need_kvm
	image
	truncate -s 64M "$TMP/vda.img" && truncate -s 8M "$TMP/vdb.img" || fail "truncate"
	make_ext4
	: >"$HVC"
	# hvc0's input is a FIFO the host writes its line to once the guest has
	# written to hvc0: Linux's driver drops what arrives before it connects
	# the console port (tests/linux/README.md).
	mkfifo "$TMP/hvc0.in" || fail "mkfifo"
	(for ((i = 0; i < VMM_LINUX_TIMEOUT * 10; i++)); do
		[ -e "$HVC" ] || exit 0	# the test ended (failed) and took $TMP with it
		grep -aq 'hello on hvc0' "$HVC" && break
		sleep 0.1
	done; echo "vmm-linux: hello from the host") >"$TMP/hvc0.in" &
	helper=$!
	T_START=$(date +%s)
	VMM_TIMEOUT=$VMM_LINUX_TIMEOUT run_monitor -v --kernel "$IMG/bzImage" \
		--initrd "$IMG/initramfs.cpio.zst" --mem 512M --cpus "$cpus" "${MONITOR_ARGS[@]}" \
		--disk "path=${VDA:-$TMP/vda.img}${VDA_OPTS:-}" --disk "path=$TMP/vdb.img,readonly=on" \
		--disk "path=$TMP/vdc.img" --console "out=$HVC,in=$TMP/hvc0.in" \
		--cmdline "console=ttyS0 reboot=k panic=-1 quiet vmm.cpus=$cpus vmm.check=$checks $*"
	T_END=$(date +%s)
	kill "$helper" 2>/dev/null
	tr -d '\r' <"$OUT" >"$OUT.txt"
	tr -d '\r' <"$HVC" >"$HVC.txt"
}

# Every check the guest ran said ok, and it finished.
expect_checks() {
	local c
	grep -aq '^vmm-linux: userspace after ' "$OUT.txt" || fail "the guest never reached userspace"
	for c in ${1//,/ }; do
		grep -aq "^ok $c: " "$OUT.txt" || fail "check $c did not pass"
	done
	expect_no_fail
	grep -aqx 'vmm-linux: done 0 failed' "$OUT.txt" || fail "the guest did not finish its checks"
}

# What the guest wrote reached the host: vda's first 4 MiB are the pattern
# (seq 1 1000000, as rc writes it), hvc0 has the guest's line.
expect_host_side() {
	[ "$(head -c 4194304 "$TMP/vda.img" | md5sum)" = "$(seq 1 1000000 | head -c 4194304 | md5sum)" ] ||
		fail "vda.img does not hold the 4 MiB the guest wrote"
	[ "$(wc -c <"$TMP/vdb.img")" = 8388608 ] && ! tr -d '\0' <"$TMP/vdb.img" | grep -q . ||
		fail "the read-only vdb.img changed"
	grep -aqx 'vmm-linux: hello on hvc0' "$HVC.txt" || fail "hvc0's line did not reach the console file"
}

# The PCI functions the guest listed (check pci) are exactly the ones the
# monitor exposes for boot_linux's devices, each virtio one bound to
# virtio-pci; the host bridge has no driver.
PCI_WANT='pci: 0000:00:00.0 0x1b36:0x0008 class 0x060000 driver none
pci: 0000:00:01.0 0x1af4:0x1042 class 0x018000 driver virtio-pci
pci: 0000:00:02.0 0x1af4:0x1042 class 0x018000 driver virtio-pci
pci: 0000:00:03.0 0x1af4:0x1042 class 0x018000 driver virtio-pci
pci: 0000:00:04.0 0x1af4:0x1044 class 0xff0000 driver virtio-pci
pci: 0000:00:05.0 0x1af4:0x1043 class 0x078000 driver virtio-pci'
expect_pci() {
	local got
	got=$(grep -a '^pci: ' "$OUT.txt")
	[ "$got" = "$PCI_WANT" ] || fail "the guest's PCI functions differ from what the monitor exposes:
$(diff <(echo "$PCI_WANT") <(echo "$got"))"
}

# rtc0's time (check rtc) lies within the host's clock around the run.
expect_rtc() {
	local t
	t=$(sed -n 's/^ok rtc: rtc0 ([^)]*) reads \([0-9]*\) s since 1970.*/\1/p' "$OUT.txt")
	[ -n "$t" ] && [ "$t" -ge $((T_START - 2)) ] && [ "$t" -le $((T_END + 2)) ] ||
		fail "rtc0 read \"$t\"; the host's clock went from $T_START to $T_END"
}

# vdc's ext4 (checks ext4, discard) is clean, holds guest.bin as the guest
# wrote it, and the 16 MiB the guest wrote, deleted and trimmed are gone
# from the image's disk blocks (discard punched them out).
expect_ext4() {
	local want got bytes
	e2fsck -fn "$TMP/vdc.img" >"$TMP/fsck.out" 2>&1 ||
		fail "e2fsck: vdc.img's ext4 is not clean: $(tail -n 5 "$TMP/fsck.out")"
	want=$(sed -n 's/^ok ext4: .*(md5 \([0-9a-f]*\))$/\1/p' "$OUT.txt")
	got=$(debugfs -R "cat /guest.bin" "$TMP/vdc.img" 2>/dev/null | md5sum | cut -d' ' -f1)
	[ -n "$want" ] && [ "$got" = "$want" ] ||
		fail "guest.bin in vdc.img has md5 $got; the guest wrote \"$want\""
	bytes=$(($(stat -c '%b * %B' "$TMP/vdc.img")))
	[ "$bytes" -lt $((VDC_BYTES0 + (8 << 20))) ] ||
		fail "vdc.img holds $bytes bytes on disk after fstrim, $VDC_BYTES0 before the boot"
}

# The kernel log without the one warning (and its trace) that the emulated
# machine's CPU causes under any VMM: "XSAVE consistency problem", which
# QEMU -enable-kvm -cpu host shows on the same machine too (README.md).
without_xsave_warning() {
	awk '/-+\[ cut here \]-+/ { held = $0 "\n"; cut = 1; next }
	     cut && /XSAVE consistency problem: size [0-9]+ != kernel_size [0-9]+/ { skip = 1 }
	     cut && !skip { held = held $0 "\n"; if ($0 ~ /WARNING:/) { printf "%s", held; cut = 0 } ; next }
	     skip { if ($0 ~ /---\[ end trace/) { skip = 0; cut = 0 } ; next }
	     { print }'
}

# The kernel log (dmesg, on hvc0) names no problem, and the monitor none.
expect_clean_log() {
	local bad
	grep -aq 'Linux version' "$HVC.txt" || fail "no kernel log on hvc0"
	bad=$(without_xsave_warning <"$HVC.txt" | grep -aiE -- "$BAD" | grep -avE -- "$ACCEPTED" || true)
	[ -z "$bad" ] || fail "the kernel log names a problem:
$bad"
	bad=$(grep -aiE 'fail|died|killed|violation|needs.reset|timed? ?out|error' "$ERR" |
		grep -avE "${ACCEPT_ERR:-^\$}" || true)
	[ -z "$bad" ] || fail "the monitor reported a problem:
$bad"
	for id in virtio-blk0 virtio-blk1 virtio-rng0 virtio-console0 ${EXTRA_IDS:-}; do
		grep -aqE "^vmm-monitor: traps: $id notify 0$" "$ERR" || fail "$id: notifications reached the monitor"
		grep -aqE "^vmm-monitor: traps: $id isr 0$" "$ERR" || fail "$id: ISR read: the driver fell back to INTx"
	done
}

smp_case() {
	local checks=cpus,blk,rng,console,irqs,rtc,i8042,pci,ext4,discard,fio
	boot_linux "$1" "$checks"
	expect_status 0 "the guest powered off"
	expect_err 'acpi_pm0: guest powered off'
	expect_checks "$checks"
	expect_host_side
	expect_pci
	expect_rtc
	expect_ext4
	expect_clean_log
	ok "$1 vCPU(s): $(grep -a '^vmm-linux: userspace' "$OUT.txt" | cut -d' ' -f2-); $(grep -ac '^ok ' "$OUT.txt") checks passed; $((T_END - T_START)) s in all"
}

case_smp_1() { smp_case 1; }
case_smp_2() { smp_case 2; }
case_smp_4() { smp_case 4; }

case_reboot() {
	boot_linux 1 reboot
	expect_status 0 "a reset ends the VM normally"
	expect_err 'i8042-0: guest requested a reset'
	grep -aq '^vmm-linux: userspace after ' "$OUT.txt" || fail "the guest never reached userspace"
	ok "reboot -f: the i8042 reset ended the VM with status 0"
}

# A disk slower than the device deadline is busy, not broken (issue: a slow
# disk must never kill the VM). vda is a dm-delay target over vda.img that
# holds every read and write 1.5 s; the monitor's device deadline is 300 ms;
# pci=nomsi puts the guest on INTx, so every interrupt reads virtio-blk0's
# ISR through its device process while requests are in flight there.
# slow_vda MS: VDA becomes $TMP/vda.img behind dm-delay (every request MS
# ms late), through a loop device; both go when the test ends. Returns 1
# with SLOW_WHY set where there is no root, loop device or dm-delay.
slow_vda() {
	local loop dm=vmm-slow-$$
	SLOW_WHY=
	[ "$(id -u)" = 0 ] || { SLOW_WHY="needs root for a loop device and dm-delay"; return 1; }
	command -v dmsetup >/dev/null && command -v losetup >/dev/null ||
		{ SLOW_WHY="no dmsetup or losetup"; return 1; }
	modprobe loop 2>/dev/null
	modprobe dm-delay 2>/dev/null
	truncate -s 64M "$TMP/vda.img" || fail "truncate"
	loop=$(losetup -f --show "$TMP/vda.img") || { SLOW_WHY="no loop device here (losetup -f failed)"; return 1; }
	# no udev here: libdevmapper makes /dev/mapper/$dm itself
	export DM_DISABLE_UDEV=1
	trap 'dmsetup remove '"$dm"' 2>/dev/null; losetup -d '"$loop"'; rm -rf "$TMP"' EXIT
	dmsetup create "$dm" --table "0 131072 delay $loop 0 $1" ||
		{ SLOW_WHY="dm-delay is not available in this kernel"; return 1; }
	dmsetup mknodes "$dm"
	VDA=/dev/mapper/$dm
	[ -b "$VDA" ] || fail "dmsetup made no $VDA"
}

case_slow_disk() {
	need_kvm
	slow_vda 1500 || skip "$SLOW_WHY"
	MONITOR_ARGS=(--device-timeout-ms 300)
	boot_linux 1 blk pci=nomsi
	expect_status 0 "the guest powered off"
	expect_checks blk
	[ "$(head -c 4194304 "$TMP/vda.img" | md5sum)" = "$(seq 1 1000000 | head -c 4194304 | md5sum)" ] ||
		fail "vda.img does not hold the 4 MiB the guest wrote"
	grep -aqE "^vmm-monitor: traps: virtio-blk0 isr [1-9]" "$ERR" || fail "no ISR read reached virtio-blk0 (INTx)"
	! grep -aiE 'killed|is dead|did not answer' "$ERR" || fail "a device was declared broken"
	local waited=0
	grep -aq "device virtio-blk0: no answer in 300 ms while the host keeps it from running" "$ERR" && waited=1
	ok "vda 1.5 s per request, 300 ms device deadline, INTx: blk checks pass, vda.img holds the guest's 4 MiB; $(sed -n 's/^vmm-monitor: traps: virtio-blk0 isr //p' "$ERR") ISR reads; virtio-blk0 outlived the deadline in host I/O and was waited for: $waited; $((T_END - T_START)) s in all"
}

# The serial console as an interactive tty: with no vmm.check the guest's
# init gives ttyS0 a root shell; the test types at the prompt, reads the
# answer, and types poweroff.
# The guest shuts itself down (poweroff at its shell, acpid on the power
# button): wait up to 60 s for the monitor to end, then reap it.
wait_powered_off() {
	local i
	for ((i = 0; i < 1200; i++)); do
		kill -0 "$MON_PID" 2>/dev/null || break
		sleep 0.05
	done
	wait_monitor
}

case_tty() {
	need_kvm
	image
	mkfifo "$TMP/in" || fail "mkfifo"
	CMD="$VMM_MONITOR --kernel bzImage --initrd initramfs.cpio.zst --cpus 2 (stdin: the test typing)"
	"$VMM_MONITOR" --kernel "$IMG/bzImage" --initrd "$IMG/initramfs.cpio.zst" --mem 512M \
		--cpus 2 --cmdline "console=ttyS0 reboot=k panic=-1 quiet" <"$TMP/in" >"$OUT" 2>"$ERR" &
	MON_PID=$!
	exec 3>"$TMP/in"
	wait_for_out "vmm-linux: userspace after" 120
	wait_for_out "# " 30
	printf 'echo vmm-tty-$((6 * 7))\n' >&3
	wait_for_out "vmm-tty-42" 30
	printf 'poweroff\n' >&3
	wait_powered_off
	expect_status 0 "poweroff at the shell"
	expect_err 'acpi_pm0: guest powered off'
	ok "ttyS0: a command typed at the shell prompt answered; poweroff: status 0"
}

# vmm-ctl against the stock kernel at its shell: status, devices, stats,
# pause (a typed command waits, the vCPUs make no exit), resume (it is
# answered), powerdown (the ACPI power button: the guest's acpid powers
# off, status 0).
case_ctl() {
	local api=$TMP/api.sock ctl=${VMM_CTL:-} e1 e2
	need_kvm
	[ -x "$ctl" ] || fail "VMM_CTL not set or not executable"
	image
	mkfifo "$TMP/in" || fail "mkfifo"
	CMD="$VMM_MONITOR --kernel bzImage --initrd initramfs.cpio.zst --cpus 2 --api-socket api.sock (stdin: the test typing)"
	"$VMM_MONITOR" --kernel "$IMG/bzImage" --initrd "$IMG/initramfs.cpio.zst" --mem 512M \
		--cpus 2 --api-socket "$api" --cmdline "console=ttyS0 reboot=k panic=-1 quiet" \
		<"$TMP/in" >"$OUT" 2>"$ERR" &
	MON_PID=$!
	exec 3>"$TMP/in"
	wait_for_out "vmm-linux: userspace after" 120
	wait_for_out "# " 30
	"$ctl" "$api" status >"$TMP/status.txt" || fail "status failed"
	grep -q '^state    running$' "$TMP/status.txt" || fail "status: $(cat "$TMP/status.txt")"
	"$ctl" "$api" devices >"$TMP/devices.txt" || fail "devices failed"
	for d in serial0 rtc0 i8042-0 acpi_pm0 virtio-rng0; do
		grep -qE "^$d +[a-z0-9_-]+ +[0-9]+ running +strict " "$TMP/devices.txt" ||
			fail "devices: no running $d: $(cat "$TMP/devices.txt")"
	done
	grep -qE '^serial0 .* region0 [1-9][0-9]* ' "$TMP/devices.txt" || fail "devices: serial0 served nothing"
	"$ctl" "$api" stats >"$TMP/stats.txt" || fail "stats failed"
	grep -qE '^vcpu1 +exits [1-9]' "$TMP/stats.txt" || fail "stats: vcpu1 never exited: $(cat "$TMP/stats.txt")"
	[ "$("$ctl" "$api" pause)" = ok ] || fail "pause failed"
	e1=$("$ctl" --json "$api" stats | grep -o '"exits": [0-9]*' | awk '{ n += $2 } END { print n }')
	printf 'echo vmm-ctl-$((6 * 7))\n' >&3
	sleep 2
	e2=$("$ctl" --json "$api" stats | grep -o '"exits": [0-9]*' | awk '{ n += $2 } END { print n }')
	[ "$e1" = "$e2" ] || fail "paused: the vCPUs still exit ($e1, then $e2)"
	grep -aq "vmm-ctl-42" "$OUT" && fail "a paused guest answered"
	[ "$("$ctl" "$api" resume)" = ok ] || fail "resume failed"
	wait_for_out "vmm-ctl-42" 30
	[ "$("$ctl" "$api" powerdown)" = ok ] || fail "powerdown failed"
	wait_powered_off
	expect_status 0 "vmm-ctl powerdown: the guest powered itself off"
	expect_err 'acpi_pm0: guest powered off'
	cat "$TMP/devices.txt"
	ok "vmm-ctl status, devices, stats; pause (2 s, no exit, the typed command waited), resume (answered), powerdown (the guest's acpid powered off): status 0"
}

# expect_both_ways CHECK RECEIVED SENT_MD5 [MORE]: the 64 MiB the guest
# sent (its "ok CHECK: CHECK-tx: ... (md5 M)" line) is what the host
# received into RECEIVED, and its "CHECK-rx" line has the md5 of the
# host's 64 MiB. MORE is added to the failure.
expect_both_ways() {
	local c=$1 recv=$2 sent=$3 more=${4:-} m
	m=$(sed -n "s/^ok $c: $c-tx: 64 MiB sent to the host (md5 \\([0-9a-f]*\\))\$/\\1/p" "$OUT.txt")
	[ -n "$m" ] && [ "$(md5sum <"$recv" | cut -d' ' -f1)" = "$m" ] ||
		fail "the host received $(wc -c <"$recv" 2>/dev/null) bytes that do not match the guest's md5 \"$m\"$more"
	grep -aq "^ok $c: $c-rx: 67108864 bytes from the host (md5 $sent)\$" "$OUT.txt" ||
		fail "the guest did not receive the host's 64 MiB intact (md5 $sent)$more"
}

# ---- virtio-net: taps in a network namespace of the test's own ----------

# in_netns CASE: re-run this case in a new network namespace (unshare -n),
# where nothing can reach beyond the taps the case makes.
in_netns() {
	[ -z "${VMM_IN_NETNS:-}" ] || return 0
	[ "$(id -u)" = 0 ] || skip "needs root for a network namespace and taps"
	command -v unshare >/dev/null && command -v ip >/dev/null && command -v socat >/dev/null ||
		skip "needs unshare, ip and socat (scripts/setup.sh)"
	modprobe tun 2>/dev/null
	[ -c /dev/net/tun ] || skip "no /dev/net/tun in this kernel"
	rm -rf "$TMP"
	VMM_IN_NETNS=1 exec unshare --net -- bash "$0" "$1"
}

# tap NAME ADDR [MTU [multi_queue]]: a tap in this namespace, the host's ADDR/24 on it.
tap() {
	ip tuntap add "$1" mode tap ${4:-} && ip addr add "$2/24" dev "$1" &&
		ip link set "$1" mtu "${3:-1500}" up || fail "cannot make tap $1"
}

# The host side of check net (tests/linux/rc): a receiver for the guest's
# 64 MiB, a sender of 64 MiB of its own, an echo server, and a pinger that
# connects to the guest once the guest answered.
net_servers() {
	head -c $((64 << 20)) /dev/urandom >"$TMP/net.src" || fail "cannot make $TMP/net.src"
	NET_SRC_MD5=$(md5sum <"$TMP/net.src" | cut -d' ' -f1)
	socat -u TCP-LISTEN:5001,bind=10.77.0.1,reuseaddr CREATE:"$TMP/net.recv" 2>"$TMP/s1.err" &
	socat -u OPEN:"$TMP/net.src" TCP-LISTEN:5002,bind=10.77.0.1,reuseaddr 2>"$TMP/s2.err" &
	# -t 30: after the client's EOF, wait for cat's answer (not socat's 0.5 s)
	socat -t 30 TCP-LISTEN:5003,bind=10.77.0.1,reuseaddr,fork,backlog=64 EXEC:cat 2>"$TMP/s3.err" &
	(for ((i = 1; i <= VMM_LINUX_TIMEOUT; i++)); do
		busybox ping -c 1 -W 1 10.77.0.2 >/dev/null 2>&1 && break
	done
	echo "pinged $i" | socat -u - TCP:10.77.0.2:5005,retry=600,interval=0.2) >/dev/null 2>&1 &
	trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$TMP"' EXIT
}

case_net() {
	need_kvm
	in_netns net
	ip link set lo up
	tap vmmtap0 10.77.0.1 1500 multi_queue
	tap vmmtap1 10.77.1.1 9000
	net_servers
	MONITOR_ARGS=(--net tap=vmmtap0,queues=2 --net tap=vmmtap1,mac=52:54:00:12:34:57)
	EXTRA_IDS="virtio-net0 virtio-net1"
	boot_linux 2 net
	expect_status 0 "the guest powered off"
	expect_checks net
	expect_both_ways net "$TMP/net.recv" "$NET_SRC_MD5"
	expect_clean_log
	ok "virtio-net: $(grep -ac '^ok net: ' "$OUT.txt") net checks passed; 64 MiB each way intact; $((T_END - T_START)) s in all"
}

# ---- Device restart: processes killed under a verifying workload --------

# kill_devices LOG: once the guest's restart workload runs, SIGKILL
# virtio-blk0's process 10 times, serial0's and virtio-rng0's 5 times each,
# in a random order, 0.3-1.2 s apart, each time waiting for the monitor to
# say it was replaced; then SIGSTOP virtio-blk0's twice (a hung device: the
# monitor finds it within 2 x --device-timeout-ms and replaces it). One line
# per action in LOG; "kills done" at the end.
kill_devices() {
	local log=$1 mon pid i id n=0 targets
	exec 4>"$TMP/console.in"	# the guest's console: "vmm: kills done" at the end
	for ((i = 0; i < VMM_LINUX_TIMEOUT * 10; i++)); do
		[ -d "$TMP" ] || return 0	# the test ended (failed) and took $TMP with it
		grep -aqs 'vmm-linux: restart workload until' "$OUT" && break
		sleep 0.1
	done
	mon=$(pgrep -f -- "^$VMM_MONITOR .*--console out=$HVC," | head -n 1)
	[ -n "$mon" ] || { echo "no monitor" >>"$log"; return 1; }
	targets=$( (for i in 1 2 3 4 5 6 7 8 9 10; do echo virtio-blk0; done
		   for i in 1 2 3 4 5; do echo serial0; echo virtio-rng0; done) | shuf)
	for id in $targets STOP:virtio-blk0 STOP:virtio-blk0; do
		sleep "0.$((RANDOM % 10 + 3))"
		pid=$(pgrep -f -- "vmm-devproc .*--name ${id#STOP:} --vm vm$mon\$" | head -n 1)
		[ -n "$pid" ] || { echo "no process for ${id#STOP:}" >>"$log"; return 1; }
		if [ "${id%%:*}" = STOP ]; then kill -STOP "$pid"; else kill -9 "$pid"; fi
		n=$((n + 1))
		echo "$id pid $pid" >>"$log"
		for ((i = 0; i < 200; i++)); do
			[ "$(grep -ac 'replaced by pid' "$ERR")" -ge "$n" ] && break
			sleep 0.1
		done
		[ "$i" -lt 200 ] || { echo "${id#STOP:} (pid $pid) not replaced in 20 s" >>"$log"; return 1; }
	done
	echo "kills done" >>"$log"
	echo "vmm: kills done" >&4
}

# The guest's workload verified every round while its devices were killed
# and replaced 22 times; the console's ticks kept coming; the host image
# holds the guest's last pattern after a clean power-off; the kernel log
# names no problem. Then a second boot: more deaths than --device-restart
# allows in a minute stop the VM with the report, as without restarts.
case_restart() {
	local checks=restart,blk,rng,console,rtc,i8042 log=$TMP/kills.log killer ticks last lost
	local downs med max replays
	: >"$log"
	DUMP_FILES=$log
	mkfifo "$TMP/console.in" || fail "mkfifo"
	need_kvm
	# vda 20 ms per request: fio keeps requests in flight when a kill comes
	slow_vda 20 || echo "restart: vda at full speed ($SLOW_WHY): few kills find requests in flight"
	VDA_OPTS=,direct=on	# past the page cache: requests really wait for the disk
	MONITOR_ARGS=(--device-restart 20)
	kill_devices "$log" &
	killer=$!
	STDIN=$TMP/console.in boot_linux 2 "$checks"
	wait "$killer" || fail "killing devices: $(tail -n 3 "$log")
the monitor's last words on devices: $(grep -aE 'vmm-monitor: device [a-z0-9-]+ \(|did not|not replaced' "$ERR" | tail -n 4)"
	grep -qx 'kills done' "$log" || fail "the kills did not finish: $(tail -n 3 "$log")"
	expect_status 0 "the guest powered off"
	expect_checks "$checks"
	expect_host_side
	[ "$(grep -ac 'replaced by pid' "$ERR")" = 22 ] ||
		fail "$(grep -ac 'replaced by pid' "$ERR") replacements, want 22: $(grep -a 'vmm-monitor: device' "$ERR" | tail -n 3)"
	[ "$(grep -acE 'device virtio-blk0 .* did not answer .*: replaced by pid' "$ERR")" = 2 ] ||
		fail "the stopped virtio-blk0 was not found and replaced twice"
	last=$(sed -n 's/^vmm-linux: last tick \([0-9]*\)$/\1/p' "$OUT.txt")
	ticks=$(grep -acE '^tick [0-9]+$' "$OUT.txt")
	[ -n "$last" ] && [ "$ticks" -ge $((last - 10)) ] ||
		fail "console: $ticks tick lines of $last reached the host"
	lost=$((last - ticks))
	ACCEPT_ERR='replaced by pid|resumed: |restart: resumed' expect_clean_log
	downs=$(grep -ao 'unavailable [0-9.]* ms' "$ERR" | awk '{ print $2 }' | sort -n)
	med=$(awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }' <<<"$downs")
	max=$(tail -n 1 <<<"$downs")
	replays=$(grep -ao 'resumed: [0-9]* requests in flight' "$ERR" | awk '{ n += $2 } END { print n + 0 }')
	echo "restart: $(grep -a '^ok restart: ' "$OUT.txt")"
	echo "restart: unavailable after a kill: median $med ms, max $max ms; $replays requests processed again; $lost of $last console ticks lost"
	# Past the policy: a fourth death within the minute stops the VM.
	restart_limit_boot
	ok "22 device processes killed or stopped under fio --verify, console and hwrng: all replaced (median $med ms, max $max ms unavailable), $replays requests replayed, $lost ticks lost, image and kernel log clean; past --device-restart 3 the VM stops with the report"
}

restart_limit_boot() {
	local i pid
	mkfifo "$TMP/in2" || fail "mkfifo"
	"$VMM_MONITOR" --kernel "$IMG/bzImage" --initrd "$IMG/initramfs.cpio.zst" --mem 512M \
		--device-restart 3 --cmdline "console=ttyS0 reboot=k panic=-1 quiet" \
		<"$TMP/in2" >"$OUT" 2>"$ERR" &
	MON_PID=$!
	exec 3>"$TMP/in2"
	wait_for_out "vmm-linux: userspace after" 120
	for ((i = 1; i <= 4; i++)); do
		pid=$(pgrep -f -- "vmm-devproc .*--name virtio-rng0 --vm vm$MON_PID\$" | head -n 1)
		[ -n "$pid" ] || { kill -9 "$MON_PID"; fail "no virtio-rng0 process (round $i)"; }
		kill -9 "$pid"
		[ "$i" = 4 ] || wait_for_err "virtio-rng0 .*replaced by pid .*\\(restart $i, $i in the last minute\\)" 30
	done
	wait_monitor
	expect_status 1 "past the restart policy"
	expect_err "device virtio-rng0 \\(class virtio-rng, pid $pid\\) died: was killed by signal 9 \\(Killed\\); not replaced: 3 restarts in the last minute \\(--device-restart 3\\)"
}

# Killing virtio-net0's process under a running guest: replaced like any
# other device, and the guest's shell goes on to power off.
case_net_kill() {
	local dpid
	need_kvm
	in_netns net-kill
	tap vmmtap0 10.77.0.1
	image
	mkfifo "$TMP/in" || fail "mkfifo"
	CMD="$VMM_MONITOR --kernel bzImage --initrd initramfs.cpio.zst --net tap=vmmtap0"
	"$VMM_MONITOR" --kernel "$IMG/bzImage" --initrd "$IMG/initramfs.cpio.zst" --mem 512M \
		--net tap=vmmtap0 --cmdline "console=ttyS0 reboot=k panic=-1 quiet" \
		<"$TMP/in" >"$OUT" 2>"$ERR" &
	MON_PID=$!
	exec 3>"$TMP/in"
	wait_for_out "vmm-linux: userspace after" 120
	dpid=$(pgrep -f -- "vmm-devproc .*--name virtio-net0 --vm vm$MON_PID\$" | head -n 1)
	[ -n "$dpid" ] || { kill -9 "$MON_PID"; fail "no device process for virtio-net0"; }
	kill -9 "$dpid"
	wait_for_err "device virtio-net0 \\(class virtio-net, pid $dpid\\) died: was killed by signal 9 \\(Killed\\): replaced by pid [0-9]+" 30
	printf 'poweroff\n' >&3
	wait_monitor
	expect_status 0 "the guest powered off"
	ok "virtio-net0 killed under a running Linux: replaced, the guest went on to power off"
}

# ---- virtio-vsock: host programs on Unix sockets ($TMP/v.sock) -----------

# The host programs of check vsock (tests/linux/rc): listeners on the host
# ports the guest connects to (PATH_P), a sender the guest kills, and
# vsock_driver, which reaches the guest's listeners once it says "ready".
vsock_servers() {
	local S=$1
	head -c $((64 << 20)) /dev/urandom >"$TMP/vsock.src" || fail "cannot make $TMP/vsock.src"
	VSOCK_SRC_MD5=$(md5sum <"$TMP/vsock.src" | cut -d' ' -f1)
	socat -u UNIX-LISTEN:"${S}_5001" CREATE:"$TMP/vsock.recv" 2>"$TMP/v5001.err" &
	socat -t 30 UNIX-LISTEN:"${S}_5003",fork,backlog=64 EXEC:cat 2>"$TMP/v5003.err" &
	(socat -u OPEN:/dev/zero UNIX-LISTEN:"${S}_5005" 2>"$TMP/v5005.err"; echo "exit $?" >"$TMP/v5005.end") &
	socat -u UNIX-LISTEN:"${S}_5009" CREATE:"$TMP/v.ready" 2>/dev/null &
	vsock_driver "$S" >"$TMP/vsock.host" 2>&1 &
	trap 'kill $(jobs -p) 2>/dev/null; rm -rf "$TMP"' EXIT
}

# vsock_connect PATH PORT: stdin after "CONNECT PORT\n" to the guest's
# port, its answer ("OK <port>" first) on stdout.
vsock_connect() { { echo "CONNECT $2"; cat; } | socat -t 30 - UNIX-CONNECT:"$1" 2>/dev/null; }

vsock_driver() {
	local S=$1 i n=0 t0 ms
	for ((i = 0; i < VMM_LINUX_TIMEOUT * 10; i++)); do
		[ -d "$TMP" ] || return 0
		[ -s "$TMP/v.ready" ] && break
		sleep 0.1
	done
	vsock_connect "$S" 5002 <"$TMP/vsock.src" >"$TMP/h2g.ok"
	echo "to guest port 5002: $(head -n 1 "$TMP/h2g.ok")"
	for i in $(seq 1 16); do
		(echo "hconn $i" | vsock_connect "$S" 5004 >"$TMP/hconn.$i") &
	done
	wait
	for i in $(seq 1 16); do
		[ "$(sed -n 1p "$TMP/hconn.$i" | cut -c1-3)" = "OK " ] &&
			[ "$(sed -n 2p "$TMP/hconn.$i")" = "hconn $i" ] && n=$((n + 1))
	done
	echo "echoed $n of 16"
	t0=$(date +%s%N)
	vsock_connect "$S" 5998 </dev/null >"$TMP/refused.out"
	ms=$((($(date +%s%N) - t0) / 1000000))
	echo "refused in $ms ms: \"$(head -c 40 "$TMP/refused.out")\""
	for ((i = 0; i < 50; i++)); do
		echo "host: $n of 16 echoed, guest port 5998 refused in $ms ms" | vsock_connect "$S" 5010 |
			grep -q '^OK ' && break
		sleep 0.2
	done
}

case_vsock() {
	local S=$TMP/v.sock
	need_kvm
	command -v socat >/dev/null || skip "needs socat (scripts/setup.sh)"
	vsock_servers "$S"
	MONITOR_ARGS=(--vsock "cid=3,socket=$S")
	EXTRA_IDS="virtio-vsock0"
	boot_linux 2 vsock
	expect_status 0 "the guest powered off"
	expect_checks vsock
	expect_both_ways vsock "$TMP/vsock.recv" "$VSOCK_SRC_MD5" "; host: $(cat "$TMP/vsock.host")"
	grep -aq '^echoed 16 of 16$' "$TMP/vsock.host" || fail "host to guest: $(cat "$TMP/vsock.host")"
	grep -aqE '^refused in ([0-9]|[0-9][0-9]|[0-9][0-9][0-9]|1[0-9][0-9][0-9]) ms: ""$' "$TMP/vsock.host" ||
		fail "guest port 5998 (nobody listens) was not refused within 2 s: $(grep refused "$TMP/vsock.host")"
	[ -f "$TMP/v5005.end" ] || fail "the host's sender did not notice the guest killed its connection"
	[ ! -e "$S" ] || fail "$S is left after the VM ended"
	expect_clean_log
	ok "virtio-vsock: $(grep -ac '^ok vsock: ' "$OUT.txt") vsock checks passed; 64 MiB each way intact; host side: $(tr '\n' ';' <"$TMP/vsock.host"); $((T_END - T_START)) s in all"
}

dispatch "$@"
