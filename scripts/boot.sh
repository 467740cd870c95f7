#!/usr/bin/env bash
# The README's first command: install what is missing, build, and boot the
# default guest -- Debian's stock cloud kernel with the project's busybox
# initramfs (tests/linux/image.sh) -- under vmm-monitor --sandbox strict
# with 2 vCPUs, on this terminal's serial console: a root shell on ttyS0;
# `poweroff` (or Ctrl-A x) ends the VM with status 0. When stdin is not a
# terminal, the guest runs a short scripted check of its devices instead
# and powers off (for CI). Extra arguments go to vmm-monitor after the
# defaults (e.g. --cpus 4 --mem 1G). Where this machine has no real KVM,
# the VM runs inside an emulated machine with kvm-amd
# (scripts/kvm-machine.sh), which says so first; console, Ctrl-A x and the
# exit status are the same.
set -euo pipefail
cd "$(dirname "$0")/.."
./scripts/setup.sh >/dev/null
./scripts/build.sh
BUILD=${VMM_BUILD:-build}
img=$(tests/linux/image.sh)
cmdline="console=ttyS0 reboot=k panic=-1 quiet"
[ -t 0 ] || cmdline+=" vmm.check=cpus,rng,irqs"
exec ./scripts/kvm-machine.sh "$BUILD/monitor/vmm-monitor" --kernel "$img/bzImage" \
    --initrd "$img/initramfs.cpio.zst" --cpus 2 --mem 512M --cmdline "$cmdline" "$@"
