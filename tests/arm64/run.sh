#!/bin/sh
# Inside the arm64 emulated machine (busybox ash): boot the arm64 guest
# image under vmm-monitor and say what happened, for tests/arm64/boot.sh.
#
#   run.sh MONITOR IMAGE_DIR DISK [MONITOR OPTION...]
#
# Prints the machine's clock before and after (for the guest's CMOS time)
# and the monitor's exit status, each on a line of its own.
mon=$1 dir=$2 disk=$3
shift 3
echo "arm64-run: clock before $(date -u +%s)"
timeout 600 "$mon" --kernel "$dir/Image" --initrd "$dir/initramfs.cpio.zst" \
    --disk "path=$disk" "$@" </dev/null 2>&1
st=$?
echo "arm64-run: clock after $(date -u +%s)"
echo "arm64-run: monitor status $st"
