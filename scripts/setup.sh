#!/usr/bin/env bash
# Install everything vmm needs to build and test, then fetch the Debian kernel
# images the loader tests parse into a cache outside the repository.
# Idempotent: a second run only checks and returns.
set -euo pipefail

PKGS=(build-essential meson ninja-build pkg-config clang llvm lld
      libfdt-dev libseccomp-dev libprotobuf-c-dev protobuf-c-compiler
      libbpf-dev bpftool qemu-system-x86 busybox-static fio
      binutils cpio python3 time acpica-tools
      kmod util-linux  # scripts/kvm-machine.sh: depmod/modprobe, flock, setsid, unshare
      libclang-rt-14-dev  # libFuzzer, ASan and UBSan runtimes for tests/fuzz
      e2fsprogs xz-utils zstd  # zstd: the guest images' initramfs
      socat iproute2 iperf3  # tests/linux net and bench/net.sh: in the guest and on the host
      gcc-aarch64-linux-gnu qemu-system-arm device-tree-compiler  # the arm64 cross build and machine
      libseccomp-dev:arm64 libprotobuf-c-dev:arm64)  # multiarch: beside the amd64 ones

CACHE=${VMM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vmm}

SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo

# The arm64 cross build takes arm64 libraries from Debian's multiarch
# packages (libbpf-dev:arm64 is not one of them: it would upgrade amd64
# packages; arm64 builds go without the BPF tool).
if ! dpkg --print-foreign-architectures | grep -qx arm64; then
    echo "setup: adding the arm64 package architecture"
    $SUDO dpkg --add-architecture arm64
    $SUDO apt-get update -qq
fi

missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    $SUDO apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# Real bzImages for the loader unit tests: Debian's cloud kernel package.
mkdir -p "$CACHE/kernels"
if ! ls "$CACHE"/kernels/vmlinuz-* >/dev/null 2>&1; then
    tmp=$(mktemp -d)
    trap 'rm -rf "$tmp"' EXIT
    img=$("$(dirname "$0")/kernel-package.sh" linux-image-cloud-amd64 || true)
    if [ -n "$img" ] && (cd "$tmp" && apt-get download -qq "$img" >/dev/null 2>&1); then
        dpkg-deb -x "$tmp"/*.deb "$tmp/x"
        cp "$tmp"/x/boot/vmlinuz-* "$CACHE/kernels/"
        echo "setup: cached $(basename "$CACHE"/kernels/vmlinuz-*)"
    else
        echo "setup: could not download linux-image-cloud-amd64; loader tests on real bzImages will SKIP" >&2
    fi
fi
# libfdt for the arm64 cross build: libfdt-dev is not Multi-Arch (the arm64
# one would replace the amd64 one), so its arm64 packages are unpacked into
# a sysroot instead (scripts/build.sh --arch arm64 links libfdt.a from it).
sysroot=$CACHE/sysroot-arm64
fdtpkgs=$(for p in libfdt-dev libfdt1; do
    echo "$p:arm64=$(apt-cache policy "$p:arm64" 2>/dev/null | awk '$1 == "Candidate:" {print $2}')"
done)
if [ ! -f "$sysroot/usr/lib/aarch64-linux-gnu/libfdt.a" ] ||
    { ! grep -q '=(none)$\|=$' <<<"$fdtpkgs" && [ "$(cat "$sysroot/.packages" 2>/dev/null)" != "$fdtpkgs" ]; }; then
    ftmp=$(mktemp -d)
    trap 'rm -rf "${tmp:-}" "$ftmp"' EXIT
    # shellcheck disable=SC2086 # one package=version per word
    if (cd "$ftmp" && apt-get download -qq $fdtpkgs >/dev/null 2>&1); then
        rm -rf "$sysroot.new" && mkdir -p "$sysroot.new" &&
            for deb in "$ftmp"/*.deb; do dpkg-deb -x "$deb" "$sysroot.new" || exit 1; done &&
            echo "$fdtpkgs" >"$sysroot.new/.packages" &&
            rm -rf "$sysroot" && mv "$sysroot.new" "$sysroot"
        echo "setup: unpacked libfdt-dev:arm64 and libfdt1:arm64 into the arm64 sysroot $sysroot"
    else
        echo "setup: could not download libfdt-dev:arm64 libfdt1:arm64; the arm64 cross build needs them" >&2
    fi
    rm -rf "$ftmp"
fi
echo "setup: ok (cache $CACHE; arm64 sysroot $sysroot)"
