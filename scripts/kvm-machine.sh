#!/usr/bin/env bash
# kvm-machine: run a command where a real KVM is.
#
#   scripts/kvm-machine.sh [OPTIONS] [--] CMD [ARG...]
#
# Where this machine has a usable, hardware-backed /dev/kvm, CMD runs here
# as it is. Where it has none (or only a PVM-backed one, on which a stock
# Linux guest cannot run), CMD runs inside an emulated x86-64 machine with
# a real KVM: QEMU's TCG emulates AMD SVM with nested paging, so Debian's
# stock linux-image-amd64 with kvm-amd gives a real /dev/kvm there. That
# machine's root is this machine's root over virtio-9p (entered with
# switch_root; a chroot would break the device sandboxes' user
# namespaces), with its own /proc, /sys, /dev, /tmp and /run (of this
# machine's /tmp only the folders holding the current directory, this
# script and the cache are visible there), so CMD runs
# in the same directory, with the same binaries and build tree, and these
# variables carried over: PATH, HOME, USER, LOGNAME, TERM, LANG, LC_ALL,
# CI, every VMM_* variable and the names listed in $VMM_MACHINE_ENV; and
# VMM_MACHINE is set there to one line describing the emulated machine.
#
# With --arch arm64 (VMM_MACHINE_ARCH=arm64) CMD runs in an emulated
# aarch64 machine instead, always (this script runs on x86-64 hosts):
# qemu-system-aarch64 -M virt,virtualization=on,gic-version=3 -cpu
# max,pauth-impdef=on (EL2, GICv3 with ITS) and Debian's linux-image-arm64,
# whose KVM is built in: /dev/kvm is there from boot. Its root is this
# machine's root the same way, but this machine's programs are x86-64 and
# cannot run there: stage 2 (kvm-machine/inside-arm64.sh) runs under the
# static arm64 busybox of busybox-static:arm64 (from the cache), CMD runs
# under that busybox's sh with a directory of its applets first in PATH,
# so CMD must be busybox applets or aarch64 programs (dynamic ones find
# the arm64 multiarch libraries under /usr/lib/aarch64-linux-gnu). CMD's
# output goes through a virtio console (hvc0), the kernel's log through
# the PL011 (ttyAMA0) into the run directory's console.log. --native
# refuses, and VMM_MACHINE_KVM_AMD/VMM_MACHINE_QEMU do not apply there.
#
# It says so in one line on stderr first, with the reason. CMD's stdout and
# stderr (merged) stream live to this stdout; when stdin
# is a terminal, CMD gets a terminal of the same size and keystrokes go to
# it unchanged (Ctrl-C, Ctrl-A included); Ctrl-] x stops the emulated
# machine itself. Only one emulated machine runs at a time per cache (it
# uses every core); a second waits for the first.
#
# Options (and the variables that set their defaults):
#   --arch ARCH     x86-64 or arm64               (VMM_MACHINE_ARCH, x86-64)
#   --cpus N        emulated CPUs                 (VMM_MACHINE_CPUS, this machine's cores)
#   --mem SIZE      emulated RAM, QEMU syntax     (VMM_MACHINE_MEM, 4G)
#   (VMM_MACHINE_TCG=multi|single: QEMU's TCG threading, default multi;
#    VMM_MACHINE_QEMU: the qemu-system-x86_64 that runs the machine, by
#    default the system's (firmware beside another one is found);
#    VMM_MACHINE_KVM_AMD: kvm_amd's module parameters, comma-separated;
#    default npt=0, see below;
#    VMM_MACHINE_CLOCK: the machine kernel's clock source, tsc (default) or
#    hpet, see below; VMM_MACHINE_APPEND: more of its command line)
#   --timeout SEC   kill the machine after SEC s; 0 = never
#                   (VMM_MACHINE_TIMEOUT; 3600, or 0 when stdin is a terminal)
#   (VMM_MACHINE_STALL=SEC: a machine that shows no sign of life for SEC s,
#    default 300, 0 = never, has stopped running - its kernel stuck in soft
#    lockups, or its CPUs halted with no timer - and is killed: status 125.
#    Its sign of life is a counter its init rewrites every 10 s.
#    VMM_MACHINE_TEST_NO_HEARTBEAT=1, for the runner's own test: no counter.)
#   --emulated      use the emulated machine even where /dev/kvm works
#   --native        run CMD here even on PVM      (VMM_KVM=auto|native|emulated)
#   --where         print where CMD would run ("native" or "emulated: why"), exit 0
#   --prepare       only fetch the kernel and build the initramfs into the cache
#
# Cache: $VMM_CACHE/machine/<kernel version>/ (kernel, module tree with
# modules.dep, initramfs keyed by the hash of its inputs), made once; for
# arm64 $VMM_CACHE/machine-arm64/<kernel version>/ (the same, and the arm64
# busybox). Both share one lock: never two emulated machines at once.
#
# Exit status: CMD's own; 124 the deadline passed (the machine was
# killed); 125 the machine could not be built or started, stopped running
# (no sign of life, above) or stopped without CMD's status; 130/143
# interrupted (SIGINT/SIGTERM).
set -uo pipefail
{ # the whole script is read before it runs: editing it meanwhile is safe

here=$(cd "$(dirname "$0")" && pwd)
CACHE=${VMM_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vmm}
cpus=${VMM_MACHINE_CPUS:-$(nproc)}
mem=${VMM_MACHINE_MEM:-4G}
tcg=${VMM_MACHINE_TCG:-multi}
qemu=${VMM_MACHINE_QEMU:-qemu-system-x86_64}
kvm_amd_params=${VMM_MACHINE_KVM_AMD-npt=0}	# why: where it is passed on, below
clock=${VMM_MACHINE_CLOCK:-tsc}			# why: where it is passed on, below
case $clock in tsc|hpet) ;; *) echo "kvm-machine: VMM_MACHINE_CLOCK=$clock: tsc or hpet" >&2; exit 2;; esac
timeout=${VMM_MACHINE_TIMEOUT:-}
stall=${VMM_MACHINE_STALL:-300}
mode=${VMM_KVM:-auto}
action=run
arch=${VMM_MACHINE_ARCH:-x86-64}

say() { echo "kvm-machine: $*" >&2; }
fail() { say "$*"; exit 125; }
usage() { sed -n '2,/^set -uo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

while [ $# -gt 0 ]; do
    case $1 in
    --arch) arch=${2:?--arch needs a value}; shift 2 ;;
    --cpus) cpus=${2:?--cpus needs a value}; shift 2 ;;
    --mem) mem=${2:?--mem needs a value}; shift 2 ;;
    --timeout) timeout=${2:?--timeout needs a value}; shift 2 ;;
    --emulated) mode=emulated; shift ;;
    --native) mode=native; shift ;;
    --where) action=where; shift ;;
    --prepare) action=prepare; shift ;;
    -h|--help) usage; exit 0 ;;
    --) shift; break ;;
    -*) say "unknown option $1 (see --help)"; exit 2 ;;
    *) break ;;
    esac
done
case $cpus in ''|*[!0-9]*|0) say "--cpus must be a positive number"; exit 2 ;; esac
case $tcg in multi|single) ;; *) say "VMM_MACHINE_TCG must be multi or single, not '$tcg'"; exit 2 ;; esac
case $mem in [1-9]*[0-9MGmg]) ;; *) say "--mem must be a size like 4G or 2048M"; exit 2 ;; esac
case $mode in auto|native|emulated) ;; *) say "VMM_KVM must be auto, native or emulated"; exit 2 ;; esac
case $arch in
x86-64|x86_64|amd64) arch=x86-64 ;;
arm64|aarch64) arch=arm64 ;;
*) say "--arch must be x86-64 or arm64, not '$arch'"; exit 2 ;;
esac

# Where a command that needs KVM runs: prints "native" or "emulated: <why>".
kvm_where() {
    if [ "$mode" = native ]; then echo native; return; fi
    if [ "$mode" = emulated ]; then echo "emulated: asked for (--emulated or VMM_KVM=emulated)"; return; fi
    if [ ! -e /dev/kvm ]; then
        echo "emulated: this machine has no /dev/kvm"
    elif ! { exec 3<>/dev/kvm; } 2>/dev/null; then
        echo "emulated: /dev/kvm cannot be opened here"
    elif [ -d /sys/module/kvm_pvm ]; then
        echo "emulated: /dev/kvm here is PVM (kvm_pvm), which cannot run a stock Linux guest"
    else
        echo native
    fi
}

where=$(kvm_where)
if [ "$arch" = arm64 ]; then
    [ "$mode" = native ] && { say "--arch arm64 runs in an emulated machine only (--native, VMM_KVM=native)"; exit 2; }
    where="emulated: arm64 asked for (--arch arm64 or VMM_MACHINE_ARCH), this machine is $(uname -m)"
fi
if [ "$action" = where ]; then echo "$where"; exit 0; fi
if [ "$action" = run ]; then
    [ $# -gt 0 ] || { say "no command given (see --help)"; exit 2; }
    [ "$where" = native ] && exec "$@"
fi

# ---- the emulated machine's kernel, modules and initramfs, cached ----

# What differs between the two machines' caches and initramfs (the runs
# differ further below).
if [ "$arch" = arm64 ]; then
    tools="qemu-system-aarch64 depmod modprobe cpio dpkg-deb"
    qemu=qemu-system-aarch64
    mdir=$CACHE/machine-arm64	# the lock stays $CACHE/machine/lock
    kmeta=linux-image-arm64 pkgarch=:arm64
    stage1=$here/kvm-machine/init-arm64
    # virtio_console: hvc0, CMD's terminal (the one PL011 carries the kernel's log)
    stage1_modules="virtio_pci virtio_console 9pnet_virtio 9p"
else
    tools="qemu-system-x86_64 busybox depmod modprobe cpio dpkg-deb"
    mdir=$CACHE/machine
    kmeta=linux-image-amd64 pkgarch=
    stage1=$here/kvm-machine/init
    stage1_modules="virtio_pci 9pnet_virtio 9p"
fi
for tool in $tools; do
    command -v "$tool" >/dev/null || fail "$tool is missing: run scripts/setup.sh"
done

# The kernel package $kmeta points at today; without the archive
# (offline), the newest one already cached.
kernel_version() {
    local pkg
    pkg=$("$here/kernel-package.sh" "$kmeta") && { pkg=${pkg%"$pkgarch"}; echo "${pkg#linux-image-}"; return; }
    ls -d "$mdir"/*/ready 2>/dev/null | sort -V | tail -n 1 | xargs -r dirname | xargs -r basename
}

# Extracts the kernel package into $dir: vmlinuz and lib/modules with its
# modules.dep, so that both the initramfs and, later, modprobe inside the
# machine find every module of that kernel (tun, vhost, dm-delay, ...).
# For arm64 also the static arm64 busybox (busybox-static:arm64, unpacked,
# never installed: it is not Multi-Arch) as $dir/busybox.
fetch_kernel() {
    local tmp pkgs
    tmp=$(mktemp -d "$mdir/fetch.XXXXXX") || return 1
    pkgs=("linux-image-$kver$pkgarch")
    [ "$arch" = arm64 ] && pkgs+=(busybox-static:arm64)
    say "fetching ${pkgs[*]} for the emulated machine (once)"
    if ! (cd "$tmp" && apt-get download -qq "${pkgs[@]}" >/dev/null 2>&1); then
        apt-get update -qq >/dev/null 2>&1
        (cd "$tmp" && apt-get download -qq "${pkgs[@]}" >/dev/null 2>&1) ||
            { rm -rf "$tmp"; say "cannot download ${pkgs[*]}"; return 1; }
    fi
    if [ "$arch" = arm64 ]; then
        mkdir -p "$dir" && dpkg-deb -x "$tmp"/busybox-static_*.deb "$tmp/bb" &&
            cp "$tmp/bb/bin/busybox" "$dir/busybox" ||
            { rm -rf "$tmp"; say "cannot unpack busybox-static:arm64"; return 1; }
    fi
    dpkg-deb -x "$tmp"/linux-image-*.deb "$tmp/x" &&
        mkdir -p "$dir/lib" &&
        cp "$tmp/x/boot/vmlinuz-$kver" "$dir/vmlinuz" &&
        rm -rf "$dir/lib/modules" && mv "$tmp/x/lib/modules" "$dir/lib/modules" &&
        depmod -b "$dir" "$kver" &&
        touch "$dir/ready"
    local rc=$?
    rm -rf "$tmp"
    return $rc
}

# Builds the initramfs (busybox, stage 1's init, the modules that reach the
# host's root: virtio-pci and 9p with their dependencies, in load order)
# into $initrd unless one with the same inputs exists.
build_initramfs() {
    local bb key tmp m ko
    if [ "$arch" = arm64 ]; then
        bb=$dir/busybox
        key=$( { cat "$stage1" "$bb"; echo "$stage1_modules"; } | sha256sum | cut -c1-16)
    else
        bb=$(command -v busybox)
        key=$(cat "$stage1" "$bb" | sha256sum | cut -c1-16)
    fi
    initrd=$dir/initramfs-$key.cpio.gz
    [ -f "$initrd" ] && return 0
    tmp=$(mktemp -d "$mdir/initramfs.XXXXXX") || return 1
    mkdir -p "$tmp"/{bin,dev,proc,sys,modules} &&
        cp "$bb" "$tmp/bin/busybox" &&
        cp "$stage1" "$tmp/init" && chmod 755 "$tmp/init" || { rm -rf "$tmp"; return 1; }
    for m in $stage1_modules; do
        modprobe -d "$dir" -S "$kver" --show-depends "$m" | awk '$1 == "insmod" {print $2}'
    done | awk '!seen[$0]++' | while read -r ko; do
        cp "$ko" "$tmp/modules/" && basename "$ko" >>"$tmp/modules.order"
    done
    [ -s "$tmp/modules.order" ] || { rm -rf "$tmp"; say "no virtio/9p modules in linux-image-$kver$pkgarch"; return 1; }
    (cd "$tmp" && find . | sort | cpio -o -H newc --quiet | gzip -1) >"$initrd.tmp" &&
        mv "$initrd.tmp" "$initrd"
    local rc=$?
    rm -rf "$tmp" "$initrd.tmp"
    return $rc
}

mkdir -p "$CACHE/machine" "$mdir" || fail "cannot create $mdir"
qemu_data=()	# a QEMU outside the system's: its own firmware first, then the system's
[ "$arch" = x86-64 ] && [ "$qemu" != qemu-system-x86_64 ] && [ -d "$(dirname "$qemu")/../share/qemu" ] &&
    qemu_data=(-L "$(dirname "$qemu")/../share/qemu" -L /usr/share/qemu)
kver=$(kernel_version)
[ -n "$kver" ] || fail "cannot find $kmeta in the package archive and none is cached"
dir=$mdir/$kver
[ -f "$dir/ready" ] || fetch_kernel || fail "cannot prepare the kernel for the emulated machine"
build_initramfs || fail "cannot build the emulated machine's initramfs"
[ "$action" = prepare ] && { echo "$dir"; exit 0; }

# ---- one run ----

# Said once here, so that every caller (boot.sh, test.sh, bench/) says it alike.
if [ "$arch" = arm64 ]; then
    say "${where#emulated: }: running in an emulated arm64 machine (virt, EL2, GICv3) with its built-in KVM (every instruction is emulated: slower; ~8 s to start)"
else
    say "${where#emulated: }: running in an emulated machine with kvm-amd (every instruction is emulated: slower; ~15 s to start)"
fi

case "$CACHE$here$PWD" in *[[:space:]]*)
    fail "paths with spaces cannot be passed on the emulated kernel's command line: $CACHE, $here, $PWD" ;;
esac
interactive=0
[ -t 0 ] && [ -t 1 ] && interactive=1
[ -n "$timeout" ] || { [ $interactive = 1 ] && timeout=0 || timeout=3600; }
case $timeout in ''|*[!0-9]*) say "--timeout must be a number of seconds"; exit 2 ;; esac
case $stall in ''|*[!0-9]*) say "VMM_MACHINE_STALL must be a number of seconds"; exit 2 ;; esac

# One emulated machine at a time: it takes every core.
exec 9>"$CACHE/machine/lock"
if ! flock -n 9; then
    say "another emulated machine is running; waiting for it"
    flock 9
fi

run=$(mktemp -d "$mdir/run.XXXXXX") || fail "cannot create a run directory"
qpid=
cleanup() {
    [ -n "$qpid" ] && kill "$qpid" 2>/dev/null && wait "$qpid" 2>/dev/null
    [ -f "$run/console.log" ] && cp "$run/console.log" "$mdir/last-console.log"
    rm -rf "$run"
}
trap 'cleanup; exit 130' INT
trap 'cleanup; exit 143' TERM
trap 'cleanup; exit 129' HUP
trap cleanup EXIT

# For arm64: the same for busybox's sh (which reads no $'...'), each word
# in single quotes, and the machine's busybox applets first in PATH (the
# directory inside-arm64.sh makes; this machine's programs are x86-64).
shq() { printf "'%s'" "${1//\'/\'\\\'\'}"; }
if [ "$arch" = arm64 ]; then
    for v in PATH HOME USER LOGNAME TERM LANG LC_ALL CI ${VMM_MACHINE_ENV:-} $(compgen -e | grep '^VMM_'); do
        [ "$v" = PATH ] && { printf 'export PATH=%s\n' "$(shq "/run/vmm-arm64-bin:$PATH")"; continue; }
        [ -n "${!v+set}" ] && printf 'export %s=%s\n' "$v" "$(shq "${!v}")"
    done
    printf 'export VMM_MACHINE=%s\n' "$(shq "emulated machine: QEMU $("$qemu" --version | sed -n '1s/.*version \([^ ]*\).*/\1/p') TCG ($tcg-threaded) aarch64 -M virt,virtualization=on,gic-version=3 -cpu max,pauth-impdef=on, $cpus CPUs, $mem, linux-image-$kver with its built-in KVM, on $(nproc) host CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1))")"
    printf 'cd %s || exit 125\n' "$(shq "$PWD")"
    printf 'exec'; for a in "$@"; do printf ' %s' "$(shq "$a")"; done; printf '\n'
else {
    for v in PATH HOME USER LOGNAME TERM LANG LC_ALL CI ${VMM_MACHINE_ENV:-} $(compgen -e | grep '^VMM_'); do
        [ -n "${!v+set}" ] && printf 'export %s=%q\n' "$v" "${!v}"
    done
    # what the command runs in, for benchmarks to print beside their figures
    printf 'export VMM_MACHINE=%q\n' "emulated machine: QEMU $("$qemu" --version | sed -n '1s/.*version \([^ ]*\).*/\1/p') TCG ($tcg-threaded) -cpu max, $cpus CPUs, $mem, linux-image-$kver with kvm-amd ${kvm_amd_params:-(default parameters)}, clock source $clock, no transparent huge pages, on $(nproc) host CPUs ($(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1))"
    printf 'cd %q || exit 125\n' "$PWD"
    printf 'exec'; printf ' %q' "$@"; printf '\n'
} fi >"$run/cmd"
[ $interactive = 1 ] && stty size >"$run/ttysize" 2>/dev/null
[ "${VMM_MACHINE_TEST_NO_HEARTBEAT:-}" = 1 ] && : >"$run/no-heartbeat"

if [ $interactive = 1 ]; then
    # QEMU's stdio in raw mode; its escape moved off Ctrl-A (the monitor's).
    serial=(-chardev stdio,id=s0,mux=on,signal=off -serial chardev:s0 -echr 0x1d)
else
    serial=(-chardev stdio,id=s0,signal=off -serial chardev:s0)
fi
append="console=ttyS1 loglevel=4 panic=-1 8250.nr_uarts=2"
append+=" vmm.run=$run vmm.stage2=$here/kvm-machine/inside.sh vmm.modules=$dir/lib/modules"
append+=" vmm.keep=$PWD:$here:$CACHE"
# kvm_amd without nested paging (npt=0: KVM shadows the guests' page tables
# itself): with nested paging, guests of every VMM here die now and then of a #PF on
# an instruction fetch of mapped kernel text right after KVM resumes them
# (SVM shutdown, EXITINTINFO #PF error code 0x10): a stock Linux with 4
# vCPUs in 2 of 9 boots under vmm (and a soft lockup in a third), 1 of 6
# under QEMU -enable-kvm, the same with QEMU 10 as the machine's own QEMU,
# and tiny test guests now and then. With npt=0: see README.md, "The
# emulated machine". VMM_MACHINE_KVM_AMD= (empty) loads kvm_amd as it is.
[ -n "$kvm_amd_params" ] && append+=" vmm.kvm_amd=$kvm_amd_params"
# The clock: the machine's kernel finds its TCG CPUs' TSCs "unsynchronized"
# at start-up and falls back to the HPET. Then every clock read in the
# machine - each VMM's, each spin loop's - is a system call and an
# emulated device access under QEMU's big lock, which no real host pays
# (bench/trap.sh's posted writes: 1.2-1.3x in-monitor with the HPET). QEMU
# gives every CPU the host's TSC, so the machine is told to trust it.
[ "$clock" = tsc ] && append+=" tsc=reliable clocksource=tsc"
append+="${VMM_MACHINE_APPEND:+ $VMM_MACHINE_APPEND}"

machine=("$qemu" "${qemu_data[@]}" -accel tcg,thread=$tcg -cpu max -smp "$cpus" -m "$mem"
    -nodefaults -no-user-config -display none -vga none -no-reboot
    -kernel "$dir/vmlinuz" -initrd "$initrd" -append "$append"
    -virtfs local,path=/,mount_tag=host,security_model=none,multidevs=remap
    "${serial[@]}" -serial "file:$run/console.log"
    -monitor "unix:$run/qemu-monitor.sock,server=on,wait=off")
if [ "$arch" = arm64 ]; then
    # The virt board's one PL011 (ttyAMA0) carries the kernel's log into
    # console.log; CMD's terminal is a virtio console (hvc0) on QEMU's stdio.
    # Stage 2 runs under the arm64 busybox of the cache (vmm.busybox).
    # pauth-impdef=on: the architected pointer-authentication algorithm is
    # 2-3x slower to emulate.
    append="console=ttyAMA0 loglevel=4 panic=-1"
    append+=" vmm.run=$run vmm.stage2=$here/kvm-machine/inside-arm64.sh vmm.busybox=$dir/busybox"
    append+=" vmm.modules=$dir/lib/modules vmm.keep=$PWD:$here:$CACHE"
    console=(-chardev stdio,id=s0,signal=off)
    [ $interactive = 1 ] && console=(-chardev stdio,id=s0,mux=on,signal=off -echr 0x1d)
    machine=("$qemu" -M virt,virtualization=on,gic-version=3 -cpu max,pauth-impdef=on
        -accel tcg,thread=$tcg -smp "$cpus" -m "$mem"
        -nodefaults -no-user-config -display none -no-reboot
        -kernel "$dir/vmlinuz" -initrd "$initrd" -append "$append"
        -virtfs local,path=/,mount_tag=host,security_model=none,multidevs=remap
        -serial "file:$run/console.log"
        "${console[@]}" -device virtio-serial-pci -device virtconsole,chardev=s0
        -monitor "unix:$run/qemu-monitor.sock,server=on,wait=off")
fi

stdin=/dev/null
[ $interactive = 1 ] && stdin=/dev/stdin
timeout --foreground -k 10 "$timeout" "${machine[@]}" <"$stdin" &
qpid=$!
# Watch the machine's sign of life while it runs (the first one comes
# after its boot, which the same allowance covers).
beat= beat_at=$SECONDS stalled=0
while kill -0 "$qpid" 2>/dev/null; do
    sleep 5 & wait $!
    b=$(cat "$run/heartbeat" 2>/dev/null)
    if [ "$b" != "$beat" ]; then
        beat=$b beat_at=$SECONDS
    elif [ "$stall" -gt 0 ] && [ $((SECONDS - beat_at)) -ge "$stall" ] && [ ! -f "$run/status" ]; then
        stalled=1
        kill "$qpid" 2>/dev/null
        break
    fi
done
wait "$qpid"
qrc=$?
qpid=

if [ $stalled = 1 ]; then
    say "the emulated machine stopped running (no sign of life for $stall s) and was killed; its last kernel lines:"
    tail -n 20 "$run/console.log" >&2 2>/dev/null
    exit 125
fi

if [ -f "$run/status" ]; then
    exit "$(cat "$run/status")"
fi
case $qrc in
124|137)
    say "the emulated machine did not finish within ${timeout} s and was killed (last kernel lines in $mdir/last-console.log)"
    exit 124 ;;
130|143|129)	# timeout(1) passed a SIGINT/SIGTERM/SIGHUP on to QEMU
    say "interrupted: the emulated machine was stopped"
    exit "$qrc" ;;
esac
say "the emulated machine stopped without the command's exit status (QEMU status $qrc); its last kernel lines:"
tail -n 20 "$run/console.log" >&2 2>/dev/null
exit 125
}
