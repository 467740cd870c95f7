#!/usr/bin/env bash
# Debian's stock cloud kernel and the project's initramfs (tests/linux/
# image.sh) under vmm-monitor and under QEMU with KVM, side by side in one
# run: the same bzImage, initrd, disk image and command line; the guest's
# /etc/vmm/rc prints "vmm-linux: userspace", checks its CPUs and powers off.
#   vmm-strict   vmm-monitor --sandbox strict (devices in sandboxed processes)
#   vmm-inproc   vmm-monitor --devices inproc
#   qemu-pc      QEMU -M pc, virtio-blk-pci and virtio-rng-pci (modern)
#   qemu-microvm QEMU -M microvm, virtio-blk and virtio-rng on virtio-mmio
# Prints medians of the time from process start to the guest's first
# userspace line and to exit, peak RSS, the memory the VMM costs beyond
# guest RAM as that line arrives (Pss of the monitor and every device
# process, or of QEMU, minus the Pss of the guest-RAM mapping), and ratios
# against vmm-strict.
# QUIET=0 boots without `quiet`: every kernel line through the 8250, a
# trap-heavy path. Then (IDLE_S seconds, default 60; 0: not) the guest sits
# idle under vmm-monitor --sandbox strict and bench/idlecpu.py prints the
# CPU the monitor and each device process used meanwhile.
#
# usage: bench/linux.sh [RUNS]   (default 3; runs in the emulated machine
#                                 where there is no real KVM)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
BENCH_KNOBS="QUIET IDLE_S"
bench_enter "$0" "$@"
RUNS=${1:-3}
IMG=$(tests/linux/image.sh)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/vmm-linux-bench.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
truncate -s 64M "$WORK/disk.img"
Q=; [ "${QUIET:-1}" = 0 ] || Q=quiet
CMDLINE="console=ttyS0 reboot=k panic=-1 $Q vmm.check=cpus vmm.cpus=2"
VMM="$BUILD/monitor/vmm-monitor --kernel $IMG/bzImage --initrd $IMG/initramfs.cpio.zst
     --cpus 2 --mem 512M --disk path=$WORK/disk.img --cmdline '$CMDLINE'"
QEMU="qemu-system-x86_64 -enable-kvm -cpu host -smp 2 -m 512M -nodefaults -no-user-config
      -nographic -serial stdio -no-reboot -kernel $IMG/bzImage -initrd $IMG/initramfs.cpio.zst
      -append '$CMDLINE' -drive if=none,id=d0,format=raw,file=$WORK/disk.img"

echo "linux: $RUNS runs each, alternating; $(cat "$IMG/kernel-package"), cmdline: $CMDLINE"
TIMERUN_TIMEOUT=300 TIMERUN_RAM_MB=512 python3 bench/timerun.py "$RUNS" "vmm-linux: userspace" \
    "vmm-strict=$VMM --sandbox strict" \
    "vmm-inproc=$VMM --devices inproc" \
    "qemu-pc=$QEMU -M pc -device virtio-blk-pci,drive=d0,disable-legacy=on -device virtio-rng-pci,disable-legacy=on" \
    "qemu-microvm=$QEMU -M microvm -device virtio-blk-device,drive=d0 -device virtio-rng-device"
IDLE_S=${IDLE_S:-60}
if [ "$IDLE_S" -gt 0 ]; then
	ICMD="console=ttyS0 reboot=k panic=-1 $Q vmm.check=idle vmm.idle=$IDLE_S"
	eval "python3 bench/idlecpu.py $BUILD/monitor/vmm-monitor --kernel $IMG/bzImage \
		--initrd $IMG/initramfs.cpio.zst --cpus 2 --mem 512M --disk path=$WORK/disk.img \
		--sandbox strict --cmdline '$ICMD'"
fi
echo "reproduce: QUIET=${QUIET:-1} IDLE_S=$IDLE_S bench/linux.sh $RUNS"
