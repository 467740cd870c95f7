/*
 * The monitor's arm64 side (arch.h): the 16550 and the MC146818 on MMIO,
 * the in-kernel vGICv3 with an ITS for MSI-X, vCPUs with PSCI 0.2, PCI
 * through ECAM, and the boot through arch/arm64 (Image, initrd, the
 * device tree written once every vCPU's MPIDR is known).
 *
 * Why an ITS and not INTx: virtio-pci functions interrupt through MSI-X
 * on x86 too, one irqfd per vector, no status read to find the cause;
 * INTx would cost a trapped ISR read per interrupt and needs irqfd
 * resampling, which KVM on arm64 only has from Linux 6.4 (the emulated
 * machine runs 6.1).
 */
#include "arch.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "arm64.h"
#include "log.h"
#include "trap.h"
#include "vm.h"

#define GIC_NR_IRQS 128		/* the vGIC's interrupts: 32 private ones and 96 SPIs */

struct arch_boot {
	struct arm64_boot_info bi;
	char *cmdline;
};

/* The machine's own devices, where the device tree says they are. */
const struct arch_place arch_fixed_devices[] = {
	{ "serial", TRAP_MMIO, { ARM64_UART_BASE }, 1, { ARM64_UART_SPI } },
	{ "rtc", TRAP_MMIO, { ARM64_RTC_BASE }, 1, { ARM64_RTC_SPI } },
};
const unsigned arch_fixed_count = sizeof(arch_fixed_devices) / sizeof(arch_fixed_devices[0]);

const struct arch_pci arch_pci = {
	.host = { .ecam = true, .ecam_base = ARM64_PCI_ECAM_BASE,
		  .mmio_start = ARM64_PCI_MMIO_START, .mmio_end = ARM64_PCI_MMIO_END },
	.msi_devid = true,
};

const unsigned arch_irq_chip_gsis = ARM64_SPIS;

const char arch_kernel_kind[] = "a little-endian arm64 Image";

uint32_t arch_pci_intx_gsi(unsigned slot, unsigned pin)
{
	return 0;	/* arch_pci.intx is false: never asked */
}

uint32_t arch_irq_line(uint32_t gsi)
{
	return KVM_ARM_IRQ_TYPE_SPI << KVM_ARM_IRQ_TYPE_SHIFT | (32 + gsi);
}

/* GSI n is SPI n (INTID 32 + n): KVM's irqchip pin numbering on arm64. */
unsigned arch_irq_chip_routes(struct kvm_irq_routing_entry *e)
{
	for (uint32_t gsi = 0; gsi < ARM64_SPIS; gsi++) {
		memset(&e[gsi], 0, sizeof(e[gsi]));
		e[gsi].gsi = gsi;
		e[gsi].type = KVM_IRQ_ROUTING_IRQCHIP;
		e[gsi].u.irqchip.irqchip = 0;
		e[gsi].u.irqchip.pin = gsi;
	}
	return ARM64_SPIS;
}

void arch_mem_layout(struct gmem *gm, uint64_t size)
{
	arm64_mem_layout(gm, size);
}

static int dev_attr(int fd, uint32_t group, uint64_t attr, void *addr, const char *what)
{
	struct kvm_device_attr a = { .group = group, .attr = attr, .addr = (uintptr_t)addr };

	if (ioctl(fd, KVM_SET_DEVICE_ATTR, &a) < 0) {
		int err = -errno;

		log_err("%s: %s", what, strerror(errno));
		return err;
	}
	return 0;
}

static int kvm_device_create(struct vm *vm, uint32_t type, const char *what)
{
	struct kvm_create_device cd = { .type = type };
	int err = vm_ioctl(vm, KVM_CREATE_DEVICE, &cd, what);

	return err ? err : (int)cd.fd;
}

/*
 * The vGICv3 (distributor and redistributors placed, its interrupt count)
 * and its ITS, both initialised later (arch_vcpus_ready: the redistributors
 * need every vCPU). Then the GSI table.
 */
int arch_vm_init(struct vm *vm)
{
	uint64_t gicd = ARM64_GICD_BASE, gicr = ARM64_GICR_BASE, gits = ARM64_GITS_BASE;
	uint32_t nr_irqs = GIC_NR_IRQS;
	int err;

	if (vm->ncpus > (ARM64_PCI_MMIO_START - ARM64_GICR_BASE) / ARM64_GICR_SIZE) {
		log_err("arm64: %u vCPUs do not fit the redistributor region", vm->ncpus);
		return -E2BIG;
	}
	int gic_fd = vm->irqchip_fd[0] = kvm_device_create(vm, KVM_DEV_TYPE_ARM_VGIC_V3,
						       "KVM_CREATE_DEVICE (vGICv3)");
	if (gic_fd < 0)
		return gic_fd;
	err = dev_attr(gic_fd, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V3_ADDR_TYPE_DIST, &gicd,
		       "vGICv3 distributor address");
	if (!err)
		err = dev_attr(gic_fd, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_V3_ADDR_TYPE_REDIST,
			       &gicr, "vGICv3 redistributor address");
	if (!err)
		err = dev_attr(gic_fd, KVM_DEV_ARM_VGIC_GRP_NR_IRQS, 0, &nr_irqs,
			       "vGICv3 interrupt count");
	if (err)
		return err;
	int its_fd = vm->irqchip_fd[1] = kvm_device_create(vm, KVM_DEV_TYPE_ARM_VGIC_ITS,
						       "KVM_CREATE_DEVICE (vGICv3 ITS)");
	if (its_fd < 0)
		return its_fd;
	err = dev_attr(its_fd, KVM_DEV_ARM_VGIC_GRP_ADDR, KVM_VGIC_ITS_ADDR_TYPE, &gits,
		       "vGICv3 ITS address");
	if (!err)
		err = irq_routes_init(&vm->irq, vm->vm_fd);
	if (!err)
		vm->irq_ready = true;
	return err;
}

int arch_kernel_probe(const uint8_t *img, size_t len, const char *path)
{
	struct arm64_image im;

	if (arm64_image_probe(img, len, &im)) {
		log_err("--kernel %s: not %s", path, arch_kernel_kind);
		return -ENOEXEC;
	}
	return 0;
}

int arch_boot_load(struct vm *vm, const struct arch_boot_config *cfg, struct arch_boot **out)
{
	struct arm64_boot_config bc = {
		.kernel = cfg->kernel, .kernel_len = cfg->kernel_len,
		.initrd = cfg->initrd, .initrd_len = cfg->initrd_len,
	};
	struct arch_boot *b = calloc(1, sizeof(*b));
	int err;

	if (!b || !(b->cmdline = strdup(cfg->cmdline))) {
		free(b);
		return -ENOMEM;
	}
	err = arm64_boot_load(&vm->mem, &bc, &b->bi);
	if (err) {
		arch_boot_free(b);
		return err;
	}
	*out = b;
	return 0;
}

/* KVM's preferred CPU model with PSCI 0.2; every CPU but the boot CPU off until CPU_ON. */
int arch_vcpu_init(struct vm *vm, int vcpu_fd, unsigned index, const struct arch_boot *b)
{
	struct kvm_vcpu_init init;

	memset(&init, 0, sizeof(init));
	if (ioctl(vm->vm_fd, KVM_ARM_PREFERRED_TARGET, &init) < 0)
		return -errno;
	memset(init.features, 0, sizeof(init.features));
	init.features[0] = 1u << KVM_ARM_VCPU_PSCI_0_2;
	if (index > 0)
		init.features[0] |= 1u << KVM_ARM_VCPU_POWER_OFF;
	if (ioctl(vcpu_fd, KVM_ARM_VCPU_INIT, &init) < 0)
		return -errno;
	return 0;
}

#define CORE_REG(field) (KVM_REG_ARM64 | KVM_REG_SIZE_U64 | KVM_REG_ARM_CORE | \
			 (offsetof(struct kvm_regs, field) / sizeof(uint32_t)))
#define MPIDR_EL1 ARM64_SYS_REG(3, 0, 0, 0, 5)

static int reg_get(int vcpu_fd, uint64_t id, uint64_t *v)
{
	struct kvm_one_reg r = { .id = id, .addr = (uintptr_t)v };

	return ioctl(vcpu_fd, KVM_GET_ONE_REG, &r) < 0 ? -errno : 0;
}

static int reg_set(int vcpu_fd, uint64_t id, uint64_t v)
{
	struct kvm_one_reg r = { .id = id, .addr = (uintptr_t)&v };

	return ioctl(vcpu_fd, KVM_SET_ONE_REG, &r) < 0 ? -errno : 0;
}

static int ctrl_init(int fd, const char *what)
{
	return dev_attr(fd, KVM_DEV_ARM_VGIC_GRP_CTRL, KVM_DEV_ARM_VGIC_CTRL_INIT, NULL, what);
}

/*
 * The vGIC and ITS initialised, the device tree written with the MPIDRs
 * KVM gave the vCPUs, and the boot CPU pointed at the kernel: x0 = the
 * tree's address, x1-x3 = 0, PC = the Image's first byte (KVM_ARM_VCPU_INIT
 * left it in EL1h with every exception masked, as booting.rst wants).
 */
int arch_vcpus_ready(struct vm *vm, const int *fds, unsigned n, struct arch_boot *b)
{
	struct arm64_fdt_config fc = {
		.ram_start = vm->mem.r[0].gpa, .ram_size = vm->mem.r[0].size, .ncpus = n,
		.cmdline = b->cmdline,
		.initrd_start = b->bi.initrd_start, .initrd_end = b->bi.initrd_end,
	};
	void *fdt;
	int err;

	err = ctrl_init(vm->irqchip_fd[0], "vGICv3 initialisation");
	if (!err)
		err = ctrl_init(vm->irqchip_fd[1], "vGICv3 ITS initialisation");
	if (err)
		return err;
	for (unsigned i = 0; i < n && i < ARM64_MAX_CPUS; i++) {
		err = reg_get(fds[i], MPIDR_EL1, &fc.mpidr[i]);
		if (err) {
			log_err("vCPU %u: reading MPIDR_EL1: %s", i, strerror(-err));
			return err;
		}
	}
	fdt = gmem_ptr(&vm->mem, b->bi.fdt_addr, ARM64_FDT_MAX);
	if (!fdt)
		return -EFAULT;
	err = arm64_fdt_build(fdt, ARM64_FDT_MAX, &fc);
	if (err) {
		log_err("arm64: the device tree: %s", strerror(-err));
		return err;
	}
	err = reg_set(fds[0], CORE_REG(regs.regs[0]), b->bi.fdt_addr);
	for (unsigned r = 1; r < 4 && !err; r++)
		err = reg_set(fds[0], CORE_REG(regs.regs[r]), 0);
	if (!err)
		err = reg_set(fds[0], CORE_REG(regs.pc), b->bi.kernel_addr);
	if (err)
		log_err("vCPU 0: boot registers: %s", strerror(-err));
	return err;
}

void arch_boot_free(struct arch_boot *b)
{
	if (!b)
		return;
	free(b->cmdline);
	free(b);
}

void arch_vcpu_where(int vcpu_fd, bool shutdown, char *buf, size_t len)
{
	uint64_t pc;

	if (reg_get(vcpu_fd, CORE_REG(regs.pc), &pc))
		snprintf(buf, len, " (PC unknown)");
	else
		snprintf(buf, len, " at PC 0x%llx", (unsigned long long)pc);
}
