#!/usr/bin/env bash
# Debian's stock arm64 kernel under the arm64 vmm-monitor, in the arm64
# emulated machine (scripts/kvm-machine.sh --arch arm64): the guest image
# of tests/arm64/image.sh (busybox, virtio modules, tests/arm64/init), with
# --sandbox strict --cpus 2, a virtio-blk disk and the virtio-rng. Checked
# from what the guest printed and from the disk image afterwards:
# userspace reached, both CPUs online, the console on the MMIO 16550 (also
# as earlycon), the MC146818's time against the machine's clock, PCI
# through ECAM with both virtio functions bound and interrupting through
# the ITS, /dev/hwrng read, the guest's 1 MiB pattern found in the host's
# image, power-off with status 0, no device complaint in the kernel log
# and no sandbox violation.
#
#   tests/arm64/boot.sh          (from anywhere; builds build-arm64 if needed)
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
CACHE=${VMM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vmm}
fail() { echo "FAIL: $*"; exit 1; }
cd "$root" || exit 1

./scripts/build.sh --arch arm64 || fail "the arm64 cross build failed"
img=$(tests/arm64/image.sh) || fail "cannot make the arm64 guest image"
mkdir -p "$CACHE/arm64" || exit 1
work=$(mktemp -d "$CACHE/arm64/test.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT
truncate -s 4M "$work/disk.img"

start=$SECONDS
./scripts/kvm-machine.sh --arch arm64 --timeout 900 sh tests/arm64/run.sh \
    "$root/build-arm64/monitor/vmm-monitor" "$img" "$work/disk.img" \
    --sandbox strict --cpus 2 --mem 512M -v \
    --cmdline "console=ttyS0 earlycon panic=-1" >"$work/out" 2>&1
rc=$?
tr -d '\r' <"$work/out" >"$work/log"
echo "arm64: the emulated machine ran $((SECONDS - start)) s (status $rc); what it printed:"
sed 's/^/    /' "$work/log"
[ "$rc" = 0 ] || fail "the emulated machine failed (status $rc)"

has() { grep -qE "$1" "$work/log"; }
want() { has "$1" || fail "$2"; }
want '^arm64-run: monitor status 0$' "vmm-monitor did not exit with status 0"
want 'vmm-monitor: guest powered off' "the guest did not power off (PSCI SYSTEM_OFF)"
want '^vmm-arm64: userspace$' "the guest never reached userspace"
want '^vmm-arm64: cpus online 0-1$' "both CPUs are not online"
want '^vmm-arm64: console ttyS0$' "the console is not ttyS0 (the 16550)"
want 'earlycon: ns16550a0 at MMIO 0x0*1000000' "earlycon did not find the 16550 on MMIO"
want 'ttyS0 at MMIO 0x1000000 .* is a 16550A' "the 8250 driver did not bind the MMIO 16550"
want 'ITS: using cache flushing|ITS@0x0*8080000' "the guest found no ITS"
want '^vmm-arm64: pci 0000:00:01.0 0x1af4:0x1042 virtio-pci$' "virtio-blk is not bound at 00:01.0"
want '^vmm-arm64: pci 0000:00:02.0 0x1af4:0x1044 virtio-pci$' "virtio-rng is not bound at 00:02.0"
want '^vmm-arm64: irq: .*ITS-MSI.*virtio[0-9]-req' "virtio-blk does not interrupt through the ITS"
want '^vmm-arm64: hwrng ok' "/dev/hwrng gave no bytes"
want '^vmm-arm64: vda written$' "the guest could not write and read back its disk"
want '^vmm-arm64: done$' "the guest's checks did not finish"
if has 'sandbox.*(forbidden|violation|not in its profile)'; then
    fail "a sandbox violation: $(grep -E 'sandbox' "$work/log" | head -3)"
fi
if has '^vmm-arm64: klog: '; then
    fail "the kernel complained: $(grep '^vmm-arm64: klog: ' "$work/log" | head -5)"
fi

# The CMOS time the guest read against the machine's clock around the run.
before=$(sed -n 's/^arm64-run: clock before //p' "$work/log")
after=$(sed -n 's/^arm64-run: clock after //p' "$work/log")
cmos=$(sed -n 's/^vmm-arm64: cmos \([0-9][0-9]*\) .*/\1/p' "$work/log")
[ -n "$cmos" ] || fail "the guest read no time from the MC146818"
[ "$cmos" -ge $((before - 2)) ] && [ "$cmos" -le $((after + 2)) ] ||
    fail "the MC146818 said $cmos, the machine's clock ran from $before to $after"

# The guest's pattern, 16384 lines from byte 1 MiB, in the host's image.
line='vmm-arm64 disk pattern 0123456789 abcdefghijklmnopqrstuvwxyz !!'
n=$(dd if="$work/disk.img" bs=1M skip=1 count=1 2>/dev/null | grep -c -x -F "$line")
[ "$n" = 16384 ] || fail "the host's image holds $n of the guest's 16384 pattern lines"
echo "arm64: ok (CMOS $cmos within $before..$after; 16384 pattern lines in the image)"
