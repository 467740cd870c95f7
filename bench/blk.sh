#!/usr/bin/env bash
# virtio-blk throughput, side by side in one run: the virtio_bench test guest
# (tests/guest/virtio_bench.c: its own virtio-pci driver, 1 or 32 requests
# in flight, polling the used ring) does 4 KiB random reads, 1 MiB
# sequential reads and 1 MiB sequential writes on a disk backed by the same
# image file, under
#   vmm        vmm-monitor --sandbox strict --disk path=IMG  (ELF, 64-bit boot)
#   qemu-thr   QEMU -M pc, virtio-blk-pci (modern), cache=none, aio=threads
#   qemu-uring the same with aio=io_uring
# (QEMU boots the guest's bzImage through SeaBIOS, which assigns the BARs.)
# Prints IOPS (4k random reads) and MB/s (1M sequential) per depth, medians
# of RUNS alternating runs, and vmm / the faster QEMU. Goal: >= 1.00 on
# every row.
#
# usage: bench/blk.sh [RUNS]     (default 3; runs in the emulated machine where there is no real KVM)
#   OPS=N      4k random reads per run (default 4000)
#   SEQ_OPS=N  1 MiB sequential reads and writes per run (default 256)
#   DISK_MB=N  image size (default 512)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
bench_enter "$0" "$@"
RUNS=${1:-3}
OPS=${OPS:-4000}
SEQ_OPS=${SEQ_OPS:-256}
DISK_MB=${DISK_MB:-512}

# On a disk-backed filesystem (cache=none needs O_DIRECT, which tmpfs lacks).
WORK=$(mktemp -d "${BENCH_DIR:-/var/tmp}/vmm-blk.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
IMG=$WORK/disk.img
head -c "${DISK_MB}M" /dev/urandom >"$IMG"   # real blocks: nothing sparse to read for free
sync "$IMG"

ELF=$BUILD/tests/guest/virtio_bench.elf
BZ=$BUILD/tests/guest/virtio_bench.bzImage
ARGS="blk_depth=@DEPTH@ blk_ops=@OPS@ blk_seq_ops=@SEQ_OPS@"
VMM="$BUILD/monitor/vmm-monitor --kernel $ELF --mem 256M --sandbox strict
     --disk path=$IMG --cmdline '$ARGS'"
QEMU="qemu-system-x86_64 -enable-kvm -cpu host,-arch-capabilities -M pc -m 256M
      -nodefaults -no-user-config -nographic -serial stdio -no-reboot
      -device isa-debug-exit,iobase=0xf4,iosize=4 -kernel $BZ
      -append 'qemu_exit $ARGS'
      -device virtio-blk-pci,drive=d0,disable-legacy=on
      -drive if=none,id=d0,format=raw,file=$IMG,cache=none"

echo "blk: $RUNS runs each, alternating; ${DISK_MB} MiB image on $(df -T "$WORK" | awk 'NR==2 {print $2}')"
python3 bench/blkbench.py "$RUNS" "$OPS" "$SEQ_OPS" 1,32 \
    "vmm=$VMM" \
    "qemu-thr=$QEMU,aio=threads" \
    "qemu-uring=$QEMU,aio=io_uring"
echo "reproduce: OPS=$OPS SEQ_OPS=$SEQ_OPS DISK_MB=$DISK_MB bench/blk.sh $RUNS"
