/*
 * What the monitor asks of the architecture it runs on. Exactly one
 * implementation is linked, chosen by meson from the host CPU:
 * monitor/arch_x86.c (the PC: port I/O, PIC/IOAPIC, MP and ACPI tables)
 * or monitor/arch_arm64.c (the vGICv3 with its ITS, PSCI, a device tree).
 * They hold what touches KVM's per-architecture API; the boot formats
 * themselves are in arch/x86/ and arch/arm64/, which know nothing of KVM.
 *
 * Order of the calls, from vm_run: arch_mem_layout and arch_vm_init (in
 * vm_create), arch_kernel_probe (reading the inputs), arch_boot_load,
 * then for each vCPU arch_vcpu_init, then arch_vcpus_ready once all exist
 * and before any runs; arch_boot_free at the end.
 */
#ifndef VMM_MONITOR_ARCH_H
#define VMM_MONITOR_ARCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "device.h"
#include "gmem.h"
#include "pci.h"

struct vm;
struct kvm_irq_routing_entry;
struct arch_boot;	/* the architecture's own record of a boot */

/*
 * Where a fixed device sits: the bus and base of each region (its size
 * and sync come from the class) and the GSIs of its lines. The first
 * entry is the serial port, which gets the console.
 */
struct arch_place {
	const char *klass;
	uint8_t bus;		/* enum trap_bus, for every region */
	uint64_t base[DEVICE_MAX_REGIONS];
	unsigned nirqs;
	uint32_t irqs[DEVICE_MAX_IRQS];
};
extern const struct arch_place arch_fixed_devices[];
extern const unsigned arch_fixed_count;

/* How PCI is reached (pci.h) and what bus 0 offers. */
struct arch_pci {
	struct pci_host_cfg host;	/* x86: ports 0xCF8/0xCFC; arm64: ECAM */
	bool intx;		/* functions raise INTx (arch_pci_intx_gsi); else MSI-X only */
	bool msi_devid;		/* MSI routes carry the requester id (a GICv3 ITS) */
};
extern const struct arch_pci arch_pci;

/* GSIs 0..ARCH_IRQ_CHIP_GSIS-1 are the irqchip's pins; MSI routes follow. */
extern const unsigned arch_irq_chip_gsis;

/* The GSI bus 0 slot `slot` pin `pin` (0 = INTA) raises; only with arch_pci.intx. */
uint32_t arch_pci_intx_gsi(unsigned slot, unsigned pin);

/* KVM_IRQ_LINE's irq field for irqchip GSI gsi (x86: the GSI; arm64: type SPI, INTID 32 + gsi). */
uint32_t arch_irq_line(uint32_t gsi);

/* The irqchip part of the GSI routing table, into e (room for arch_irq_chip_gsis + IRQ_CHIP_ROUTES_EXTRA, irq.h). */
unsigned arch_irq_chip_routes(struct kvm_irq_routing_entry *e);

/* Guest RAM of `size` bytes: gm's ranges (gpa, size, fd_offset) and total. */
void arch_mem_layout(struct gmem *gm, uint64_t size);

/*
 * Just after KVM_CREATE_VM, before guest RAM: what the architecture needs
 * first (x86: TSS and identity-map addresses, the in-kernel PIC/IOAPIC and
 * PIT; arm64: the vGICv3 and its ITS, placed but not yet initialised),
 * then vm->irq (the GSI table). Returns 0 or -errno after one logged line.
 */
int arch_vm_init(struct vm *vm) __attribute__((warn_unused_result));

/*
 * Whether img is a kernel this architecture boots (x86: bzImage or ELF64;
 * arm64: an Image with its header's magic). 0, or -ENOEXEC after one line
 * naming path and what was expected.
 */
int arch_kernel_probe(const uint8_t *img, size_t len, const char *path)
	__attribute__((warn_unused_result));

struct arch_boot_config {
	const uint8_t *kernel;
	size_t kernel_len;
	const uint8_t *initrd;	/* NULL: none */
	size_t initrd_len;
	const char *cmdline;
	unsigned ncpus;
};

/*
 * Put the kernel, initrd and command line into guest RAM (and, on x86,
 * every firmware table). *out is the architecture's record of it, for the
 * calls below. Returns 0 or -errno after one logged line (-E2BIG: does not
 * fit; -ENOEXEC: not a kernel we boot; -EINVAL: bad input).
 */
int arch_boot_load(struct vm *vm, const struct arch_boot_config *cfg, struct arch_boot **out)
	__attribute__((warn_unused_result));

/*
 * vCPU `index`, just created: x86: its CPUID, and the boot CPU's registers;
 * arm64: KVM_ARM_VCPU_INIT with PSCI 0.2 (every CPU but the boot CPU
 * powered off, for PSCI CPU_ON). Returns 0 or -errno (logged by the caller).
 */
int arch_vcpu_init(struct vm *vm, int vcpu_fd, unsigned index, const struct arch_boot *b)
	__attribute__((warn_unused_result));

/*
 * Every vCPU exists (fds[i] for vCPU i) and none has run: arm64
 * initialises its vGIC and ITS, writes the device tree (the vCPUs' MPIDRs
 * read from KVM) and the boot CPU's registers; x86 has nothing left to do.
 * Returns 0 or -errno after one logged line.
 */
int arch_vcpus_ready(struct vm *vm, const int *fds, unsigned n, struct arch_boot *b)
	__attribute__((warn_unused_result));

void arch_boot_free(struct arch_boot *b);

/*
 * Where a failed vCPU was, for the failure's message: " at RIP 0x..." (x86)
 * or " at PC 0x..." (arm64), with what is known about it; `shutdown`: KVM
 * reported KVM_EXIT_SHUTDOWN. Written into buf.
 */
void arch_vcpu_where(int vcpu_fd, bool shutdown, char *buf, size_t len);

/* The one vCPU ioctl arch_vcpu_where makes (the vCPU threads' profile allows it). */
#if defined(__x86_64__)
#define ARCH_VCPU_WHERE_IOCTL KVM_GET_REGS
#define ARCH_VCPU_WHERE_IOCTL_NAME "KVM_GET_REGS"
#elif defined(__aarch64__)
#define ARCH_VCPU_WHERE_IOCTL KVM_GET_ONE_REG
#define ARCH_VCPU_WHERE_IOCTL_NAME "KVM_GET_ONE_REG"
#endif

/* What `--kernel` must be, for --help and errors: "a bzImage or ELF64 x86-64 kernel". */
extern const char arch_kernel_kind[];

#endif
