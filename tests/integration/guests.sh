#!/bin/bash
# Boot the test guests (tests/guest/) in vmm-monitor and check what they
# report. One case per meson test: guests.sh CASE.
#
# Every guest prints "ok <name>: ..." / "FAIL <name>: ..." lines, then
# "PASS <name>" when nothing failed, and powers off through ACPI (status 0).
# Needs a usable /dev/kvm, else SKIP (77).

. "$(dirname "$0")/lib.sh"

case_hello_elf() {
	run_vm hello.elf
	expect_pass hello
	expect_line "hello: all checks passed"
	expect_out '^hello: cmdline: \[.*console=ttyS0.*\]$'
	ok "hello (ELF) boots with the default command line"
}

case_hello_bzimage() {
	run_vm hello.bzImage
	expect_pass hello
	expect_line "hello: all checks passed"
	expect_out '^hello: cmdline: \[.*console=ttyS0.*\]$'
	ok "hello (bzImage) boots with the default command line"
}

# --devices process is the default; inproc is the baseline, run here and in
# the *-inproc cases below (interrupt and stop paths differ between the two).
case_hello_inproc() {
	run_vm hello.bzImage --mem 512M --cpus 2 --devices inproc \
		--cmdline "console=ttyS0 expect_mem=512M expect_cpus=2"
	expect_pass hello
	expect_line "hello: all checks passed"
	ok "hello with --mem, --cpus, --devices inproc"
}

case_hello_process() {
	run_vm hello.elf --devices process
	expect_pass hello
	ok "hello with --devices process"
}

e820_case() {
	run_vm e820.elf --mem "$1" --cmdline "expect_mem=$1"
	expect_pass e820
	ok "e820 map for --mem $1"
}

case_e820_256m() { e820_case 256M; }
case_e820_1g() { e820_case 1G; }

# The line between the markers must be exactly what we passed; the length
# key is part of the line, so find the fixed point of its own length.
cmdline_case() {
	local body=$1 line n=0 i
	for i in 1 2 3 4; do
		line="expect_cmdline_len=$n $body"
		n=${#line}
	done
	line="expect_cmdline_len=$n $body"
	[ "${#line}" = "$n" ] || fail "could not size the command line"
	run_vm cmdline.elf --cmdline "$line"
	expect_pass cmdline
	expect_line "CMDLINE<<<$line>>>CMDLINE"
}

case_cmdline() {
	cmdline_case 'console=ttyS0 root=/dev/vda1 quiet a=b=c "quoted words" x'
	ok "command line passed verbatim"
}

case_cmdline_long() {
	local body="" i
	for ((i = 0; i < 400; i++)); do
		body+="word$i=0123456789abcdef "
	done
	cmdline_case "${body% }"
	ok "long (~10 KiB) command line passed verbatim"
}

case_cmdline_default() {
	run_vm cmdline.elf
	expect_pass cmdline
	expect_out '^CMDLINE<<<.*console=ttyS0.*>>>CMDLINE$'
	ok "default command line has console=ttyS0"
}

case_initrd() {
	local f=$TMP/initrd.img size fnv
	# Odd size: the tail must be there too. Small: hashing is emulated.
	head -c 20011 /dev/urandom >"$f" || fail "cannot make $f"
	size=$(stat -c %s "$f")
	fnv=$(fnv1a32 "$f")
	run_vm initrd.elf --initrd "$f" --cmdline "initrd_size=$size initrd_fnv=$fnv"
	expect_pass initrd
	ok "initrd of $size bytes, FNV-1a $fnv"
}

cpus_case() {
	run_vm cpus.elf --cpus "$1" --cmdline "expect_cpus=$1"
	expect_pass cpus
	ok "MADT and MP table describe $1 CPU(s)"
}

case_cpus_1() { cpus_case 1; }
case_cpus_2() { cpus_case 2; }
case_cpus_8() { cpus_case 8; }

case_rtc() {
	run_vm rtc.elf --cmdline "host_time=$(date -u +%s) rtc_tolerance=5"
	expect_pass rtc
	ok "RTC agrees with the host clock"
}

# The guest prints "uart: waiting for input" with the receive interrupt
# routed; we then write one byte to the monitor's stdin (a FIFO, not a tty).
uart_case() {
	local fifo=$TMP/stdin pid i
	need_kvm
	need_guest uart.elf
	mkfifo "$fifo" || fail "mkfifo"
	CMD="$VMM_MONITOR --kernel $(guest uart.elf) $* --cmdline 'uart_byte=5a uart_wait=20' <fifo"
	timeout --kill-after=5 "$VMM_TIMEOUT" "$VMM_MONITOR" \
		--kernel "$(guest uart.elf)" "$@" \
		--cmdline "uart_byte=5a uart_wait=20" \
		<"$fifo" >"$OUT" 2>"$ERR" &
	pid=$!
	exec 3>"$fifo"
	for ((i = 0; i < 10 * VMM_TIMEOUT; i++)); do
		grep -aq '^uart: waiting for input' "$OUT" && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if grep -aq '^uart: waiting for input' "$OUT"; then
		printf 'Z' >&3
	fi
	STATUS=0
	wait "$pid" || STATUS=$?
	exec 3>&-
	case $STATUS in 124 | 137) fail "monitor timed out" ;; esac
	expect_line "uart: waiting for input"
	expect_pass uart
	expect_line "uart: received 0x5a 'Z'"
	ok "8250 registers, loopback, and a received byte seen in the LAPIC IRR${*:+ ($*)}"
}

case_uart() { uart_case; }
case_uart_inproc() { uart_case --devices inproc; }

case_pci() {
	run_vm pci.elf --cmdline "expect_pci_functions=2"
	expect_pass pci
	expect_out '^pci: 00:01\.0 1af4:1044$'
	ok "PCI host bridge and the virtio-rng (always present) on bus 0"
}

case_pci_disks() {
	truncate -s 1M "$TMP/a.img" "$TMP/b.img"
	run_vm pci.elf --cmdline "expect_pci_functions=4" \
		--disk "path=$TMP/a.img" --disk "path=$TMP/b.img,readonly=on"
	expect_pass pci
	expect_out '^pci: 00:01\.0 1af4:1042$'
	expect_out '^pci: 00:02\.0 1af4:1042$'
	expect_out '^pci: 00:03\.0 1af4:1044$'
	ok "two --disk options give two virtio-blk functions, then the virtio-rng"
}

# On a terminal (a pty from script(1)) the console is raw and Ctrl-A x quits.
case_console_escape() {
	need_kvm
	need_guest uart.elf
	command -v script >/dev/null || skip "script(1) (util-linux) is not installed"
	CMD="script -qfec 'vmm-monitor --kernel uart.elf' (then Ctrl-A x)"
	STATUS=0
	{ sleep 2; printf '\001x'; sleep 1; } |
		timeout 30 script -qfec "$VMM_MONITOR --kernel $(guest uart.elf) --cmdline uart_wait=20" \
		/dev/null >"$OUT" 2>"$ERR" || STATUS=$?
	expect_status 0 "Ctrl-A x quits with status 0"
	expect_out 'console: quit \(Ctrl-A x\)'
	grep -aq '^PASS uart' "$OUT" && fail "the guest got a byte: the escape went through"
	ok "Ctrl-A x on a terminal quits the VM with status 0"
}

case_pit() {
	run_vm pit.elf
	expect_pass pit
	ok "PIT interrupt arrives on IOAPIC pin 2, as the MADT and MP table say"
}

case_unclaimed() {
	run_vm unclaimed.elf
	expect_pass unclaimed
	expect_line "unclaimed: still running"
	ok "unclaimed PIO reads all ones, MMIO reads zeros"
}

reset_case() {
	run_vm reset.elf "$@"
	expect_line "reset: requesting"
	expect_no_fail
	expect_status 0 "i8042 reset ends the VM cleanly"
	ok "i8042 reset ends the VM with status 0${*:+ ($*)}"
}

case_reset() { reset_case; }
case_reset_inproc() { reset_case --devices inproc; }

triplefault_case() {
	run_vm triplefault.elf "$@"
	expect_out '^triplefault: empty IDT, ud2 at 0x[0-9a-f]+$'
	expect_no_fail
	expect_status 1 "VM failure"
	expect_err 'vcpu'
	expect_err 'shutdown|triple|internal'
	expect_err 'rip[^0-9a-f]*(0x)?[0-9a-f]+'
	ok "triple fault: status 1, message names vCPU, exit reason and RIP${*:+ ($*)}"
}

case_triplefault() { triplefault_case; }
case_triplefault_inproc() { triplefault_case --devices inproc; }

# Guest RAM on huge pages where the host allows them for shared memory
# (shmem_enabled advise or always): the monitor's RAM mapping shows
# ShmemPmdMapped once the guest runs, and no hint line is logged. Where the
# host says never, the one hint line instead.
case_hugepages() {
	local knob=/sys/kernel/mm/transparent_hugepage/shmem_enabled pmd
	[ -r "$knob" ] || skip "no $knob (kernel without transparent huge pages)"
	start_uart_guest --mem 256M
	pmd=$(awk '/vmm-guest-ram/ { m = 1; next } /^[0-9a-f]+-/ { m = 0 }
		   m && /^ShmemPmdMapped:/ { n += $2 } END { print n + 0 }' "/proc/$MON_PID/smaps")
	printf Z >&3
	wait_monitor
	expect_status 0
	if grep -q '\[never\]\|\[deny\]' "$knob"; then
		expect_err "guest RAM on 4 KiB pages: $knob is never"
		ok "shmem_enabled is never here: the monitor says so in one line"
	else
		[ "$pmd" -gt 0 ] || fail "guest RAM has no huge page mapped ($knob: $(cat "$knob"))"
		grep -q "4 KiB pages" "$ERR" && fail "a huge-page hint although $knob allows them"
		ok "guest RAM on huge pages: $pmd KiB PMD-mapped"
	fi
}

dispatch "$@"
