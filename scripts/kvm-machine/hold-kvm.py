#!/usr/bin/env python3
"""Hold one KVM VM (irqchip, one vCPU that never runs) open for the emulated
machine's whole life; started in the background by inside.sh.

Why: KVM flips static keys in the running kernel when the first VM appears
and the last one goes (preempt_notifier_key, patched into __schedule;
apic_hw_disabled and apic_sw_disabled while a vCPU's local APIC is off).
Each flip rewrites kernel text with int3 breakpoints and cross-CPU sync
IPIs. The tests start and stop hundreds of VMs, and under QEMU's TCG that
patching of hot code wedged the whole machine (both CPUs seen looping in
exc_int3 and __schedule for minutes). A VM that stays keeps those keys on,
so no VM start or stop patches code any more. It costs no CPU: its vCPU is
never run."""
import fcntl, os, signal

KVM_CREATE_VM, KVM_CREATE_IRQCHIP, KVM_CREATE_VCPU = 0xAE01, 0xAE60, 0xAE41
kvm = os.open("/dev/kvm", os.O_RDWR | os.O_CLOEXEC)
vm = fcntl.ioctl(kvm, KVM_CREATE_VM, 0)
fcntl.ioctl(vm, KVM_CREATE_IRQCHIP, 0)
vcpu = fcntl.ioctl(vm, KVM_CREATE_VCPU, 0)
while True:
    signal.pause()
