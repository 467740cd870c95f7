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

# boot_linux CPUS CHECKS [CMDLINE...]: the stock guest with two disks
# (vda 64 MiB writable, vdb 8 MiB read-only) and a virtio-console.
boot_linux() {
	local cpus=$1 checks=$2
	shift 2
	need_kvm
	image
	truncate -s 64M "$TMP/vda.img" && truncate -s 8M "$TMP/vdb.img" || fail "truncate"
	: >"$HVC"
	T_START=$(date +%s)
	VMM_TIMEOUT=$VMM_LINUX_TIMEOUT run_monitor -v --kernel "$IMG/bzImage" \
		--initrd "$IMG/initramfs.cpio.gz" --mem 512M --cpus "$cpus" \
		--disk "path=$TMP/vda.img" --disk "path=$TMP/vdb.img,readonly=on" \
		--console "out=$HVC" \
		--cmdline "console=ttyS0 reboot=k panic=-1 quiet vmm.cpus=$cpus vmm.check=$checks $*"
	T_END=$(date +%s)
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
	bad=$(grep -aiE 'fail|died|killed|violation|needs.reset|timed? ?out|error' "$ERR" || true)
	[ -z "$bad" ] || fail "the monitor reported a problem:
$bad"
	for id in virtio-blk0 virtio-blk1 virtio-rng0 virtio-console0; do
		grep -aqE "^vmm: traps: $id notify 0$" "$ERR" || fail "$id: notifications reached the monitor"
		grep -aqE "^vmm: traps: $id isr 0$" "$ERR" || fail "$id: ISR read: the driver fell back to INTx"
	done
}

smp_case() {
	local checks=cpus,blk,rng,console,irqs
	boot_linux "$1" "$checks"
	expect_status 0 "the guest powered off"
	expect_err 'acpi_pm0: guest powered off'
	expect_checks "$checks"
	expect_host_side
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

dispatch "$@"
