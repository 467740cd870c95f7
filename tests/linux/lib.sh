# The Linux test kernel's surroundings, shared by tests/linux/boot.sh and
# bench/linux.sh (bash; sourced, not run): the kernel (built or found in the
# cache by build.sh), the disks it boots from, and the command line.

LINUX_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

# The test's default command line (../shared/MACHINE.md, "What it needs"):
#   noxsave clearcpuid=308,151,141  keep the kernel off xrstor, clac (SMAP,
#       9*32+20), popcnt (4*32+23) and cmpxchg16b (4*32+13), which PVM's
#       emulator cannot run at CPL0 (noxsave is read by early code, although
#       6.1 then calls it "unknown" and passes it on to init);
#   root=/dev/vda rootfstype=ext2 rw  the first virtio-blk disk, mounted by
#       the kernel itself (no initramfs);
#   console=ttyS0 console=hvc0  the log on the 8250 and on virtio-console
#       (hvc0 replays it from the start: the host finds it in the file);
#   panic=-1 reboot=k  init fails on purpose (see linux_make_disks), the
#       kernel panics and at once resets through the i8042, which ends the VM.
LINUX_CMDLINE="console=ttyS0 console=hvc0 noxsave clearcpuid=308,151,141 root=/dev/vda rootfstype=ext2 rw panic=-1 reboot=k"

# linux_kernel VARIANT: build or find the kernel; sets LINUX_KDIR (holds
# vmlinux, bzImage, config). Returns 77 with LINUX_SKIP set if the kernel
# cannot be built here, 1 if the build failed (its log tail on stderr).
linux_kernel() {
	local out rc=0
	out=$("$LINUX_DIR/build.sh" "$1") || rc=$?
	case $rc in
	0) LINUX_KDIR=$(printf '%s\n' "$out" | tail -n 1) ;;
	77) LINUX_SKIP=$(printf '%s\n' "$out" | sed -n 's/^SKIP: //p' | head -n 1) ;;
	esac
	return $rc
}

# linux_make_disks DIR: DIR/root.img, a 4 MiB ext2 filesystem (no partition
# table: root=/dev/vda) holding /dev, /etc/vmm-test and an /sbin/init that
# is not a program: the kernel must find it and read its first bytes to
# say "exists but couldn't execute it (error -8)", so that line proves a
# lookup and a data read through virtio-blk; then it panics for want of
# an init (userspace cannot run under PVM, MACHINE.md). DIR/parts.img, a
# 2 MiB disk with an MBR partition table of two Linux partitions
# (vdb1: sectors 2048-3071, vdb2: 3072-4095), given to the guest read-only.
linux_make_disks() {
	local d=$1 tree=$1/rootfs
	rm -rf "$tree" "$d/root.img" "$d/parts.img"
	mkdir -p "$tree/dev" "$tree/sbin" "$tree/etc" || return 1
	printf 'not a program: tests/linux/lib.sh wants "exists but could not execute it"\n' \
		>"$tree/sbin/init" && chmod 755 "$tree/sbin/init" || return 1
	echo "vmm tests/linux root filesystem" >"$tree/etc/vmm-test" || return 1
	mkfs.ext2 -q -F -L vmmroot -d "$tree" "$d/root.img" 4M >/dev/null 2>&1 || return 1
	python3 - "$d/parts.img" <<'EOF' || return 1
import struct, sys
img = bytearray(2 << 20)
def part(kind, lba, n):  # status, CHS (unused), type, CHS, first LBA, sectors
    return struct.pack("<B3sB3sII", 0, b"\xfe\xff\xff", kind, b"\xfe\xff\xff", lba, n)
img[440:444] = struct.pack("<I", 0x564d4d31)  # disk signature
img[446:478] = part(0x83, 2048, 1024) + part(0x83, 3072, 1024)
img[510:512] = b"\x55\xaa"
open(sys.argv[1], "wb").write(img)
EOF
}

# What the host checks that the guest did to root.img: the kernel's rw
# mount writes the superblock at once (mount count 1, state not clean:
# the kernel never unmounts, it panics).
linux_root_mount_count() {
	dumpe2fs -h "$1" 2>/dev/null | awk -F: '/^Mount count:/ {gsub(/ /, "", $2); print $2}'
}
