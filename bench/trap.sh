#!/usr/bin/env bash
# Cost of one trapped access, side by side: the bench-trap guest does N
# writes then N reads of the 8250 scratch register (port I/O), then of a
# virtio-rng's queue_select register (MMIO, BAR0 common configuration),
# then N reads of the 8250's RBR and of the virtio-rng's ISR, under
# vmm-monitor --devices process (each device in its own process, over the
# ring), --devices inproc (devices in the monitor) and QEMU -M pc (same
# ELF, PVH entry, virtio-rng-pci). Prints microseconds per access and the
# ratios process/inproc and process/QEMU. Scratch and queue_select reads
# change nothing (vmm answers them from the device's shadow); RBR and ISR
# reads have an effect and always reach the device. It runs once on an
# idle host, then once more beside a CPU hog (one busy-looping process).
# Knobs: HOG=0 (idle host only), HOG=1 (with the hog only), default both;
# spin budgets SPIN_US, DEV_SPIN_US.
#
# usage: bench/trap.sh [RUNS]      (default 5; runs in the emulated machine where there is no real KVM)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
BENCH_KNOBS="SPIN_US DEV_SPIN_US HOG"
bench_enter "$0" "$@"
RUNS=${1:-5}

N=$(awk '/#define BENCH_N/ {print $3}' bench/guest/bench.c)
GUEST=$BUILD/bench/guest/bench-trap.elf
SPIN=${SPIN_US:+--spin-us $SPIN_US}
DSPIN=${DEV_SPIN_US:+--device-spin-us $DEV_SPIN_US}
VMM="$BUILD/monitor/vmm-monitor --kernel $GUEST --mem 256M"
QEMU="qemu-system-x86_64 -enable-kvm -cpu host,-arch-capabilities -m 256M -nodefaults
      -no-user-config -nographic -serial stdio -no-reboot -kernel $GUEST -M pc
      -device virtio-rng-pci,disable-legacy=on -device isa-debug-exit,iobase=0xf4,iosize=4"

run() {
	python3 bench/trapbench.py "$RUNS" "$N" \
	    "vmm-process=$VMM --devices process $SPIN $DSPIN" \
	    "vmm-inproc=$VMM --devices inproc" \
	    "qemu-pc=$QEMU"
}

echo "trap: $RUNS runs each, $N accesses per column; 8250 scratch (0x3ff) and RBR (0x3f8), virtio-rng queue_select and ISR"
if [ "${HOG:-both}" != 1 ]; then
	echo "idle host:"
	run
fi
if [ "${HOG:-both}" != 0 ]; then
	echo "beside a CPU hog (one busy-looping process) on the host:"
	sh -c 'while :; do :; done' &
	hog=$!
	trap 'kill $hog 2>/dev/null' EXIT
	run
	kill $hog
fi
echo "reproduce: HOG=${HOG:-both} bench/trap.sh $RUNS"
