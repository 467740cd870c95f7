#!/usr/bin/env bash
# arm64: time to userspace under the arm64 vmm-monitor against QEMU
# -M virt -enable-kvm, with Debian's stock arm64 kernel and the initramfs of
# tests/arm64/image.sh (its /init prints "vmm-arm64: userspace" first,
# checks CPUs, PCI, hwrng and the disk, and powers off), inside the same
# arm64 emulated machine (scripts/kvm-machine.sh --arch arm64), in one run
# of it, alternating:
#   vmm-strict   vmm-monitor --sandbox strict (devices in sandboxed processes)
#   vmm-inproc   vmm-monitor --devices inproc
#   qemu-virt    QEMU -M virt,gic-version=3 -enable-kvm -cpu host: Debian's
#                qemu-system-arm:arm64, unpacked with its libraries into a
#                cache sysroot by bench/qemu-arm64.sh (never installed)
# Each with -smp/--cpus 2, 512 MiB (on 4 KiB pages: transparent huge pages
# off for the run, as in the x86-64 machine), a virtio-blk disk and the
# virtio-rng on PCI (QEMU's with disable-legacy=on: modern, as vmm's); kernel command line "console=ttyS0 panic=-1 quiet" for vmm (its
# 16550), "console=ttyAMA0 panic=-1 quiet" for QEMU (the PL011); QUIET=0
# leaves `quiet` off both. bench/arm64-inside.sh (busybox sh) runs the
# rounds and prints, per VMM, the medians (min-max) of the time from
# process start to the guest's first userspace line and to exit, the memory
# beyond guest RAM (Pss of the process tree as the userspace line arrives,
# minus the guest-RAM mappings), and the ratios vmm / QEMU, after the
# emulated machine's environment line. Everything is fetched and built
# here first (the emulated machine has no network); the disk images and
# each run's console output stay in $VMM_CACHE/arm64-bench/.
#
# usage: bench/arm64.sh [RUNS]   (default 3; each boot takes 15-60 s there)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
CACHE=${VMM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vmm}
case $RUNS in ''|*[!0-9]*|0) echo "usage: bench/arm64.sh [RUNS]" >&2; exit 2 ;; esac

./scripts/build.sh --arch arm64
IMG=$(tests/arm64/image.sh)
QEMU=$(bench/qemu-arm64.sh)
WORK=$CACHE/arm64-bench
mkdir -p "$WORK"
rm -f "$WORK"/*.log "$WORK"/*.img
for n in vmm-strict vmm-inproc qemu-virt; do truncate -s 4M "$WORK/$n.img"; done

echo "environment: this host: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1), $(nproc) CPUs;" \
     "QEMU $(sed -n 's/^qemu-system-arm:arm64=//p' "$QEMU/packages") for arm64 from $QEMU"
start=$SECONDS
set +e
./scripts/kvm-machine.sh --arch arm64 --timeout $((600 + RUNS * 3 * 300)) \
    sh bench/arm64-inside.sh "$RUNS" "$PWD/build-arm64/monitor/vmm-monitor" \
    "$QEMU/qemu-system-aarch64" "$IMG" "$WORK" "${QUIET:-1}" 2>&1 | sed -u 's/\r$//' | tee "$WORK/out"
rc=${PIPESTATUS[0]}
set -e
echo "arm64: $((SECONDS - start)) s from the runner's start, a wait for the machine's lock included (status $rc); console output of each run in $WORK"
echo "reproduce: QUIET=${QUIET:-1} bench/arm64.sh $RUNS"
exit "$rc"
