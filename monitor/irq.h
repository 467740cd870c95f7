/*
 * The VM's GSI routing table, which the monitor owns: the in-kernel
 * irqchip's pins as the architecture wires them (arch_irq_chip_routes:
 * on x86 the way the MP table and MADT describe them, ISA IRQ 0 on IOAPIC
 * pin 2; on arm64 GSI n is the GIC's SPI n), GSIs 0..arch_irq_chip_gsis-1,
 * plus one MSI route per MSI-X vector a device uses, above them.
 * KVM_SET_GSI_ROUTING takes the whole table at once, so every change
 * re-sends it.
 */
#ifndef VMM_MONITOR_IRQ_H
#define VMM_MONITOR_IRQ_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define IRQ_CHIP_ROUTES_EXTRA 16	/* x86: GSIs 0-15 are on both the PIC and the IOAPIC */
#define IRQ_MAX_MSI 128

struct irq_msi_route {
	uint32_t gsi;
	uint64_t addr;
	uint32_t data;
	uint32_t devid;		/* the requester id, where MSIs carry one (arch_pci.msi_devid) */
	bool active;		/* in the table */
};

struct irq_routes {
	pthread_mutex_t lock;
	int vm_fd;
	unsigned nmsi;			/* GSIs handed out */
	struct irq_msi_route msi[IRQ_MAX_MSI];
};

/*
 * Install the irqchip routes on vm_fd. Returns 0 or -errno (logged).
 */
int irq_routes_init(struct irq_routes *ir, int vm_fd) __attribute__((warn_unused_result));

void irq_routes_destroy(struct irq_routes *ir);

/*
 * Hand out a GSI for an MSI vector (above the irqchip's pins); it routes
 * nowhere until irq_msi_set. Returns 0 and *gsi, or -ENOSPC.
 */
int irq_msi_alloc(struct irq_routes *ir, uint32_t *gsi) __attribute__((warn_unused_result));

/*
 * Route `gsi` (from irq_msi_alloc) as the MSI message addr/data from PCI
 * requester `devid` (bus << 8 | devfn; used where arch_pci.msi_devid),
 * or, with active false, remove its route. Re-sends the table. Returns 0
 * or -errno.
 */
int irq_msi_set(struct irq_routes *ir, uint32_t gsi, bool active, uint64_t addr, uint32_t data,
		uint32_t devid)
	__attribute__((warn_unused_result));

#endif
