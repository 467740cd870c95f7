#!/bin/bash
# Linux as the devices' real client: the test kernel (tests/linux/build.sh,
# Debian's linux-source-6.1) boots under `vmm-monitor --sandbox strict`
# from an ext2 root on virtio-blk, and its own log is checked for every
# device the monitor exposes. Userspace cannot run under PVM (MACHINE.md),
# so the root filesystem's init is not a program: the kernel mounts the
# root, fails to run init, panics and resets through the i8042 (panic=-1
# reboot=k), and the monitor exits 0. A watchdog (VMM_LINUX_TIMEOUT, 240 s)
# ends a run that hangs.
#
# One case per meson test: boot.sh CASE (suite 'linux').
#   boot        the "fast" kernel (no ACPI: MP table, PCI conf1)
#   boot-acpi   the "acpi" kernel (our RSDP/XSDT/MADT/FADT/DSDT in use);
#               builds a second kernel and boots ~20 s slower, so it runs
#               only with VMM_LINUX_ACPI=1
# SKIP (77) without a usable /dev/kvm, with VMM_TEST_SHORT=1, or where the
# kernel cannot be built (linux-source-6.1 not installable).

. "$(dirname "$0")/../integration/lib.sh"
. "$(dirname "$0")/lib.sh"

: "${VMM_LINUX_TIMEOUT:=240}"
CONLOG=$TMP/console.tlog	# the serial console, "<host seconds> <line>"
HVC=$TMP/hvc0.out		# what the guest wrote to virtio-console
LOG=$TMP/console.log		# the serial console without the CRs

# Lines that name a problem with a device, a resource or an interrupt...
BAD='fail|error|timed? ?out|nobody cared|lost interrupt|spurious|conflict|invalid|'\
'can.t|cannot|unable|\bbug|warning|oops|call trace|not responding|broken|corrupt|'\
'no space|disabling|I/O error|\breset'
# ...but for these, each explained in tests/linux/README.md ("Lines the test
# accepts"): not a device of ours, or the end the test asks for. The acpi
# variant adds one (check_no_bad_lines).
ACCEPTED='\[Firmware Bug\]: TSC doesn.t count with P0 frequency!$|'\
'Starting init: /sbin/init exists but couldn.t execute it \(error -8\)$|'\
'Unknown kernel command line parameters "noxsave", will be passed to user space\.$'

need_short_ok() {
	[ "${VMM_TEST_SHORT:-0}" = 1 ] && skip "VMM_TEST_SHORT=1 (the Linux boot takes ~30 s, its first build minutes)"
	return 0
}

get_kernel() {
	local rc=0
	linux_kernel "$1" || rc=$?
	case $rc in
	0) ;;
	77) skip "test kernel cannot be built here: $LINUX_SKIP" ;;
	*) fail "building the $1 test kernel failed (tests/linux/build.sh $1; log above)" ;;
	esac
}

# boot_linux VARIANT: build the kernel, make the disks, run the VM.
boot_linux() {
	VARIANT=$1
	need_kvm
	need_short_ok
	get_kernel "$1"
	linux_make_disks "$TMP" || fail "cannot make the disk images in $TMP"
	: >"$HVC"
	T_START=$(date +%s)
	CMD="$VMM_MONITOR -v --kernel $LINUX_KDIR/vmlinux --mem 128M --disk path=root.img --disk path=parts.img,readonly=on --console out=hvc0.out --cmdline '$LINUX_CMDLINE'"
	STATUS=0
	python3 "$LINUX_DIR/consolelog.py" run --timeout "$VMM_LINUX_TIMEOUT" \
		--out "$OUT" --tlog "$CONLOG" --err "$ERR" -- \
		"$VMM_MONITOR" -v --kernel "$LINUX_KDIR/vmlinux" --mem 128M \
		--disk "path=$TMP/root.img" --disk "path=$TMP/parts.img,readonly=on" \
		--console "out=$HVC" --cmdline "$LINUX_CMDLINE" || STATUS=$?
	T_END=$(date +%s)
	tr -d '\r' <"$OUT" >"$LOG"
	[ "$STATUS" != 124 ] || fail "watchdog: the VM still ran after ${VMM_LINUX_TIMEOUT}s (killed)"
}

# The log up to the panic the test expects (after it: the panic's own
# report, a call trace).
log_before_panic() {
	sed -n '/Kernel panic - not syncing: No working init found/q; p' "$LOG"
}

expect_log() {
	grep -aqE -- "$1" "$LOG" || fail "the kernel log lacks /$1/${2:+ ($2)}"
}

check_end() {
	expect_status 0 "the kernel's reset must end the VM normally"
	expect_err 'i8042-0: guest requested a reset'
	expect_log 'Kernel panic - not syncing: No working init found' "the expected end"
}

# Without ACPI the 8250 and rtc_cmos drivers bind to legacy platform
# devices; with it, to the PnP devices the DSDT describes (\_SB.COM1,
# \_SB.RTC), named "00:NN" by pnpacpi.
legacy_dev() {
	if [ "$VARIANT" = acpi ]; then echo '00:[0-9a-f]{2}'; else echo "$1"; fi
}

check_serial() {
	expect_log "^.{0,20}$(legacy_dev serial8250): ttyS0 at I/O 0x3f8 \\(irq = 4, base_baud = 115200\\) is a 16550A" "8250 at 0x3F8, IRQ 4"
	expect_log 'printk: console \[ttyS0\] enabled'
}

# rtc_cmos set the clock from our RTC: the time it read must be the host's
# (UTC) between the monitor's start and its end.
check_rtc() {
	local line epoch shown
	line=$(grep -aoE "rtc_cmos $(legacy_dev rtc_cmos): setting system clock to [0-9T:-]+ UTC \\([0-9]+\\)" "$LOG") ||
		fail "no \"rtc_cmos: setting system clock to\" line"
	epoch=${line##*(}
	epoch=${epoch%)}
	shown=$(date -u -d "@$epoch" +%Y-%m-%dT%H:%M:%S)
	[[ $line == *"to $shown UTC"* ]] || fail "RTC date and epoch disagree: $line"
	[ "$epoch" -ge $((T_START - 2)) ] && [ "$epoch" -le $((T_END + 2)) ] ||
		fail "RTC time $epoch ($shown) is not the host's time during the run ($T_START..$T_END)"
	RTC_SEEN=$shown
}

# PCI: exactly the functions the monitor exposes, in slot order: the host
# bridge, then virtio-blk x2 (1af4:1042), virtio-rng (1044),
# virtio-console (1043), each with its two memory BARs and enabled by
# virtio-pci; the drivers used MSI-X (the ISR register, which an INTx
# handler reads, was never read).
check_pci() {
	local want=("00.0: \\[1b36:0008\\] type 00 class 0x060000"
		"01.0: \\[1af4:1042\\] type 00 class 0x018000"
		"02.0: \\[1af4:1042\\] type 00 class 0x018000"
		"03.0: \\[1af4:1044\\] type 00 class 0xff0000"
		"04.0: \\[1af4:1043\\] type 00 class 0x078000") w n id
	n=$(grep -acE 'pci 0000:00:[0-9a-f]{2}\.[0-7]: \[[0-9a-f]{4}:[0-9a-f]{4}\] type' "$LOG")
	[ "$n" = ${#want[@]} ] || fail "the kernel found $n PCI functions, the monitor exposes ${#want[@]}"
	for w in "${want[@]}"; do
		expect_log "pci 0000:00:$w"
	done
	for n in 1 2 3 4; do
		expect_log "pci 0000:00:0$n\\.0: BAR 0 \\[mem 0x[0-9a-f]+-0x[0-9a-f]+ 64bit\\]"
		expect_log "pci 0000:00:0$n\\.0: BAR 2 \\[mem 0x[0-9a-f]+-0x[0-9a-f]+\\]"
		# without ACPI, pci_enable_device() routes INTx through the MP table
		[ "$VARIANT" = acpi ] ||
			expect_log "virtio-pci 0000:00:0$n\\.0: PCI->APIC IRQ transform: INT A -> IRQ"
	done
	for id in virtio-blk0 virtio-blk1 virtio-rng0 virtio-console0; do
		grep -aqE "^vmm: traps: $id common [1-9]" "$ERR" || fail "$id: the driver never touched its common config"
		grep -aqE "^vmm: traps: $id isr 0$" "$ERR" || fail "$id: ISR read: the driver fell back to INTx"
		grep -aqE "^vmm: traps: $id notify 0$" "$ERR" || fail "$id: notifications reached the monitor"
	done
}

check_blk() {
	expect_log 'virtio_blk virtio0: \[vda\] 8192 512-byte logical blocks \(4\.19 MB/4\.00 MiB\)' "root.img: 4 MiB"
	expect_log 'virtio_blk virtio1: \[vdb\] 4096 512-byte logical blocks \(2\.10 MB/2\.00 MiB\)' "parts.img: 2 MiB"
	expect_log '^.{0,20} vdb: vdb1 vdb2$' "parts.img's MBR: two partitions"
	expect_log 'VFS: Mounted root \(ext2 filesystem\) on device 254:0\.' "root from vda"
	expect_log 'Starting init: /sbin/init exists but couldn.t execute it \(error -8\)' "read /sbin/init from the disk"
	[ "$(linux_root_mount_count "$TMP/root.img")" = 1 ] ||
		fail "root.img's mount count is $(linux_root_mount_count "$TMP/root.img"), not 1: the kernel's superblock write did not reach the file"
}

# virtio-rng: the hwrng core reads it as soon as it is registered and
# credits what it reads; nothing else in this guest can seed the kernel's
# RNG before init (no RDRAND/RDSEED here, no disk or input interrupts
# enough), so "crng init done" before the root mount is virtio-rng's work.
check_rng() {
	local rng crng mount
	rng=$(grep -anE 'pci 0000:00:03\.0: \[1af4:1044\]' "$LOG" | cut -d: -f1)
	crng=$(grep -anE 'random: crng init done' "$LOG" | cut -d: -f1)
	mount=$(grep -anE 'VFS: Mounted root' "$LOG" | cut -d: -f1)
	[ -n "$crng" ] || fail "no \"random: crng init done\": virtio-rng gave the kernel no entropy"
	[ "$crng" -gt "$rng" ] && [ "$crng" -lt "$mount" ] ||
		fail "\"crng init done\" (line $crng) is not between the rng's enumeration (line $rng) and the root mount (line $mount)"
}

# virtio-console: hvc0 is a console (console=hvc0), so the kernel writes
# its log there too, from what its (small: tinyconfig's 4 KiB) log buffer
# still held when hvc0 appeared: the host's file must hold the end of the
# boot, every line of it also on the serial console.
check_console() {
	local n missing
	tr -d '\r' <"$HVC" >"$HVC.txt"
	grep -aq 'VFS: Mounted root (ext2 filesystem)' "$HVC.txt" &&
		grep -aq 'Kernel panic - not syncing: No working init found' "$HVC.txt" ||
		fail "hvc0 (virtio-console) output lacks the end of the kernel log: $(tail -c 400 "$HVC.txt" | cat -v)"
	n=$(grep -ac '^\[' "$HVC.txt")
	missing=$(grep -a '^\[' "$HVC.txt" | grep -avxFf "$LOG" | head -n 3)
	[ -z "$missing" ] || fail "hvc0 has lines the serial console does not: $missing"
	HVC_LINES=$n
}

check_no_bad_lines() {
	local bad
	local accepted=$ACCEPTED
	[ "$VARIANT" != acpi ] || accepted+='|ACPI: Failed to create genetlink family for ACPI event$'\
'|PCI: Using host bridge windows from ACPI; if necessary, use "pci=nocrs" and report a bug$'
	bad=$(log_before_panic | grep -aiE -- "$BAD" | grep -avE -- "$accepted" || true)
	[ -z "$bad" ] || fail "the kernel log names a problem:
$bad"
	bad=$(grep -aiE 'fail|died|killed|violation|needs.reset|timed? ?out|error' "$ERR" || true)
	[ -z "$bad" ] || fail "the monitor reported a problem:
$bad"
}

print_milestones() {
	echo "milestones (seconds since the monitor started):"
	python3 "$LINUX_DIR/consolelog.py" milestones "$CONLOG" | sed 's/^/  /'
}

case_boot() {
	boot_linux fast
	check_end
	check_serial
	check_rtc
	check_pci
	check_blk
	check_rng
	check_console
	check_no_bad_lines
	print_milestones
	ok "Linux $(grep -aoE 'Linux version [^ ]+' "$LOG" | head -n 1 | cut -d' ' -f3) on vmm-monitor (sandbox strict): 8250 console, RTC $RTC_SEEN UTC, 5 PCI functions with MSI-X, vda 4 MiB mounted as ext2 root (mount count 1 in the file), vdb1 vdb2, virtio-rng seeded the RNG, $HVC_LINES log lines on hvc0, reset at panic"
}

case_boot_acpi() {
	[ "${VMM_LINUX_ACPI:-0}" = 1 ] || skip "the ACPI kernel runs with VMM_LINUX_ACPI=1 (a second build, ~20 s slower boot)"
	boot_linux acpi
	check_end
	check_serial
	check_rtc
	check_pci
	check_blk
	check_rng
	check_console
	expect_log 'ACPI: RSDP 0x0*E0000 '
	expect_log 'ACPI: PM: \(supports S0 S5\)' "the DSDT's \\_S5"
	expect_log 'ACPI: PCI Root Bridge \[PCI0\] \(domain 0000 \[bus 00\]\)'
	expect_log 'pci_bus 0000:00: root bus resource \[mem 0xc0000000-0xfdffffff window\]' "PCI0._CRS: the 32-bit window"
	expect_log 'PCI: Using ACPI for IRQ routing'
	expect_log 'pnp: PnP ACPI: found 4 devices' "the DSDT's COM1, RTC, KBD, MOU"
	! grep -aq 'no PNP device found' "$LOG" || fail "rtc_cmos fell back to the platform device: no PnP RTC"
	check_no_bad_lines
	print_milestones
	ok "Linux with ACPI on vmm-monitor: RSDP, S5, PCI0 with its window and _PRT routing, 8250 and rtc_cmos on the DSDT's PnP devices; the same devices and checks as linux-boot"
}

dispatch "$@"
