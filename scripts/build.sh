#!/usr/bin/env bash
# Configure (once) and build vmm.
#
#   scripts/build.sh                  this machine's architecture, into ./build (or $VMM_BUILD)
#   scripts/build.sh --arch arm64     an arm64 cross build into ./build-arm64 (or $VMM_BUILD),
#                                     with scripts/cross/aarch64-linux-gnu.ini and the arm64
#                                     libraries scripts/setup.sh installs (libfdt from its
#                                     sysroot, $VMM_CACHE/sysroot-arm64); no vmm-trace, no tests
#                                     (they run in the arm64 emulated machine: tests/arm64)
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE=${VMM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vmm}
arch=native
setup_failed() { echo "build: meson setup failed: $BUILD/meson-logs/meson-log.txt says why" >&2; exit 1; }
case "${1:-}" in
--arch) arch=${2:?--arch needs x86_64 or arm64} ;;
'') ;;
*) echo "usage: scripts/build.sh [--arch arm64]" >&2; exit 2 ;;
esac
case $arch in
native|x86_64|$(uname -m))
    BUILD=${VMM_BUILD:-build}
    [ -f "$BUILD/build.ninja" ] || meson setup "$BUILD" >/dev/null || setup_failed ;;
arm64|aarch64)
    BUILD=${VMM_BUILD:-build-arm64}
    fdt=${VMM_FDT_LIBDIR:-$CACHE/sysroot-arm64/usr/lib/aarch64-linux-gnu}
    [ -f "$fdt/libfdt.a" ] || { echo "build: no arm64 libfdt.a in $fdt: run scripts/setup.sh" >&2; exit 1; }
    [ -f "$BUILD/build.ninja" ] ||
        meson setup "$BUILD" --cross-file scripts/cross/aarch64-linux-gnu.ini \
            -Dfdt_libdir="$fdt" >/dev/null || setup_failed ;;
*) echo "build: --arch must be x86_64 or arm64, not '$arch'" >&2; exit 2 ;;
esac
ninja -C "$BUILD" >/dev/null || ninja -C "$BUILD"
