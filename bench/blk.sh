#!/usr/bin/env bash
# virtio-blk throughput with Linux's own driver, side by side in one run:
# Debian's stock cloud kernel and the project's initramfs (tests/linux/
# image.sh) run fio on /dev/vda (libaio, O_DIRECT: 4k random reads and
# writes at depth 1 and 32, 1M sequential reads and writes at depth 4;
# tests/linux/rc, check fiobench), the disk backed by the same image file,
# under
#   vmm-thr        vmm-monitor --sandbox strict --disk path=IMG,aio=threads
#   vmm-thr-direct   the same with direct=on (O_DIRECT)
#   vmm-native     --disk path=IMG,aio=native (Linux AIO)
#   vmm-native-direct  the same with direct=on
#   qemu-thr-none  QEMU -M pc, virtio-blk-pci (modern), aio=threads, cache=none
#   qemu-thr-wb    the same with cache=writeback
#   qemu-uring-none  aio=io_uring, cache=none
#   qemu-uring-wb    aio=io_uring, cache=writeback
# all with 2 vCPUs and 512 MiB. Prints IOPS or MB/s per job (medians of RUNS
# alternating runs) and each vmm configuration / the best QEMU. Goal: >= 1.00
# on every row.
#
# usage: bench/blk.sh [RUNS]     (default 3; runs in the emulated machine
#                                 where there is no real KVM)
#   FIO_RUNTIME=S  seconds per fio job (default 4, after a 1 s ramp)
#   DISK_MB=N      image size (default 512)
#   CONFIGS="NAME ..."  only these configurations (default: all eight)
#   FIO_JOBS=RW:BS:QD,...  only these fio jobs (default: the six above;
#                  e.g. read:1m:4,write:1m:4)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
BENCH_KNOBS="FIO_RUNTIME DISK_MB BENCH_DIR CONFIGS FIO_JOBS"
bench_enter "$0" "$@"
RUNS=${1:-3}
FIO_RUNTIME=${FIO_RUNTIME:-4}
DISK_MB=${DISK_MB:-512}
IMGDIR=$(tests/linux/image.sh)

# The image on a filesystem with O_DIRECT (QEMU's cache=none needs it). The
# emulated machine's / is 9p and its /tmp a tmpfs (no O_DIRECT on its 6.1
# kernel): there, an ext4 on a loop device over that tmpfs.
if [ -n "${VMM_MACHINE:-}" ]; then
    WORK=$(mktemp -d /tmp/vmm-blk.XXXXXX)
else
    WORK=$(mktemp -d "${BENCH_DIR:-/var/tmp}/vmm-blk.XXXXXX")
fi
cleanup() { mountpoint -q "$WORK/fs" && umount "$WORK/fs"; rm -rf "$WORK"; }
trap cleanup EXIT
DIR=$WORK
if [ -n "${VMM_MACHINE:-}" ]; then
    truncate -s $((DISK_MB + 64))M "$WORK/fs.img" && mkfs.ext4 -q -F "$WORK/fs.img" &&
        mkdir "$WORK/fs" && modprobe loop && mount -o loop "$WORK/fs.img" "$WORK/fs" ||
        { echo "blk: cannot make an ext4 on a loop device in $WORK" >&2; exit 1; }
    DIR=$WORK/fs
fi
dd if=/dev/zero of="$DIR/probe" bs=4k count=1 oflag=direct 2>/dev/null ||
    { echo "blk: $DIR has no O_DIRECT (set BENCH_DIR)" >&2; exit 1; }
IMG=$DIR/disk.img
head -c "${DISK_MB}M" /dev/urandom >"$IMG"   # real blocks: nothing sparse to read for free
sync "$IMG"

CMDLINE="console=ttyS0 reboot=k panic=-1 quiet vmm.check=fiobench vmm.fio_runtime=$FIO_RUNTIME${FIO_JOBS:+ vmm.fio_jobs=$FIO_JOBS}"
VMM="$BUILD/monitor/vmm-monitor --kernel $IMGDIR/bzImage --initrd $IMGDIR/initramfs.cpio.zst
     --cpus 2 --mem 512M --sandbox strict --cmdline '$CMDLINE' --disk path=$IMG"
QEMU="qemu-system-x86_64 -enable-kvm -cpu host -M pc -smp 2 -m 512M -nodefaults
      -no-user-config -nographic -serial stdio -no-reboot -kernel $IMGDIR/bzImage
      -initrd $IMGDIR/initramfs.cpio.zst -append '$CMDLINE'
      -device virtio-blk-pci,drive=d0,disable-legacy=on
      -drive if=none,id=d0,format=raw,file=$IMG"

echo "blk: $RUNS runs each, alternating; $(cat "$IMGDIR/kernel-package"); fio ${FIO_RUNTIME} s per job;" \
     "${DISK_MB} MiB image on $(df -T "$DIR" | awk 'NR==2 {print $2}')${VMM_MACHINE:+ (loop device over tmpfs)}"
ALL=("vmm-thr=$VMM,aio=threads"
     "vmm-thr-direct=$VMM,aio=threads,direct=on"
     "vmm-native=$VMM,aio=native"
     "vmm-native-direct=$VMM,aio=native,direct=on"
     "qemu-thr-none=$QEMU,aio=threads,cache=none"
     "qemu-thr-wb=$QEMU,aio=threads,cache=writeback"
     "qemu-uring-none=$QEMU,aio=io_uring,cache=none"
     "qemu-uring-wb=$QEMU,aio=io_uring,cache=writeback")
PICKED=()
for c in "${ALL[@]}"; do
    [ -z "${CONFIGS:-}" ] || [[ " $CONFIGS " == *" ${c%%=*} "* ]] && PICKED+=("$c")
done
[ "${#PICKED[@]}" -gt 0 ] || { echo "blk: CONFIGS=$CONFIGS names none of: ${ALL[*]%%=*}" >&2; exit 2; }
python3 bench/guestbench.py fio "$RUNS" "${PICKED[@]}"
echo "reproduce: FIO_RUNTIME=$FIO_RUNTIME DISK_MB=$DISK_MB${CONFIGS:+ CONFIGS=\"$CONFIGS\"}${FIO_JOBS:+ FIO_JOBS=$FIO_JOBS} bench/blk.sh $RUNS"
