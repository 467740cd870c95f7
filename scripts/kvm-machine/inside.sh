#!/bin/sh
# Stage 2 of the emulated machine (scripts/kvm-machine.sh): PID 1 after
# switch_root into the host's root. Gives the machine its own /proc, /sys,
# /dev, /tmp and /run, makes the emulated kernel's whole module tree (from
# the cache) the one modprobe sees, loads kvm-amd, runs the command from
# the run directory on ttyS0 and writes its exit status back there. The
# machine powers off when the command ends; as PID 1 this shell also reaps
# every orphan (busybox and dash wait for any child).
PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export PATH
arg() { tr ' ' '\n' </proc/cmdline | sed -n "s/^$1=//p"; }
off() { sync; echo o >/proc/sysrq-trigger; sleep 60; }
log() { echo "kvm-machine: $*" >/dev/ttyS1; }

mount -t proc proc /proc
mount -t tmpfs -o mode=755 run /run
. "${0%/*}/machine-fs.sh"
machine_fs

run=$(arg vmm.run)
[ -d "$run" ] || { log "no run directory '$run'"; off; }
# (a host without kernel modules lacks /lib/modules: an empty mount point is
# made, which is what Debian ships anyway)
mkdir -p /lib/modules && mount --bind "$(arg vmm.modules)" /lib/modules || { log "cannot bind the module tree"; off; }
# shellcheck disable=SC2046 # module parameters (VMM_MACHINE_KVM_AMD), one per word
modprobe kvm_amd $(arg vmm.kvm_amd | tr , ' ') || log "modprobe kvm_amd failed: /dev/kvm will be missing"
# No transparent huge pages for anything (QEMU's private guest RAM, vmm's
# shared one): guests whose RAM the machine's KVM maps with 2 MiB pages hang
# here (nested paging emulated by TCG): 2 of 6 stock-Linux boots under vmm
# with shmem_enabled=advise stalled (RCU stall reports on a vCPU), 0 of 6
# with never, in one machine (2026-12-06); QEMU's guests (enabled=always)
# crashed or hung 3 times in about 14 boots. Both VMMs get 4 KiB pages here.
echo never >/sys/kernel/mm/transparent_hugepage/enabled 2>/dev/null
echo never >/sys/kernel/mm/transparent_hugepage/shmem_enabled 2>/dev/null
# one VM held for the machine's life, so that VMs coming and going no longer
# patch kernel text (the reason is in hold-kvm.py)
python3 "$(dirname "$0")/hold-kvm.py" </dev/null >/dev/null 2>&1 &
# for reading the machine's RIPs from QEMU's monitor (qemu-monitor.sock) while it runs
cat /proc/kallsyms >"$run/kallsyms" 2>/dev/null
ip link set lo up 2>/dev/null || busybox ip link set lo up
hostname kvm-machine

# A sign of life for the runner outside, which ends a machine that stops
# running (its kernel stuck, its timer gone) instead of waiting for its
# deadline: a counter, rewritten every 10 s (none when the runner's own
# test asks for a machine that looks stuck).
if [ ! -e "$run/no-heartbeat" ]; then
    (i=0; while :; do i=$((i + 1)); echo $i >"$run/heartbeat.tmp" && mv "$run/heartbeat.tmp" "$run/heartbeat"; sleep 10; done) \
        </dev/null >/dev/null 2>&1 &
fi

# The command's terminal: ttyS0, which the host's QEMU connects to its stdio.
# Interactive: a controlling tty with the caller's size. Otherwise bytes pass
# unchanged (no \r added) and stdin is empty.
tty=/dev/ttyS0
if [ -f "$run/ttysize" ]; then
    read -r rows cols <"$run/ttysize"
    stty -F $tty sane rows "$rows" cols "$cols"
    setsid -c bash "$run/cmd" <$tty >$tty 2>&1
    echo $? >"$run/status.tmp"
else
    # through a pipe, so that CMD sees no terminal, as with the caller's pipe
    stty -F $tty raw -echo
    { bash "$run/cmd" </dev/null 2>&1; echo $? >"$run/status.tmp"; } | cat >$tty
fi
mv "$run/status.tmp" "$run/status"
off
