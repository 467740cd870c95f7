/*
 * The virtio-pci modern transport: ISR, device configuration and notify
 * regions of BAR0, interrupts, reset and NEEDS_RESET; the common
 * configuration region is virtio_pci_common.c. The contract with the
 * monitor and the models is in virtio_pci.h.
 */
#include "virtio_pci_int.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define VIRTIO_PCI_CONFIG_MAX	256	/* largest device configuration we serve */

bool virtio_pci_has_feature(const struct virtio_pci *vp, unsigned bit)
{
	return bit < 64 && (vp->status & VIRTIO_STATUS_FEATURES_OK) &&
	       (vp->driver_features >> bit & 1);
}

bool virtio_pci_running(const struct virtio_pci *vp)
{
	return (vp->status & VIRTIO_STATUS_DRIVER_OK) &&
	       !(vp->status & (VIRTIO_STATUS_NEEDS_RESET | VIRTIO_STATUS_FAILED));
}

struct vq *virtio_pci_vq(struct virtio_pci *vp, unsigned q)
{
	return &vp->queues[q].vq;
}

/* --- interrupts --- */

static void vp_irq(struct virtio_pci *vp, unsigned line, int level)
{
	if (vp->dev->host->irq_set(vp->dev->host, line, level) < 0)
		dev_warn_once(vp->dev, "irq_set(%u, %d) failed", line, level);
}

/* By vector if the driver set one, else INTx with the ISR bit. */
static void vp_raise(struct virtio_pci *vp, uint16_t vector, uint8_t isr_bit)
{
	if (vector != VIRTIO_MSI_NO_VECTOR) {
		vp_irq(vp, vector, 1);
		return;
	}
	if (vp->intx_line < 0)
		return;
	vp->isr |= isr_bit;
	if (!vp->intx_level) {
		vp->intx_level = true;
		vp_irq(vp, (unsigned)vp->intx_line, 1);
	}
}

static void vp_intx_lower(struct virtio_pci *vp)
{
	if (vp->intx_level) {
		vp->intx_level = false;
		vp_irq(vp, (unsigned)vp->intx_line, 0);
	}
}

void virtio_pci_queue_interrupt(struct virtio_pci *vp, unsigned q)
{
	if (q < vp->nqueues && vq_need_interrupt(&vp->queues[q].vq))
		vp_raise(vp, vp->queues[q].msix_vector, VIRTIO_ISR_QUEUE);
}

void virtio_pci_fail(struct virtio_pci *vp, const char *why)
{
	if (vp->status & VIRTIO_STATUS_NEEDS_RESET)
		return;
	vp->status |= VIRTIO_STATUS_NEEDS_RESET;
	dev_set_needs_reset(vp->dev, why);
	if (vp->status & VIRTIO_STATUS_DRIVER_OK)
		vp_raise(vp, vp->msix_config, VIRTIO_ISR_CONFIG);
}

/* --- reset --- */

static void vp_reset_queue(struct virtio_pci *vp, struct virtio_pci_queue *q)
{
	vq_reset(&q->vq);
	q->size = vp->cls->queue_max;
	q->msix_vector = VIRTIO_MSI_NO_VECTOR;
	q->enabled = false;
	q->desc = q->avail = q->used = 0;
}

void virtio_pci_reset(struct device *dev)
{
	struct virtio_pci *vp = virtio_pci_of(dev);

	for (unsigned i = 0; i < vp->nqueues; i++)
		vp_reset_queue(vp, &vp->queues[i]);
	vp->status = 0;
	vp->dfselect = vp->gfselect = 0;
	vp->driver_features = 0;
	vp->msix_config = VIRTIO_MSI_NO_VECTOR;
	vp->queue_select = 0;
	vp->isr = 0;
	vp->resumed = false;
	vp_intx_lower(vp);
	dev->needs_reset = false;	/* a new fault after reset is reported again */
	if (vp->cls->reset)
		vp->cls->reset(vp);
}

/* --- ISR, device configuration, notifications --- */

static void vp_trap_isr(struct virtio_pci *vp, struct trap *t)
{
	if (t->is_write)
		return;
	if (t->offset != 0) {
		trap_set_value(t, 0);
		return;
	}
	trap_set_value(t, vp->isr);
	vp->isr = 0;		/* reading acknowledges */
	vp_intx_lower(vp);
}

static void vp_trap_device(struct virtio_pci *vp, struct trap *t)
{
	uint8_t cfg[VIRTIO_PCI_CONFIG_MAX] = { 0 };
	uint64_t v = 0;

	if (t->is_write) {
		dev_warn_once(vp->dev, "device config write at +0x%llx ignored",
			      (unsigned long long)t->offset);
		return;
	}
	vp->cls->config_read(vp, cfg);
	for (unsigned i = 0; i < t->len; i++)
		if (t->offset + i < vp->cls->config_size)
			v |= (uint64_t)cfg[t->offset + i] << (8 * i);
	trap_set_value(t, v);
}

static void vp_trap_notify(struct virtio_pci *vp, struct trap *t)
{
	if (!t->is_write) {
		trap_set_value(t, 0);
		return;
	}
	if (t->offset % VIRTIO_PCI_NOTIFY_MULTIPLIER) {
		dev_warn_once(vp->dev, "notify write at +0x%llx between doorbells ignored",
			      (unsigned long long)t->offset);
		return;
	}
	virtio_pci_notify(vp->dev, (unsigned)(t->offset / VIRTIO_PCI_NOTIFY_MULTIPLIER));
}

int virtio_pci_trap(struct device *dev, struct trap *t)
{
	struct virtio_pci *vp = virtio_pci_of(dev);

	if (t->region >= VIRTIO_PCI_NREGIONS || t->offset >= VIRTIO_PCI_REGION_SIZE ||
	    (t->len != 1 && t->len != 2 && t->len != 4 && t->len != 8))
		return -EINVAL;
	switch (t->region) {
	case VIRTIO_PCI_REGION_COMMON: virtio_pci_common_trap(vp, t); break;
	case VIRTIO_PCI_REGION_ISR:    vp_trap_isr(vp, t); break;
	case VIRTIO_PCI_REGION_DEVICE: vp_trap_device(vp, t); break;
	default:		       vp_trap_notify(vp, t); break;
	}
	return 0;
}

void virtio_pci_shadow(struct device *dev, struct trap_shadow *sh)
{
	struct virtio_pci *vp = virtio_pci_of(dev);
	uint8_t cfg[VIRTIO_PCI_CONFIG_MAX] = { 0 };

	virtio_pci_common_shadow(vp, sh);
	vp->cls->config_read(vp, cfg);
	trap_shadow_put_bytes(sh, VIRTIO_PCI_REGION_DEVICE, 0, cfg, vp->cls->config_size);
}

void virtio_pci_notify(struct device *dev, unsigned queue)
{
	struct virtio_pci *vp = virtio_pci_of(dev);

	if (queue >= vp->nqueues) {
		dev_warn_once(dev, "notify of queue %u: no such queue", queue);
		return;
	}
	if (vp->resumed) {
		vp->resumed = false;
		for (unsigned q = 0; virtio_pci_running(vp) && q < vp->nqueues; q++)
			if (vp->queues[q].enabled)
				vp_raise(vp, vp->queues[q].msix_vector, VIRTIO_ISR_QUEUE);
	}
	if (virtio_pci_running(vp) && vp->queues[queue].enabled)
		vp->cls->queue_notify(vp, queue);
}

/* --- create / destroy --- */

static int vp_check_regions(struct device *dev, const struct device_spec *spec)
{
	if (spec->nregions != VIRTIO_PCI_NREGIONS)
		goto bad;
	for (unsigned i = 0; i < VIRTIO_PCI_NREGIONS; i++)
		if (spec->regions[i].bus != TRAP_MMIO ||
		    spec->regions[i].size != VIRTIO_PCI_REGION_SIZE)
			goto bad;
	return 0;
bad:
	dev_err(dev, "needs %u MMIO regions of 0x%x bytes (BAR0)",
		VIRTIO_PCI_NREGIONS, VIRTIO_PCI_REGION_SIZE);
	return -EINVAL;
}

/* irqs: MSI-X vectors, then optionally the INTx line named by intx=<last>. */
static int vp_check_irqs(struct device *dev, const struct device_spec *spec, struct virtio_pci *vp)
{
	const char *intx = dev_param(spec, "intx");
	uint64_t line;

	if (spec->nirqs > DEVICE_MAX_IRQS) {
		dev_err(dev, "at most %u irq lines, got %u", DEVICE_MAX_IRQS, spec->nirqs);
		return -EINVAL;
	}
	vp->nvectors = (uint16_t)spec->nirqs;
	vp->intx_line = -1;
	if (!intx)
		return 0;
	if (spec->nirqs == 0 || parse_uint(intx, 0, DEVICE_MAX_IRQS, &line) ||
	    line != spec->nirqs - 1) {
		dev_err(dev, "intx=%s: must name the last irq line", intx);
		return -EINVAL;
	}
	vp->intx_line = (int)line;
	vp->nvectors--;
	return 0;
}

int virtio_pci_create(struct device *dev, const struct device_spec *spec,
		      const struct virtio_dev_class *cls, void *model, uint64_t features)
{
	const struct virtio_pci_ident *ident = dev->cls ? dev->cls->virtio : NULL;
	struct virtio_pci *vp;
	int err = vp_check_regions(dev, spec);

	if (err)
		return err;
	if (!ident) {
		dev_err(dev, "class %s is not a virtio-pci class", dev->cls ? dev->cls->name : "?");
		return -EINVAL;
	}
	vp = calloc(1, sizeof(*vp));
	if (!vp)
		return -ENOMEM;
	err = vp_check_irqs(dev, spec, vp);
	if (!err && !(vp->queues = calloc(ident->nqueues, sizeof(*vp->queues))))
		err = -ENOMEM;
	if (err) {
		free(vp);
		return err;
	}
	vp->dev = dev;
	vp->cls = cls;
	vp->model = model;
	vp->ident = ident;
	vp->nqueues = ident->nqueues;
	vp->features = features | 1ull << VIRTIO_F_VERSION_1 |
		       1ull << VIRTIO_F_EVENT_IDX | 1ull << VIRTIO_F_INDIRECT_DESC;
	dev->priv = vp;
	virtio_pci_reset(dev);
	return 0;
}

void virtio_pci_destroy(struct device *dev)
{
	struct virtio_pci *vp = virtio_pci_of(dev);

	if (!vp)
		return;
	free(vp->queues);
	free(vp);
	dev->priv = NULL;
}
