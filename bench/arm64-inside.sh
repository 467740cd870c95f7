#!/bin/sh
# Inside the arm64 emulated machine (busybox ash, POSIX sh), for
# bench/arm64.sh: RUNS rounds, each booting the arm64 guest image once
# under every one of, in this order,
#   vmm-strict   vmm-monitor --sandbox strict
#   vmm-inproc   vmm-monitor --devices inproc
#   qemu-virt    QEMU -M virt,gic-version=3 -enable-kvm -cpu host
# with 2 CPUs, 512 MiB on 4 KiB pages (transparent huge pages off for the
# run), the same Image and initramfs, a virtio-blk disk and the virtio-rng
# on PCI (QEMU's modern-only, disable-legacy=on, as vmm's); then a table
# of medians (min-max) and the ratios against QEMU.
#
#   sh arm64-inside.sh RUNS MONITOR QEMU_WRAPPER IMAGE_DIR WORK_DIR [QUIET]
#
# QEMU_WRAPPER is bench/qemu-arm64.sh's sh script; WORK_DIR holds one raw
# disk image per VMM (vmm-strict.img, vmm-inproc.img, qemu-virt.img) and
# gets each run's console output (NAME.ROUND.log). QUIET=1 (default) puts
# `quiet` on both command lines, 0 leaves it off.
#
# Per run: the time from just before the process starts to the guest's
# first "vmm-arm64: userspace" line and to the process's exit (a
# millisecond clock: date +%s%N, or /proc/uptime where busybox's date has
# no %N), its exit status (0 expected), and, as the userspace line arrives,
# the memory the VMM costs beyond guest RAM: Pss summed over the process
# and its descendants (the monitor and its device processes; or QEMU) from
# /proc/PID/smaps, minus the Pss of the mappings of 0.9x-1.1x the guest's
# RAM, as bench/timerun.py counts it on x86-64. One line per run:
#   arm64-bench: run NAME ROUND first MS exit MS status S beyond KIB procs N
runs=$1 mon=$2 qemu=$3 img=$4 work=$5 quiet=${6:-1}
RAM_MB=512
RAM_KIB=$((RAM_MB * 1024))
Q=; [ "$quiet" = 0 ] || Q=" quiet"
VCMD="console=ttyS0 panic=-1$Q"
QCMD="console=ttyAMA0 panic=-1$Q"

n=$(date +%N 2>/dev/null)
case $n in ''|*[!0-9]*) clock=/proc/uptime ;; *) clock="date +%s%N" ;; esac
now() {
    if [ "$clock" = /proc/uptime ]; then	# centiseconds, with no fork
        read -r up _ </proc/uptime
        echo $((${up%.*}${up#*.} * 10))
    else
        echo $(($(date +%s%N) / 1000000))
    fi
}

# The PIDs of $1 and of every descendant of it, one a line.
tree() {
    cat /proc/[0-9]*/stat 2>/dev/null | awk -v root="$1" '
        { pid = $1; s = $0; sub(/.*\) /, "", s); split(s, f, " "); parent[pid] = f[2] }
        END {
            want[root] = 1; n = 1; print root
            while (n) {
                n = 0
                for (p in parent) if (!(p in want) && (parent[p] in want)) { want[p] = 1; print p; n++ }
            }
        }'
}
# Pss (KiB) of the tree beyond guest RAM, and how many processes: "KIB N".
beyond() {
    pids=$(tree "$1")
    for p in $pids; do
        cat "/proc/$p/smaps" 2>/dev/null
    done | awk -v ram="$RAM_KIB" '
        $1 == "Size:" { size = $2 }
        $1 == "Pss:" { pss += $2; if (size >= 0.9 * ram && size <= 1.1 * ram) g += $2 }
        END { printf "%d", pss - g }'
    echo " procs $(echo $pids | wc -w)"
}

# run NAME ROUND CMD...: one boot, one "arm64-bench: run" line.
run() {
    name=$1 round=$2
    shift 2
    log=$work/$name.$round.log
    rm -f "$work/pid" "$work/first" "$work/status"
    : >"$log"
    t0=$(now)
    {
        # the VMM's own PID (timeout execs it: busybox's watcher is a fork)
        sh -c 'echo $$ >"$0"; exec timeout 600 "$@"' "$work/pid" "$@" </dev/null 2>&1
        echo $? >"$work/status"
    } | while IFS= read -r l; do
        printf '%s\n' "$l" >>"$log"
        case $l in
        *"vmm-arm64: userspace"*)
            if [ ! -f "$work/first" ]; then
                echo $(($(now) - t0)) >"$work/first"
                beyond "$(cat "$work/pid")" >"$work/mem"
            fi ;;
        esac
    done
    t1=$(now)
    first=-; [ -f "$work/first" ] && first=$(cat "$work/first")
    mem="- procs 0"; [ -f "$work/first" ] && mem=$(cat "$work/mem")
    echo "arm64-bench: run $name $round first $first exit $((t1 - t0)) status $(cat "$work/status" 2>/dev/null || echo -) beyond $mem"
}

# Guest RAM on 4 KiB pages for both, as in the x86-64 machine: QEMU asks
# for transparent huge pages (MADV_HUGEPAGE), vmm's memfd gets them only
# through shmem_enabled; both off for the run, put back after.
thp=/sys/kernel/mm/transparent_hugepage
thp_was=$(sed 's/.*\[\(.*\)\].*/\1/' $thp/enabled 2>/dev/null)
shm_was=$(sed 's/.*\[\(.*\)\].*/\1/' $thp/shmem_enabled 2>/dev/null)
echo never >$thp/enabled 2>/dev/null; echo never >$thp/shmem_enabled 2>/dev/null
echo "arm64-bench: environment: ${VMM_MACHINE:-unknown}; $(nproc) CPUs, $(uname -r); clock: $clock;" \
     "THP $(cat $thp/enabled 2>/dev/null), shmem $(cat $thp/shmem_enabled 2>/dev/null)"
echo "arm64-bench: $runs rounds, alternating; $(cat "$img/packages"); vmm cmdline: $VCMD; QEMU cmdline: $QCMD"
began=$(now)
r=1
while [ $r -le "$runs" ]; do
    run vmm-strict $r "$mon" --kernel "$img/Image" --initrd "$img/initramfs.cpio.zst" --cpus 2 \
        --mem ${RAM_MB}M --disk "path=$work/vmm-strict.img" --sandbox strict --cmdline "$VCMD"
    run vmm-inproc $r "$mon" --kernel "$img/Image" --initrd "$img/initramfs.cpio.zst" --cpus 2 \
        --mem ${RAM_MB}M --disk "path=$work/vmm-inproc.img" --devices inproc --cmdline "$VCMD"
    run qemu-virt $r sh "$qemu" -M virt,gic-version=3 -enable-kvm -cpu host -smp 2 -m ${RAM_MB}M \
        -nodefaults -no-user-config -nographic -serial stdio -no-reboot \
        -kernel "$img/Image" -initrd "$img/initramfs.cpio.zst" -append "$QCMD" \
        -device virtio-blk-pci,drive=d0,disable-legacy=on \
        -drive if=none,id=d0,format=raw,file="$work/qemu-virt.img" \
        -device virtio-rng-pci,disable-legacy=on
    r=$((r + 1))
done | tee "$work/runs"

echo "arm64-bench: $runs rounds took $(( ($(now) - began) / 1000 )) s"
[ -z "$thp_was" ] || echo "$thp_was" >$thp/enabled 2>/dev/null
[ -z "$shm_was" ] || echo "$shm_was" >$thp/shmem_enabled 2>/dev/null

# The table: per VMM the median (min-max) of each column over its runs
# with status 0 and a userspace line; then the ratios of medians to QEMU's.
awk '
    function med(a, n,   i, j, t) {	# sorts a[1..n] in place
        for (i = 2; i <= n; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
        return n % 2 ? a[(n + 1) / 2] : (a[n / 2] + a[n / 2 + 1]) / 2
    }
    $2 == "run" {
        name = $3
        if (!(name in runs)) order[++names] = name
        runs[name]++
        if ($6 != "-" && $10 == "0") {
            k = ++ok[name]; F[name, k] = $6; E[name, k] = $8; M[name, k] = $12; P[name] = $14
        }
    }
    END {
        printf "%-12s %7s %24s %24s %22s\n", "", "ok/runs", "to userspace (s)", "to exit (s)", "beyond RAM (MiB)"
        for (i = 1; i <= names; i++) {
            n = order[i]; k = ok[n]
            if (!k) { printf "%-12s %3d/%-3d %24s %24s %22s\n", n, 0, runs[n], "-", "-", "-"; continue }
            for (j = 1; j <= k; j++) { f[j] = F[n, j] / 1000; e[j] = E[n, j] / 1000; m[j] = M[n, j] / 1024 }
            mf[n] = med(f, k); me[n] = med(e, k); mm[n] = med(m, k)
            printf "%-12s %3d/%-3d %8.2f (%5.2f-%5.2f) %8.2f (%5.2f-%5.2f) %6.1f (%4.1f-%4.1f) %d proc\n", n, k, runs[n],
                mf[n], f[1], f[k], me[n], e[1], e[k], mm[n], m[1], m[k], P[n]
        }
        q = "qemu-virt"
        if (q in mf)
            for (i = 1; i <= names; i++) {
                n = order[i]
                if (n == q || !(n in mf)) continue
                printf "%s / %s: to userspace %.2f, to exit %.2f, beyond RAM %.2f\n", n, q,
                    mf[n] / mf[q], me[n] / me[q], mm[q] ? mm[n] / mm[q] : 0
            }
        for (i = 1; i <= names; i++) if (ok[order[i]] < runs[order[i]]) exit 1
    }' "$work/runs"
