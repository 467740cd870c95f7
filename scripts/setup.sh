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
      e2fsprogs xz-utils
      socat iproute2 iperf3)  # tests/linux net and bench/net.sh: in the guest and on the host

CACHE=${VMM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vmm}

missing=()
for p in "${PKGS[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "setup: installing ${missing[*]}"
    SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
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
echo "setup: ok (cache $CACHE)"
