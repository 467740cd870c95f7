#!/usr/bin/env bash
# The stock-Linux guest: Debian's linux-image-cloud-amd64 bzImage and an
# initramfs made from Debian packages only (busybox-static, the virtio
# modules of the same kernel package with their modules.dep, and the host's
# fio, socat and iperf3 with the libraries ldd names) plus the project's /etc/inittab and
# /etc/vmm/rc (tests/linux/rc). No kernel is built.
#
#   tests/linux/image.sh      prints the directory holding bzImage and
#                             initramfs.cpio.zst (made once, into
#                             $VMM_CACHE/linux/<hash of the inputs>/)
#
# Exit status: 0 ready; 1 it could not be made (one line on stderr says why).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../image-lib.sh"
CACHE=${VMM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vmm}
RECIPE=2	# bump when what this script puts in the image changes
fail() { echo "linux image: $*" >&2; exit 1; }

# Modules the guest loads (with what modules.dep pulls in).
MODULES="virtio_pci virtio_mmio virtio_blk virtio_console virtio-rng virtio_net vmw_vsock_virtio_transport button evdev"

if ! kpkg=$("$here/../../scripts/kernel-package.sh" linux-image-cloud-amd64); then	# offline: the newest image already made
    d=$(ls -td "$CACHE"/linux/*/initramfs.cpio.zst 2>/dev/null | head -n 1)
    [ -n "$d" ] || fail "linux-image-cloud-amd64 is not in the package archive and no image is cached"
    dirname "$d"; exit 0
fi
kver=${kpkg#linux-image-}
bb=$(command -v busybox) || fail "busybox is missing: run scripts/setup.sh"
progs=()	# the host's programs the guest runs, with their libraries
for p in fio socat iperf3; do
    c=$(command -v "$p") || fail "$p is missing: run scripts/setup.sh"
    progs+=("$c")
done
key=$( { echo "$RECIPE $kpkg $MODULES"; cat "$here/rc" "$here/inittab" "$bb" "${progs[@]}"; } | sha256sum | cut -c1-16)
out=$CACHE/linux/$kver-$key
[ -f "$out/ready" ] && { echo "$out"; exit 0; }

mkdir -p "$CACHE/linux" || fail "cannot create $CACHE/linux"
tmp=$(mktemp -d "$CACHE/linux/make.XXXXXX") || fail "cannot create a work directory"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && apt-get download -qq "$kpkg" >/dev/null 2>&1) || fail "cannot download $kpkg"
dpkg-deb -x "$tmp"/linux-image-*.deb "$tmp/pkg" || fail "cannot unpack $kpkg"

root=$tmp/root
mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,run,mnt,etc/vmm,lib/modules/"$kver"} || fail "mkdir"
cp "$bb" "$root/bin/busybox" || fail "cp busybox"
for a in $("$bb" --list); do
    [ "$a" = busybox ] || ln -sf busybox "$root/bin/$a"
done
ln -sf ../bin/busybox "$root/sbin/init"
ln -sf bin/busybox "$root/init"
cp "$here/inittab" "$root/etc/inittab" && cp "$here/rc" "$root/etc/vmm/rc" && chmod 755 "$root/etc/vmm/rc" ||
    fail "cp inittab/rc"

# The modules and what they depend on, from the package's own tree.
image_modules "$tmp/pkg" "$kver" "$root" $MODULES

# fio, socat, iperf3 and the libraries they load, at the same paths.
for p in "${progs[@]}"; do
    cp "$p" "$root/bin/" || fail "cp $p"
    ldd "$p" | awk '/=> \// {print $3} /^\t\/lib/ {print $1}' | while read -r lib; do
        mkdir -p "$root$(dirname "$lib")" && cp -L "$lib" "$root$lib"
    done
done
[ -e "$root/lib64/ld-linux-x86-64.so.2" ] || fail "the dynamic loader was not found by ldd"

mkdir -p "$tmp/out"
cp "$tmp/pkg/boot/vmlinuz-$kver" "$tmp/out/bzImage" || fail "no vmlinuz in $kpkg"
echo "$kpkg" >"$tmp/out/kernel-package"
image_finish "$root" "$tmp/out" "$out" "$CACHE/linux/$kver-*"
