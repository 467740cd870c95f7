#!/usr/bin/env bash
# Configure (once) and build vmm into ./build (or $VMM_BUILD).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${VMM_BUILD:-build}
[ -f "$BUILD/build.ninja" ] || meson setup "$BUILD" >/dev/null
ninja -C "$BUILD" >/dev/null || ninja -C "$BUILD"
