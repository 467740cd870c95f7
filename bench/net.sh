#!/usr/bin/env bash
# virtio-net throughput and latency with Linux's own driver, side by side in
# one run: Debian's stock cloud kernel and the project's initramfs
# (tests/linux/image.sh) run iperf3 against a server on the host (tests/
# linux/rc, check netbench: TCP guest->host and host->guest, 1 and 4
# streams; 20 pings), over the same tap, in a network namespace of the
# script's own (nothing leaves it), under
#   vmm-strict      vmm-monitor --sandbox strict --net tap=vmmtap0
#   qemu-vhost-off  QEMU -M pc, virtio-net-pci (modern) on the tap, vhost=off
#   qemu-vhost-on   the same with vhost=on (the kernel's vhost-net)
# all with 2 vCPUs and 512 MiB. Prints Mbit/s per job and the RTT (medians of
# RUNS alternating runs) and vmm / the best QEMU (above 1.00: vmm better).
# Goal: at least QEMU vhost=off on every row, and 0.8 of vhost=on.
#
# usage: bench/net.sh [RUNS]     (default 3; as root; runs in the emulated
#                                 machine where there is no real KVM)
#   NET_TIME=S   seconds per iperf3 job (default 5, after a 1 s omit)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
BENCH_KNOBS="NET_TIME"
bench_enter "$0" "$@"
RUNS=${1:-3}
NET_TIME=${NET_TIME:-5}
[ "$(id -u)" = 0 ] || { echo "net: needs root (a network namespace and a tap)" >&2; exit 1; }
if [ -z "${VMM_NET_NS:-}" ]; then   # the rest in a network namespace of our own
    modprobe tun 2>/dev/null || true
    modprobe vhost_net 2>/dev/null || true
    VMM_NET_NS=1 VMM_BENCH_SAID_ENV=1 exec unshare --net -- bash "$0" "$@"
fi
IMG=$(tests/linux/image.sh)
ip link set lo up
ip tuntap add vmmtap0 mode tap && ip addr add 10.77.0.1/24 dev vmmtap0 && ip link set vmmtap0 up
iperf3 -s -B 10.77.0.1 >/dev/null 2>&1 &
server=$!
trap 'kill $server 2>/dev/null' EXIT
[ -c /dev/vhost-net ] || echo "net: no /dev/vhost-net here: qemu-vhost-on will fail" >&2

CMDLINE="console=ttyS0 reboot=k panic=-1 quiet vmm.check=netbench vmm.net_time=$NET_TIME"
VMM="$BUILD/monitor/vmm-monitor --kernel $IMG/bzImage --initrd $IMG/initramfs.cpio.zst
     --cpus 2 --mem 512M --sandbox strict --cmdline '$CMDLINE' --net tap=vmmtap0"
QEMU="qemu-system-x86_64 -enable-kvm -cpu host -M pc -smp 2 -m 512M -nodefaults
      -no-user-config -nographic -serial stdio -no-reboot -kernel $IMG/bzImage
      -initrd $IMG/initramfs.cpio.zst -append '$CMDLINE'
      -device virtio-net-pci,netdev=n0,disable-legacy=on,mac=52:54:00:12:34:56
      -netdev tap,id=n0,ifname=vmmtap0,script=no,downscript=no"

echo "net: $RUNS runs each, alternating; $(cat "$IMG/kernel-package"); iperf3 ${NET_TIME} s per job;" \
     "host side: iperf3 -s on a tap in a network namespace"
python3 bench/guestbench.py net "$RUNS" \
    "vmm-strict=$VMM" \
    "qemu-vhost-off=$QEMU,vhost=off" \
    "qemu-vhost-on=$QEMU,vhost=on"
echo "reproduce: NET_TIME=$NET_TIME bench/net.sh $RUNS"
