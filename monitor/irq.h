/*
 * The VM's GSI routing table, which the monitor owns: the in-kernel
 * irqchip's pins, wired the way the MP table and MADT describe them (ISA
 * IRQ 0 on IOAPIC pin 2, every other GSI on the pin of its number), plus
 * one MSI route per MSI-X vector a device uses. KVM_SET_GSI_ROUTING takes
 * the whole table at once, so every change re-sends it.
 */
#ifndef VMM_MONITOR_IRQ_H
#define VMM_MONITOR_IRQ_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#define IRQ_IOAPIC_PINS 24
#define IRQ_MAX_MSI 128

struct irq_msi_route {
	uint32_t gsi;
	uint64_t addr;
	uint32_t data;
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
 * Hand out a GSI for an MSI vector (above the IOAPIC's pins); it routes
 * nowhere until irq_msi_set. Returns 0 and *gsi, or -ENOSPC.
 */
int irq_msi_alloc(struct irq_routes *ir, uint32_t *gsi) __attribute__((warn_unused_result));

/*
 * Route `gsi` (from irq_msi_alloc) as the MSI message addr/data, or, with
 * active false, remove its route. Re-sends the table. Returns 0 or -errno.
 */
int irq_msi_set(struct irq_routes *ir, uint32_t gsi, bool active, uint64_t addr, uint32_t data)
	__attribute__((warn_unused_result));

#endif
