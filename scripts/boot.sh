#!/usr/bin/env bash
# The README's first command: install what is missing, build, and boot the
# default test guest on this terminal's serial console. Extra arguments go
# to vmm-monitor (e.g. --cpus 2 --mem 512M). Where this machine has no real
# KVM, the VM runs inside an emulated machine with kvm-amd
# (scripts/kvm-machine.sh), which says so first; the console, Ctrl-A x and
# the exit status are the same.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh >/dev/null
./scripts/build.sh
BUILD=${VMM_BUILD:-build}
where=$(./scripts/kvm-machine.sh --where)
if [ "$where" != native ]; then
    echo "boot: ${where#emulated: }: running the VM inside an emulated machine with kvm-amd" \
         "(scripts/kvm-machine.sh); it takes ~15 s more to start and runs slower" >&2
fi
exec ./scripts/kvm-machine.sh "$BUILD/monitor/vmm-monitor" --kernel "$BUILD/tests/guest/hello.bzImage" "$@"
