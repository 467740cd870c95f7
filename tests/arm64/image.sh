#!/usr/bin/env bash
# The arm64 guest: Debian's linux-image-arm64 Image (the same package as the
# emulated arm64 machine's, scripts/kvm-machine.sh --arch arm64) and an
# initramfs made from Debian packages only: busybox-static:arm64 (unpacked,
# never installed), the modules virtio_pci, virtio_blk and virtio-rng of
# the same kernel package with what modules.dep pulls in (and
# modules.dep/modules.alias made by depmod -b, for busybox's modprobe), and
# tests/arm64/init as /init (it prints "vmm-arm64: ..." lines and powers
# off; the lines are listed there). No kernel is built.
#
#   tests/arm64/image.sh      prints the directory holding Image and
#                             initramfs.cpio.zst (made once, into
#                             $VMM_CACHE/arm64/<kernel version>-<hash of
#                             the inputs>/)
#
# Exit status: 0 ready; 1 it could not be made (one line on stderr says why).
set -uo pipefail
here=$(cd "$(dirname "$0")" && pwd)
. "$here/../image-lib.sh"
CACHE=${VMM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vmm}
RECIPE=2	# bump when what this script puts in the image changes
fail() { echo "arm64 image: $*" >&2; exit 1; }

# Modules the guest loads (with what modules.dep pulls in).
MODULES="virtio_pci virtio_blk virtio-rng"

newest() {	# offline: the newest image already made
    local d
    d=$(ls -td "$CACHE"/arm64/*/initramfs.cpio.zst 2>/dev/null | head -n 1)
    [ -n "$d" ] || fail "$1"
    dirname "$d"; exit 0
}
kpkg=$("$here/../../scripts/kernel-package.sh" linux-image-arm64) ||
    newest "linux-image-arm64 is not in the package archive and no image is cached"
kpkg=${kpkg%:arm64}	# linux-image-6.1.0-57-arm64
kver=${kpkg#linux-image-}
bbver=$(apt-cache policy busybox-static:arm64 2>/dev/null | awk '$1 == "Candidate:" {print $2}')
[ -n "$bbver" ] && [ "$bbver" != "(none)" ] ||
    newest "busybox-static:arm64 is not in the package archive (dpkg --add-architecture arm64: scripts/setup.sh)"
key=$( { echo "$RECIPE $kpkg busybox-static:arm64=$bbver $MODULES"; cat "$here/init"; } | sha256sum | cut -c1-16)
out=$CACHE/arm64/$kver-$key
[ -f "$out/ready" ] && { echo "$out"; exit 0; }

mkdir -p "$CACHE/arm64" || fail "cannot create $CACHE/arm64"
tmp=$(mktemp -d "$CACHE/arm64/make.XXXXXX") || fail "cannot create a work directory"
trap 'rm -rf "$tmp"' EXIT
(cd "$tmp" && apt-get download -qq "$kpkg:arm64" "busybox-static:arm64=$bbver" >/dev/null 2>&1) ||
    fail "cannot download $kpkg:arm64 and busybox-static:arm64=$bbver"
dpkg-deb -x "$tmp"/linux-image-*.deb "$tmp/pkg" || fail "cannot unpack $kpkg"
dpkg-deb -x "$tmp"/busybox-static_*.deb "$tmp/bb" || fail "cannot unpack busybox-static:arm64"

# The applets' links are made by /init at boot (busybox --install -s): the
# arm64 busybox cannot run here to list them.
root=$tmp/root
mkdir -p "$root"/{bin,sbin,dev,proc,sys,tmp,lib/modules/"$kver"} || fail "mkdir"
cp "$tmp/bb/bin/busybox" "$root/bin/busybox" && ln -s busybox "$root/bin/sh" || fail "cp busybox"
cp "$here/init" "$root/init" && chmod 755 "$root/init" || fail "cp init"

# The modules and what they depend on, from the package's own tree.
image_modules "$tmp/pkg" "$kver" "$root" $MODULES

mkdir -p "$tmp/out"
cp "$tmp/pkg/boot/vmlinuz-$kver" "$tmp/out/Image" || fail "no vmlinuz in $kpkg"
echo "$kpkg busybox-static:arm64=$bbver" >"$tmp/out/packages"
image_finish "$root" "$tmp/out" "$out" "$CACHE/arm64/$kver-*"
