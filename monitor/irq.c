#include "irq.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>

#include "arch.h"
#include "log.h"

static int routes_commit(struct irq_routes *ir)
{
	size_t max = arch_irq_chip_gsis + IRQ_CHIP_ROUTES_EXTRA + IRQ_MAX_MSI;
	struct kvm_irq_routing *r = calloc(1, sizeof(*r) + max * sizeof(r->entries[0]));
	int err = 0;

	if (!r)
		return -ENOMEM;
	r->nr = arch_irq_chip_routes(r->entries);
	for (unsigned i = 0; i < ir->nmsi; i++) {
		struct kvm_irq_routing_entry *e = &r->entries[r->nr];

		if (!ir->msi[i].active)
			continue;
		memset(e, 0, sizeof(*e));
		e->gsi = ir->msi[i].gsi;
		e->type = KVM_IRQ_ROUTING_MSI;
		e->u.msi.address_lo = (uint32_t)ir->msi[i].addr;
		e->u.msi.address_hi = (uint32_t)(ir->msi[i].addr >> 32);
		e->u.msi.data = ir->msi[i].data;
		if (arch_pci.msi_devid) {
			e->flags = KVM_MSI_VALID_DEVID;
			e->u.msi.devid = ir->msi[i].devid;
		}
		r->nr++;
	}
	if (ioctl(ir->vm_fd, KVM_SET_GSI_ROUTING, r) < 0)
		err = -errno;
	free(r);
	return err;
}

int irq_routes_init(struct irq_routes *ir, int vm_fd)
{
	int err;

	memset(ir, 0, sizeof(*ir));
	ir->vm_fd = vm_fd;
	if (pthread_mutex_init(&ir->lock, NULL))
		return -ENOMEM;
	err = routes_commit(ir);
	if (err)
		log_err("KVM_SET_GSI_ROUTING: %s", strerror(-err));
	return err;
}

void irq_routes_destroy(struct irq_routes *ir)
{
	pthread_mutex_destroy(&ir->lock);
}

int irq_msi_alloc(struct irq_routes *ir, uint32_t *gsi)
{
	int err = -ENOSPC;

	pthread_mutex_lock(&ir->lock);
	if (ir->nmsi < IRQ_MAX_MSI) {
		*gsi = arch_irq_chip_gsis + ir->nmsi;
		ir->msi[ir->nmsi++] = (struct irq_msi_route){ .gsi = *gsi };
		err = 0;
	}
	pthread_mutex_unlock(&ir->lock);
	return err;
}

int irq_msi_set(struct irq_routes *ir, uint32_t gsi, bool active, uint64_t addr, uint32_t data,
		uint32_t devid)
{
	unsigned i = gsi - arch_irq_chip_gsis;
	int err;

	if (gsi < arch_irq_chip_gsis)
		return -EINVAL;
	pthread_mutex_lock(&ir->lock);
	if (i >= ir->nmsi) {
		pthread_mutex_unlock(&ir->lock);
		return -EINVAL;
	}
	ir->msi[i].active = active;
	ir->msi[i].addr = addr;
	ir->msi[i].data = data;
	ir->msi[i].devid = devid;
	err = routes_commit(ir);
	pthread_mutex_unlock(&ir->lock);
	return err;
}
