#!/bin/bash
# vmm-trace (trace/) on guests whose accesses are known. One case per meson
# test: trace.sh CASE. vmm-trace starts the monitor itself
# (`vmm-trace -- vmm-monitor ...`), so it is attached before the guest's
# first instruction; its "vmm-trace: total" lines are then held against
# the monitor's own counts (-v: "traps: ID REGION N") and the guest's.
# Needs KVM, root (BPF) and the kvm module's BTF.

. "$(dirname "$0")/lib.sh"

need_trace() {
	need_kvm
	[ -x "${VMM_TRACE:-}" ] || fail "VMM_TRACE not set or not executable"
	[ "$(id -u)" = 0 ] || skip "vmm-trace loads BPF programs: needs root"
	[ -r /sys/kernel/btf/vmlinux ] || skip "this kernel has no BTF (/sys/kernel/btf/vmlinux)"
}

# run_trace MONITOR-ARGS...: vmm-trace -- vmm-monitor ARGS; its status is the monitor's.
run_trace() {
	CMD="vmm-trace --interval 5 -- vmm-monitor $*"
	STATUS=0
	timeout --kill-after=5 "$VMM_TIMEOUT" "$VMM_TRACE" --interval 5 -- "$VMM_MONITOR" "$@" \
		</dev/null >"$OUT" 2>"$ERR" || STATUS=$?
	grep -q "^vmm-trace: total over" "$OUT" || fail "no totals from vmm-trace"
}

# total REGION FIELD: a number from REGION's "vmm-trace: total" line (0 if none).
total() {
	local v
	v=$(sed -n "s/^vmm-trace: total $1: .*$2 \([0-9]*\).*/\1/p" "$OUT")
	echo "${v:-0}"
}

# traps REGION: the monitor's own count of accesses it served there (-v).
traps() {
	sed -n "s/^vmm-monitor: traps: $1 \([0-9]*\).*/\1/p" "$ERR"
}

# bench-trap: 20000 writes and 20000 reads of the 8250's scratch register,
# the same on virtio-rng's queue_select, 20000 reads of RBR and of the ISR.
# Every one exits to the monitor: vmm-trace's count per region must be the
# monitor's, exactly.
case_trap_counts() {
	local region want got n=""
	need_trace
	[ -f "${BENCH_TRAP_GUEST:-}" ] || fail "BENCH_TRAP_GUEST not set"
	VMM_TIMEOUT=120 run_trace --kernel "$BENCH_TRAP_GUEST" -v
	expect_status 0 "the guest powered off"
	for region in "serial0 region0" "virtio-rng0 common" "virtio-rng0 isr"; do
		want=$(traps "$region")
		got=$(total "$region" to-monitor)
		[ -n "$want" ] || fail "no \"traps: $region\" line from the monitor"
		[ "$got" = "$want" ] || fail "$region: vmm-trace counted $got exits to the monitor, the monitor served $want"
		n="$n, $region $got"
	done
	[ "$(total "serial0 region0" to-monitor)" -ge 60000 ] || fail "fewer than the guest's 60000 8250 accesses"
	[ "$(total "virtio-rng0 common" to-monitor)" -ge 40000 ] || fail "fewer than the guest's 40000 queue_select accesses"
	[ "$(total "virtio-rng0 isr" to-monitor)" -ge 20000 ] || fail "fewer than the guest's 20000 ISR reads"
	[ "$(total "serial0 region0" in-kernel)" = 0 ] || fail "8250 accesses served in the kernel?"
	ok "exits to the monitor per region equal the monitor's own counts${n}"
}

# The virtio_blk guest's kicks: none reaches the monitor, all are the
# kernel's (ioeventfd), at least as many as the guest counted in its passes.
case_notify_fast_path() {
	local kicks fast
	need_trace
	need_guest virtio_blk.elf
	truncate -s 2M "$TMP/d0.img" || fail "truncate"
	head -c 1M /dev/urandom >"$TMP/d1.img"
	VMM_TIMEOUT=120 run_trace --kernel "$(guest virtio_blk.elf)" -v --cmdline "blk_seed=5" \
		--disk "path=$TMP/d0.img" --disk "path=$TMP/d1.img,readonly=on"
	expect_pass virtio_blk
	kicks=$(sed -n 's/^ok virtio_blk: .*, \([0-9]*\) kicks$/\1/p' "$OUT" | awk '{ n += $1 } END { print n + 0 }')
	[ "${kicks:-0}" -gt 0 ] || fail "the guest counted no kicks"
	[ "$(traps "virtio-blk0 notify")" = 0 ] || fail "the monitor trapped a notification"
	[ "$(total "virtio-blk0 notify" to-monitor)" = 0 ] || fail "vmm-trace saw notifications reach the monitor"
	fast=$(( $(total "virtio-blk0 notify" in-kernel) + $(total "virtio-blk1 notify" in-kernel) ))
	[ "$fast" -ge "$kicks" ] || fail "the fast path counted $fast kicks, the guest made at least $kicks"
	ok "virtio-blk notify: 0 exits to the monitor, $fast kicks served by the kernel (guest's passes: $kicks)"
}

dispatch "$@"
