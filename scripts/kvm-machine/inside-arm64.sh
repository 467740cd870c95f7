#!/bin/sh
# Stage 2 of the emulated arm64 machine (scripts/kvm-machine.sh --arch
# arm64): PID 1 after switch_root into the host's root, run by the arm64
# busybox's sh (POSIX sh: busybox ash) as
#   BUSYBOX sh inside-arm64.sh BUSYBOX
# since the host's own programs are x86-64 and cannot run here. It does
# what inside.sh does where it applies: a directory of busybox applets
# first in PATH (/run/vmm-arm64-bin; the runner's cmd puts it first too),
# the machine's own /proc, /sys, /dev, /tmp and /run, the kernel's module
# tree from the cache over /lib/modules (busybox modprobe), the heartbeat,
# the command from the run directory on hvc0 (QEMU's stdio) with its exit
# status written back there, then power-off. KVM is built into this kernel:
# nothing to load. As PID 1 this shell also reaps every orphan.
bb=$1
bin=/run/vmm-arm64-bin	# kvm-machine.sh's cmd names it too
$bb mount -t proc proc /proc
$bb mount -t tmpfs -o mode=755 run /run
$bb mkdir -p $bin && $bb cp "$bb" $bin/busybox && $bin/busybox --install -s $bin ||
    { echo "kvm-machine: cannot install busybox's applets in $bin" >/dev/ttyAMA0; echo o >/proc/sysrq-trigger; $bb sleep 60; }
PATH=$bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH
arg() { tr ' ' '\n' </proc/cmdline | sed -n "s/^$1=//p"; }
off() { sync; echo o >/proc/sysrq-trigger; sleep 60; }
log() { echo "kvm-machine: $*" >/dev/ttyAMA0; }

. "${0%/*}/machine-fs.sh"
machine_fs

run=$(arg vmm.run)
[ -d "$run" ] || { log "no run directory '$run'"; off; }
mkdir -p /lib/modules && mount --bind "$(arg vmm.modules)" /lib/modules || log "cannot bind the module tree"
[ -c /dev/kvm ] || log "no /dev/kvm in this machine"
cat /proc/kallsyms >"$run/kallsyms" 2>/dev/null
ip link set lo up 2>/dev/null
hostname kvm-machine

# A sign of life for the runner outside: a counter, rewritten every 10 s.
if [ ! -e "$run/no-heartbeat" ]; then
    (i=0; while :; do i=$((i + 1)); echo $i >"$run/heartbeat.tmp" && mv "$run/heartbeat.tmp" "$run/heartbeat"; sleep 10; done) \
        </dev/null >/dev/null 2>&1 &
fi

# The command's terminal: hvc0, the virtio console on the host's QEMU stdio
# (virtio_console was loaded by stage 1; its node may come a moment later).
tty=/dev/hvc0
i=0
while [ ! -c $tty ] && [ $i -lt 50 ]; do sleep 0.1; i=$((i + 1)); done
[ -c $tty ] || { log "no $tty"; off; }
# hvc resets its termios on the last close: fd 9 holds it open meanwhile.
exec 9<>$tty
if [ -f "$run/ttysize" ]; then
    read -r rows cols <"$run/ttysize"
    stty -F $tty sane rows "$rows" cols "$cols"
    setsid -c sh "$run/cmd" <$tty >$tty 2>&1 9>&-
    echo $? >"$run/status.tmp"
else
    # through a pipe, so that CMD sees no terminal, as with the caller's pipe
    stty -F $tty raw -echo -opost	# (busybox's raw leaves opost on)
    { sh "$run/cmd" </dev/null 2>&1 9>&-; echo $? >"$run/status.tmp"; } | cat >$tty
fi
mv "$run/status.tmp" "$run/status"
off
