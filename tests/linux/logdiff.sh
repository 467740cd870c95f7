#!/usr/bin/env bash
# What Linux logs under vmm-monitor and under QEMU for the same devices:
# Debian's stock cloud kernel and the project's initramfs (image.sh), 2
# vCPUs, 512 MiB, one virtio-blk (64 MiB, blank) and virtio-rng, booted
# under `vmm-monitor --sandbox strict` and QEMU `-enable-kvm -M pc` with
# virtio-blk-pci and virtio-rng-pci; the guest prints its kernel log (check
# dmesg). Prints the lines only one of them logged, compared with numbers,
# addresses and times masked (the lines themselves are printed whole).
# Where the README lists the differences, this is how they were found.
#
# usage: tests/linux/logdiff.sh   (in the emulated machine where there is
#                                  no real KVM)
#   VMM_LOGDIFF_KEEP=DIR  also copy both consoles (with timestamps) into DIR
set -euo pipefail
. "$(dirname "$0")/../../bench/lib.sh"
bench_enter "$0" "$@"
IMG=$(tests/linux/image.sh)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/vmm-logdiff.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
truncate -s 64M "$WORK/vmm.img" "$WORK/qemu.img"
CMDLINE="console=ttyS0 reboot=k panic=-1 quiet vmm.check=cpus,dmesg vmm.cpus=2"

timeout 300 "$BUILD/monitor/vmm-monitor" --kernel "$IMG/bzImage" --initrd "$IMG/initramfs.cpio.zst" \
    --cpus 2 --mem 512M --sandbox strict --disk "path=$WORK/vmm.img" --cmdline "$CMDLINE" \
    </dev/null >"$WORK/vmm.out" 2>"$WORK/vmm.err" || { echo "logdiff: vmm-monitor failed (status $?):"; tail "$WORK/vmm.err" "$WORK/vmm.out"; exit 1; }
timeout 300 qemu-system-x86_64 -enable-kvm -cpu host -M pc -smp 2 -m 512M -nodefaults \
    -no-user-config -nographic -serial stdio -no-reboot -kernel "$IMG/bzImage" \
    -initrd "$IMG/initramfs.cpio.zst" -append "$CMDLINE" \
    -drive "if=none,id=d0,format=raw,file=$WORK/qemu.img" \
    -device virtio-blk-pci,drive=d0,disable-legacy=on -device virtio-rng-pci,disable-legacy=on \
    </dev/null >"$WORK/qemu.out" 2>"$WORK/qemu.err" || { echo "logdiff: QEMU failed (status $?):"; tail "$WORK/qemu.err" "$WORK/qemu.out"; exit 1; }

# The kernel log of one run, without timestamps.
klog() { tr -d '\r' <"$1" | sed -n '/^vmm-linux: dmesg begin$/,/^vmm-linux: dmesg end$/p' |
    sed '1d;$d; s/^\[ *[0-9.]*\] //'; }
# A line's shape: hex and decimal numbers masked.
shape() { sed -E 's/0x[0-9a-fA-F]+/H/g; s/\b[0-9a-fA-F]{4,}\b/H/g; s/[0-9]+/N/g'; }
klog "$WORK/vmm.out" >"$WORK/vmm.log"; klog "$WORK/qemu.out" >"$WORK/qemu.log"
[ -z "${VMM_LOGDIFF_KEEP:-}" ] || cp "$WORK/vmm.out" "$WORK/qemu.out" "$WORK/vmm.err" "$VMM_LOGDIFF_KEEP/"
[ -s "$WORK/vmm.log" ] && [ -s "$WORK/qemu.log" ] || { echo "logdiff: a run printed no kernel log"; exit 1; }
only() {	# lines of $1 whose shape $2 never logged
    shape <"$WORK/$2.log" | sort -u >"$WORK/$2.shapes"
    paste -d '\t' <(shape <"$WORK/$1.log") "$WORK/$1.log" |
        awk -F'\t' 'NR == FNR { s[$0] = 1; next } !($1 in s) { print "  " $2 }' "$WORK/$2.shapes" -
}
echo "== only under vmm-monitor ($(wc -l <"$WORK/vmm.log") lines in all)"; only vmm qemu
echo "== only under QEMU -M pc ($(wc -l <"$WORK/qemu.log") lines in all)"; only qemu vmm
