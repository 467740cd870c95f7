/*
 * The monitor's x86-64 side (arch.h): the PC's fixed devices at their
 * ports, the in-kernel PIC/IOAPIC and PIT, PCI mechanism #1, and the boot
 * through arch/x86 (bzImage or ELF, zero page, MP and ACPI tables).
 */
#include "arch.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "boot.h"
#include "log.h"
#include "trap.h"
#include "vm.h"

/* KVM wants these for VMX real-mode emulation; keep them out of RAM. */
#define VM_TSS_ADDR          0xfffbd000ULL
#define VM_IDENTITY_MAP_ADDR 0xfffbc000ULL

#define PIC_PINS 16
#define RESET_RIP 0xfff0	/* a vCPU's RIP after INIT (CS base 0xffff0000) */

struct arch_boot {
	struct x86_boot_info bi;
};

/* The PC's fixed devices, at the ports and IRQs every OS expects. */
const struct arch_place arch_fixed_devices[] = {
	{ "serial", TRAP_PIO, { X86_COM1_PORT }, 1, { X86_COM1_IRQ } },
	{ "rtc", TRAP_PIO, { X86_RTC_PORT }, 1, { X86_RTC_IRQ } },
	{ "i8042", TRAP_PIO, { X86_I8042_DATA_PORT, X86_I8042_CMD_PORT }, 2,
	  { X86_I8042_KBD_IRQ, X86_I8042_AUX_IRQ } },
	{ "acpi_pm", TRAP_PIO, { X86_ACPI_PM1A_EVT, X86_ACPI_PM1A_CNT }, 1, { X86_ACPI_SCI_IRQ } },
};
const unsigned arch_fixed_count = sizeof(arch_fixed_devices) / sizeof(arch_fixed_devices[0]);

/* The window the DSDT's \_SB.PCI0._CRS hands to the OS. */
const struct arch_pci arch_pci = {
	.host = { .mmio_start = X86_PCI_MMIO_START, .mmio_end = X86_PCI_MMIO_END },
	.intx = true,
};

const unsigned arch_irq_chip_gsis = X86_IOAPIC_PINS;

const char arch_kernel_kind[] = "a bzImage or ELF64 x86-64 kernel";

uint32_t arch_pci_intx_gsi(unsigned slot, unsigned pin)
{
	return x86_pci_intx_gsi(slot, pin);
}

uint32_t arch_irq_line(uint32_t gsi)
{
	return gsi;
}

static void route_chip(struct kvm_irq_routing_entry *e, uint32_t gsi, uint32_t chip,
		       uint32_t pin)
{
	memset(e, 0, sizeof(*e));
	e->gsi = gsi;
	e->type = KVM_IRQ_ROUTING_IRQCHIP;
	e->u.irqchip.irqchip = chip;
	e->u.irqchip.pin = pin;
}

/* PIC pins for GSI 0-15, IOAPIC pins with IRQ 0 on pin 2 (as the MP table and MADT say). */
unsigned arch_irq_chip_routes(struct kvm_irq_routing_entry *e)
{
	unsigned n = 0;

	for (uint32_t gsi = 0; gsi < PIC_PINS; gsi++)
		route_chip(&e[n++], gsi, gsi < 8 ? KVM_IRQCHIP_PIC_MASTER : KVM_IRQCHIP_PIC_SLAVE,
			   gsi % 8);
	for (uint32_t gsi = 0; gsi < X86_IOAPIC_PINS; gsi++) {
		if (gsi == 2)
			continue;	/* pin 2 belongs to IRQ 0 */
		route_chip(&e[n++], gsi, KVM_IRQCHIP_IOAPIC, gsi == 0 ? 2 : gsi);
	}
	return n;
}

void arch_mem_layout(struct gmem *gm, uint64_t size)
{
	gmem_layout_x86(gm, size);
}

int arch_vm_init(struct vm *vm)
{
	struct kvm_pit_config pit = { .flags = KVM_PIT_SPEAKER_DUMMY };
	uint64_t idmap = VM_IDENTITY_MAP_ADDR;
	int err;

	err = vm_ioctl(vm, KVM_SET_TSS_ADDR, (void *)(uintptr_t)VM_TSS_ADDR,
		       "KVM_SET_TSS_ADDR");
	if (!err)
		err = vm_ioctl(vm, KVM_SET_IDENTITY_MAP_ADDR, &idmap, "KVM_SET_IDENTITY_MAP_ADDR");
	if (!err)
		err = vm_ioctl(vm, KVM_CREATE_IRQCHIP, NULL, "KVM_CREATE_IRQCHIP");
	if (!err)
		err = irq_routes_init(&vm->irq, vm->vm_fd);
	if (err)
		return err;
	vm->irq_ready = true;
	return vm_ioctl(vm, KVM_CREATE_PIT2, &pit, "KVM_CREATE_PIT2");
}

int arch_kernel_probe(const uint8_t *img, size_t len, const char *path)
{
	enum x86_kernel_kind kind;

	if (x86_kernel_probe(img, len, &kind)) {
		log_err("--kernel %s: not %s", path, arch_kernel_kind);
		return -ENOEXEC;
	}
	return 0;
}

int arch_boot_load(struct vm *vm, const struct arch_boot_config *cfg, struct arch_boot **out)
{
	struct x86_boot_config bc = {
		.kernel = cfg->kernel, .kernel_len = cfg->kernel_len,
		.initrd = cfg->initrd, .initrd_len = cfg->initrd_len,
		.cmdline = cfg->cmdline, .ncpus = cfg->ncpus,
	};
	struct arch_boot *b = calloc(1, sizeof(*b));
	int err;

	if (!b)
		return -ENOMEM;
	err = x86_boot_setup(&vm->mem, &bc, &b->bi);
	if (err) {
		free(b);
		return err;
	}
	*out = b;
	return 0;
}

int arch_vcpu_init(struct vm *vm, int vcpu_fd, unsigned index, const struct arch_boot *b)
{
	int err = x86_cpuid_setup(vm->kvm_fd, vcpu_fd, index, vm->ncpus);

	if (!err && index == 0)
		err = x86_vcpu_boot_regs(vcpu_fd, &b->bi);
	return err;
}

int arch_vcpus_ready(struct vm *vm, const int *fds, unsigned n, struct arch_boot *b)
{
	return 0;	/* the tables were written with the kernel; APs wait for INIT/SIPI */
}

void arch_boot_free(struct arch_boot *b)
{
	free(b);
}

/*
 * On AMD, KVM INITs a vCPU before it reports KVM_EXIT_SHUTDOWN (the VMCB is
 * undefined after a shutdown intercept), so a shutdown's RIP there is the
 * reset vector, not where the guest faulted: said so rather than misread.
 */
void arch_vcpu_where(int vcpu_fd, bool shutdown, char *buf, size_t len)
{
	struct kvm_regs regs;

	if (ioctl(vcpu_fd, KVM_GET_REGS, &regs) < 0)
		snprintf(buf, len, " (RIP unknown)");
	else
		snprintf(buf, len, " at RIP 0x%llx%s", (unsigned long long)regs.rip,
			 shutdown && regs.rip == RESET_RIP ? " (the reset vector: KVM reset the "
			 "vCPU before it reported the shutdown, as it does on AMD; where the guest "
			 "faulted is not known)" : "");
}
