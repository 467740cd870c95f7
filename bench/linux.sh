#!/usr/bin/env bash
# The Linux test kernel (tests/linux) held against QEMU: the same vmlinux,
# the same disks and the same command line under vmm-monitor (64-bit boot
# protocol, devices in sandboxed processes) and under QEMU 7.2 (-M pc, PVH
# entry of the same vmlinux, SeaBIOS, virtio-pci modern-only devices).
# Prints, per milestone, the median time since the process started (host
# clock) and the kernel's own printk time of that line, for both.
#
# QEMU gets "+invtsc": vmm-monitor passes KVM's invariant-TSC bit through,
# QEMU's "-cpu host" hides it; without it the kernel verifies the TSC with a
# watchdog whose kthread exits, and a kthread's exit runs `fwait`, which
# PVM cannot emulate (MACHINE.md): QEMU's run dies there.
#
# usage: bench/linux.sh [RUNS]      (default 3; needs /dev/kvm and QEMU)
set -euo pipefail
cd "$(dirname "$0")/.."
RUNS=${1:-3}
BUILD=${VMM_BUILD:-build}
./scripts/build.sh
[ -r /dev/kvm ] && [ -w /dev/kvm ] || { echo "SKIP: /dev/kvm is not usable"; exit 77; }
command -v qemu-system-x86_64 >/dev/null || { echo "SKIP: qemu-system-x86_64 not installed (scripts/setup.sh)"; exit 77; }
. tests/linux/lib.sh
rc=0
linux_kernel fast || rc=$?
[ "$rc" != 77 ] || { echo "SKIP: $LINUX_SKIP"; exit 77; }
[ "$rc" = 0 ] || exit 1

TMP=$(mktemp -d "${TMPDIR:-/tmp}/vmm-linux-bench.XXXXXX")
# VMM_BENCH_KEEP=DIR keeps every console log (for comparing what Linux said).
trap '[ -z "${VMM_BENCH_KEEP:-}" ] || cp "$TMP"/*.tlog "$TMP"/*.err "$VMM_BENCH_KEEP"/; rm -rf "$TMP"' EXIT
K=$LINUX_KDIR/vmlinux
D=$TMP/disks

vmm_cmd() {
	echo "$BUILD/monitor/vmm-monitor --kernel $K --mem 128M" \
		"--disk path=$D/root.img --disk path=$D/parts.img,readonly=on" \
		"--console out=$D/hvc0.out"
}

qemu_cmd() {
	echo "qemu-system-x86_64 -enable-kvm -cpu host,-arch-capabilities,+invtsc -M pc" \
		"-m 128M -nodefaults -no-user-config -nographic -serial stdio -no-reboot -kernel $K" \
		"-drive file=$D/root.img,if=none,id=d0,format=raw -device virtio-blk-pci,drive=d0,disable-legacy=on" \
		"-drive file=$D/parts.img,if=none,id=d1,format=raw,readonly=on -device virtio-blk-pci,drive=d1,disable-legacy=on" \
		"-device virtio-rng-pci,disable-legacy=on" \
		"-device virtio-serial-pci,disable-legacy=on -chardev file,id=hvc,path=$D/hvc0.out -device virtconsole,chardev=hvc"
}

echo "linux: $RUNS runs each, alternating; kernel $K"
echo "cmdline: $LINUX_CMDLINE"
for ((i = 0; i < RUNS; i++)); do
	mkdir -p "$D"
	linux_make_disks "$D"
	# shellcheck disable=SC2046 # the commands are split on purpose
	python3 tests/linux/consolelog.py run --timeout 240 --out "$TMP/vmm.$i.out" \
		--tlog "$TMP/vmm.$i.tlog" --err "$TMP/vmm.$i.err" -- \
		$(vmm_cmd) --cmdline "$LINUX_CMDLINE" >/dev/null 2>&1 || true
	linux_make_disks "$D"
	python3 tests/linux/consolelog.py run --timeout 240 --out "$TMP/qemu.$i.out" \
		--tlog "$TMP/qemu.$i.tlog" --err "$TMP/qemu.$i.err" -- \
		$(qemu_cmd) -append "$LINUX_CMDLINE" >/dev/null 2>&1 || true
done

python3 - "$TMP" "$RUNS" <<'EOF'
import statistics, subprocess, sys
tmp, runs = sys.argv[1], int(sys.argv[2])
def ms(name, i):
    out = subprocess.run(["python3", "tests/linux/consolelog.py", "milestones",
                          "%s/%s.%d.tlog" % (tmp, name, i)], capture_output=True, text=True).stdout
    return {l.split()[0]: l.split()[1:] for l in out.splitlines()}
rows = {}
for name in ("vmm", "qemu"):
    per = [ms(name, i) for i in range(runs)]
    for key in per[0]:
        for col in (0, 1):
            vals = [float(p[key][col]) for p in per if p.get(key, ["-", "-"])[col] != "-"]
            rows.setdefault(key, {})[(name, col)] = (statistics.median(vals), len(vals)) if vals else None
def cell(v):
    return "%6.2f s (%d)" % v if v else "%12s" % "-"
print("%-20s %-14s %-14s %-14s %-14s" % ("milestone (median, n)", "vmm host", "qemu host", "vmm kernel", "qemu kernel"))
for key, r in rows.items():
    print("%-20s %-14s %-14s %-14s %-14s" % (key, cell(r[("vmm", 0)]), cell(r[("qemu", 0)]),
                                             cell(r[("vmm", 1)]), cell(r[("qemu", 1)])))
print("host: seconds since the process started; kernel: the line's printk time.")
EOF
echo "reproduce: bench/linux.sh $RUNS"
