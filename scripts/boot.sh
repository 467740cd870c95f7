#!/usr/bin/env bash
# The README's first command: install what is missing, build, and boot the
# default test guest on this terminal's serial console. Extra arguments go
# to vmm-monitor (e.g. --cpus 2 --mem 512M).
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh >/dev/null
./scripts/build.sh
BUILD=${VMM_BUILD:-build}
exec "$BUILD/monitor/vmm-monitor" --kernel "$BUILD/tests/guest/hello.bzImage" "$@"
