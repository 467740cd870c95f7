#!/usr/bin/env bash
# Boot time and peak RSS: vmm-monitor (devices in their own processes, and
# inside the monitor) against QEMU, side by side in one run; then the PSS of
# a running VM with and without device processes.
# The same benchmark guest (bench/guest: prints one line, ends the VM) is
# booted by vmm-monitor through the 64-bit Linux boot protocol and by QEMU
# through PVH. Prints median time from process start to the guest's line,
# to process exit, peak RSS, and the ratios vmm / peer.
#
# usage: bench/boot.sh [RUNS]      (default 20; runs in the emulated machine where there is no real KVM)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bench_enter "$0" "$@"
RUNS=${1:-20}

GUEST=$BUILD/bench/guest/bench-guest.elf
VMM="$BUILD/monitor/vmm-monitor --kernel $GUEST --mem 256M"
QEMU="qemu-system-x86_64 -enable-kvm -cpu host,-arch-capabilities -m 256M -nodefaults
      -no-user-config -nographic -serial stdio -no-reboot -kernel $GUEST
      -device isa-debug-exit,iobase=0xf4,iosize=4"

echo "boot: $RUNS runs each, alternating; guest $GUEST"
python3 bench/timerun.py "$RUNS" "vmm-bench: guest up" \
    "vmm-process=$VMM --devices process" \
    "vmm-sandbox-strict=$VMM --devices process --sandbox strict" \
    "vmm-sandbox-off=$VMM --devices process --sandbox off" \
    "vmm-inproc=$VMM --devices inproc" \
    "qemu-microvm=${QEMU} -M microvm" \
    "qemu-pc=${QEMU} -M pc"

# Memory while a guest runs: the uart test guest waits for a byte on the
# console, long enough to sum PSS over the monitor and its device processes.
UART=$BUILD/tests/guest/uart.elf
echo
echo "memory of a running VM (monitor + device processes), guest $UART"
python3 bench/pss.py "uart: waiting for input" \
    "vmm-process=$BUILD/monitor/vmm-monitor --kernel $UART --devices process" \
    "vmm-inproc=$BUILD/monitor/vmm-monitor --kernel $UART --devices inproc"
echo "reproduce: bench/boot.sh $RUNS"
