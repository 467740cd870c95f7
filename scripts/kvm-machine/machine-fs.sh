# Shared by both stage 2 scripts (inside.sh, inside-arm64.sh; POSIX sh):
# the machine's own /sys, /dev (with what udev would add: bash's <(...)
# needs /dev/fd), cgroups and tracefs (as systemd mounts them: vmm-trace's
# BPF attaches by the tracepoints' ids), and its own /tmp, in which the
# folders of the host's /tmp that the command needs (vmm.keep: its
# directory, the repository, the cache) stay visible. /tmp is the
# machine's own because it is fast and flock works there as the tests
# need, which 9p does not provide. Needs arg() and /proc and /run mounted.
machine_fs() {
    mount -t sysfs sys /sys
    mount -t devtmpfs dev /dev
    mkdir -p /dev/pts /dev/shm
    mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
    mount -t tmpfs -o mode=1777 shm /dev/shm
    ln -sfn /proc/self/fd /dev/fd
    ln -sfn /proc/self/fd/0 /dev/stdin; ln -sfn /proc/self/fd/1 /dev/stdout; ln -sfn /proc/self/fd/2 /dev/stderr
    [ -d /sys/fs/cgroup ] && mount -t cgroup2 cgroup2 /sys/fs/cgroup 2>/dev/null
    [ -d /sys/kernel/tracing ] && mount -t tracefs tracefs /sys/kernel/tracing 2>/dev/null
    mkdir -p /run/host-tmp && mount --bind /tmp /run/host-tmp
    mount -t tmpfs -o mode=1777 tmp /tmp
    for p in $(arg vmm.keep | tr ':' ' '); do
        case $p in /tmp/?*) ;; *) continue ;; esac
        top=${p#/tmp/}; top=${top%%/*}
        [ -d "/run/host-tmp/$top" ] && ! mountpoint -q "/tmp/$top" || continue
        mkdir -p "/tmp/$top" && mount --bind "/run/host-tmp/$top" "/tmp/$top"
    done
}
