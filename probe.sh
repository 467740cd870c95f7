#!/bin/bash
B=build-dev
M=$B/monitor/vmm-monitor
G=$B/tests/guest
T=$(mktemp -d)
truncate -s 64M $T/a.img $T/b.img
run() { echo "== $*"; timeout 120 $M "$@" </dev/null >$T/out 2>$T/err; echo "status $?"; grep -a "thread\|sandbox log\|monitor threads" $T/err | sort | uniq -c | head -60; tail -3 $T/err; }
run --kernel $G/hello.elf --sandbox log -v
run --kernel $G/pci.elf --sandbox log -v --cmdline expect_pci_functions=5 --disk path=$T/a.img --disk path=$T/b.img,readonly=on --console out=$T/console.out
run --kernel $G/virtio_blk.elf --sandbox log -v --disk path=$T/a.img
run --kernel /root/.cache/vmm/linux/6.1.0-57-cloud-amd64-6f257e667b38bb7d/bzImage --initrd /root/.cache/vmm/linux/6.1.0-57-cloud-amd64-6f257e667b38bb7d/initramfs.cpio.gz --cpus 2 --mem 512M --sandbox log -v --disk path=$T/a.img --cmdline "console=ttyS0 reboot=k panic=-1 quiet vmm.check=cpus,dmesg vmm.cpus=2"
run --kernel /root/.cache/vmm/linux/6.1.0-57-cloud-amd64-6f257e667b38bb7d/bzImage --initrd /root/.cache/vmm/linux/6.1.0-57-cloud-amd64-6f257e667b38bb7d/initramfs.cpio.gz --cpus 2 --mem 512M --sandbox strict -v --disk path=$T/a.img --cmdline "console=ttyS0 reboot=k panic=-1 quiet vmm.check=cpus,dmesg vmm.cpus=2"
tail -5 $T/out
for p in $(pgrep -f vmm-); do echo "left: $(cat /proc/$p/comm)"; done
