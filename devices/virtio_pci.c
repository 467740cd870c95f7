/*
 * The virtio-pci modern transport: common configuration, ISR, device
 * configuration and notify regions of BAR0, interrupts, and NEEDS_RESET.
 * The contract with the monitor and the models is in virtio_pci.h.
 */
#include "virtio_pci.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

#define VIRTIO_PCI_CONFIG_MAX	256	/* largest device configuration we serve */

static const struct virtio_pci_ident virtio_pci_idents[] = {
	{ "virtio-blk", VIRTIO_ID_BLOCK, 0x018000, 1, 2 },	/* mass storage, other */
	{ "virtio-console", VIRTIO_ID_CONSOLE, 0x078000, 2, 3 },	/* communication, other */
	{ "virtio-rng", VIRTIO_ID_RNG, 0xff0000, 1, 2 },	/* unclassified */
};

const struct virtio_pci_ident *virtio_pci_ident_find(const char *klass)
{
	for (size_t i = 0; i < ARRAY_SIZE(virtio_pci_idents); i++)
		if (strcmp(virtio_pci_idents[i].klass, klass) == 0)
			return &virtio_pci_idents[i];
	return NULL;
}

static uint64_t vp_device_features(const struct virtio_pci *vp)
{
	return vp->features;
}

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

/* A vector the device can send, else NO_VECTOR (the driver reads that back). */
static uint16_t vp_vector(const struct virtio_pci *vp, uint64_t v)
{
	return v < vp->nvectors ? (uint16_t)v : VIRTIO_MSI_NO_VECTOR;
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
	vp_intx_lower(vp);
	dev->needs_reset = false;	/* a new fault after reset is reported again */
	if (vp->cls->reset)
		vp->cls->reset(vp);
}

/* --- common configuration --- */

static struct virtio_pci_queue *vp_selected(struct virtio_pci *vp)
{
	return vp->queue_select < vp->nqueues ? &vp->queues[vp->queue_select] : NULL;
}

/* Natural width of the field at off (0: no field starts there). */
static unsigned vp_common_width(uint64_t off)
{
	if (off >= VIRTIO_PCI_COMMON_SIZE)
		return 0;
	if (off >= VIRTIO_PCI_COMMON_Q_DESCLO)
		return off % 4 ? 0 : 4;
	if (off < VIRTIO_PCI_COMMON_MSIX)
		return off % 4 ? 0 : 4;
	if (off == VIRTIO_PCI_COMMON_STATUS || off == VIRTIO_PCI_COMMON_CFGGENERATION)
		return 1;
	return off % 2 ? 0 : 2;
}

static bool vp_common_access_ok(uint64_t off, unsigned len)
{
	unsigned w = vp_common_width(off);

	if (w && len == w)
		return true;
	/* A whole 64-bit queue address at once. */
	return len == 8 && off >= VIRTIO_PCI_COMMON_Q_DESCLO &&
	       off < VIRTIO_PCI_COMMON_SIZE && off % 8 == 0;
}

static uint64_t *vp_queue_addr(struct virtio_pci_queue *q, uint64_t off)
{
	if (off < VIRTIO_PCI_COMMON_Q_AVAILLO)
		return &q->desc;
	return off < VIRTIO_PCI_COMMON_Q_USEDLO ? &q->avail : &q->used;
}

static uint64_t vp_read_queue(struct virtio_pci *vp, uint64_t off, unsigned len)
{
	struct virtio_pci_queue *q = vp_selected(vp);

	if (!q)
		return off == VIRTIO_PCI_COMMON_Q_MSIX ? VIRTIO_MSI_NO_VECTOR : 0;
	switch (off) {
	case VIRTIO_PCI_COMMON_Q_SIZE:   return q->size;
	case VIRTIO_PCI_COMMON_Q_MSIX:   return q->msix_vector;
	case VIRTIO_PCI_COMMON_Q_ENABLE: return q->enabled;
	case VIRTIO_PCI_COMMON_Q_NOFF:   return vp->queue_select;
	}
	return *vp_queue_addr(q, off) >> (len == 8 ? 0 : 8 * (off % 8));
}

static uint64_t vp_read_common(struct virtio_pci *vp, uint64_t off, unsigned len)
{
	switch (off) {
	case VIRTIO_PCI_COMMON_DFSELECT: return vp->dfselect;
	case VIRTIO_PCI_COMMON_DF:
		return vp->dfselect < 2 ? (uint32_t)(vp_device_features(vp) >> (32 * vp->dfselect)) : 0;
	case VIRTIO_PCI_COMMON_GFSELECT: return vp->gfselect;
	case VIRTIO_PCI_COMMON_GF:
		return vp->gfselect < 2 ? (uint32_t)(vp->driver_features >> (32 * vp->gfselect)) : 0;
	case VIRTIO_PCI_COMMON_MSIX:	 return vp->msix_config;
	case VIRTIO_PCI_COMMON_NUMQ:	 return vp->nqueues;
	case VIRTIO_PCI_COMMON_STATUS:	 return vp->status;
	case VIRTIO_PCI_COMMON_CFGGENERATION: return vp->config_generation;
	case VIRTIO_PCI_COMMON_Q_SELECT: return vp->queue_select;
	}
	return vp_read_queue(vp, off, len);
}

static void vp_write_driver_features(struct virtio_pci *vp, uint32_t v)
{
	unsigned shift = 32 * vp->gfselect;

	if (vp->status & VIRTIO_STATUS_FEATURES_OK) {
		dev_warn_once(vp->dev, "driver features written after FEATURES_OK: ignored");
		return;
	}
	if (vp->gfselect >= 2)
		return;
	vp->driver_features &= ~(0xffffffffull << shift);
	vp->driver_features |= (uint64_t)v << shift;
}

/* The spec's acceptance rule: a subset of ours, and a modern driver. */
static bool vp_features_acceptable(const struct virtio_pci *vp)
{
	return !(vp->driver_features & ~vp_device_features(vp)) &&
	       (vp->driver_features >> VIRTIO_F_VERSION_1 & 1);
}

/* DRIVER_OK: pick up buffers the driver posted before it. */
static void vp_driver_ok(struct virtio_pci *vp)
{
	for (unsigned i = 0; i < vp->nqueues && virtio_pci_running(vp); i++)
		if (vp->queues[i].enabled)
			vp->cls->queue_notify(vp, i);
}

static void vp_write_status(struct virtio_pci *vp, uint8_t v)
{
	uint8_t added;

	if (v == 0) {
		virtio_pci_reset(vp->dev);
		return;
	}
	v &= (uint8_t)~VIRTIO_STATUS_NEEDS_RESET;	/* the device's bit */
	if (vp->status & ~v & ~VIRTIO_STATUS_NEEDS_RESET) {
		dev_warn_once(vp->dev, "status 0x%02x clears bits of 0x%02x: ignored", v, vp->status);
		return;
	}
	added = v & ~vp->status;
	if ((added & VIRTIO_STATUS_FEATURES_OK) && !vp_features_acceptable(vp)) {
		dev_warn_once(vp->dev, "driver features 0x%llx refused",
			      (unsigned long long)vp->driver_features);
		v &= (uint8_t)~VIRTIO_STATUS_FEATURES_OK;
		added &= (uint8_t)~VIRTIO_STATUS_FEATURES_OK;
	}
	vp->status = v | (vp->status & VIRTIO_STATUS_NEEDS_RESET);
	if (!(added & VIRTIO_STATUS_DRIVER_OK))
		return;
	if (!(v & VIRTIO_STATUS_FEATURES_OK))
		virtio_pci_fail(vp, "DRIVER_OK without FEATURES_OK");
	else
		vp_driver_ok(vp);
}

static void vp_queue_enable(struct virtio_pci *vp, struct virtio_pci_queue *q, uint64_t v)
{
	int err;

	if (v != 1) {
		dev_warn_once(vp->dev, "queue_enable write of %llu ignored", (unsigned long long)v);
		return;
	}
	err = vq_setup(&q->vq, vp->dev->host, q->size, q->desc, q->avail, q->used,
		       virtio_pci_has_feature(vp, VIRTIO_F_EVENT_IDX));
	if (err) {
		virtio_pci_fail(vp, q->vq.error);
		return;
	}
	q->enabled = true;
}

static void vp_queue_size(struct virtio_pci *vp, struct virtio_pci_queue *q, uint64_t v)
{
	if (v == 0 || v > vp->cls->queue_max || (v & (v - 1))) {
		virtio_pci_fail(vp, "queue size not a power of two within the maximum");
		return;
	}
	q->size = (uint16_t)v;
}

static void vp_write_queue(struct virtio_pci *vp, uint64_t off, unsigned len, uint64_t v)
{
	struct virtio_pci_queue *q = vp_selected(vp);
	uint64_t *addr, mask;

	if (!q)
		return;
	if (off == VIRTIO_PCI_COMMON_Q_MSIX) {
		q->msix_vector = vp_vector(vp, v);
		return;
	}
	if (q->enabled) {
		dev_warn_once(vp->dev, "write to an enabled queue's +0x%llx ignored",
			      (unsigned long long)off);
		return;
	}
	switch (off) {
	case VIRTIO_PCI_COMMON_Q_SIZE:	 vp_queue_size(vp, q, v); return;
	case VIRTIO_PCI_COMMON_Q_ENABLE: vp_queue_enable(vp, q, v); return;
	case VIRTIO_PCI_COMMON_Q_NOFF:	 return;
	}
	addr = vp_queue_addr(q, off);
	if (len == 8) {
		*addr = v;
		return;
	}
	mask = 0xffffffffull << (8 * (off % 8));
	*addr = (*addr & ~mask) | (v << (8 * (off % 8)) & mask);
}

static void vp_write_common(struct virtio_pci *vp, uint64_t off, unsigned len, uint64_t v)
{
	switch (off) {
	case VIRTIO_PCI_COMMON_DFSELECT: vp->dfselect = (uint32_t)v; return;
	case VIRTIO_PCI_COMMON_GFSELECT: vp->gfselect = (uint32_t)v; return;
	case VIRTIO_PCI_COMMON_GF:	 vp_write_driver_features(vp, (uint32_t)v); return;
	case VIRTIO_PCI_COMMON_MSIX:	 vp->msix_config = vp_vector(vp, v); return;
	case VIRTIO_PCI_COMMON_STATUS:	 vp_write_status(vp, (uint8_t)v); return;
	case VIRTIO_PCI_COMMON_Q_SELECT: vp->queue_select = (uint16_t)v; return;
	case VIRTIO_PCI_COMMON_DF:
	case VIRTIO_PCI_COMMON_NUMQ:
	case VIRTIO_PCI_COMMON_CFGGENERATION:
		return;		/* read-only */
	}
	vp_write_queue(vp, off, len, v);
}

static void vp_trap_common(struct virtio_pci *vp, struct trap *t)
{
	if (!vp_common_access_ok(t->offset, t->len)) {
		dev_warn_once(vp->dev, "common cfg: %u-byte access at +0x%llx ignored",
			      t->len, (unsigned long long)t->offset);
		if (!t->is_write)
			trap_set_value(t, 0);
		return;
	}
	if (t->is_write)
		vp_write_common(vp, t->offset, t->len, trap_value(t));
	else
		trap_set_value(t, vp_read_common(vp, t->offset, t->len));
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
	case VIRTIO_PCI_REGION_COMMON: vp_trap_common(vp, t); break;
	case VIRTIO_PCI_REGION_ISR:    vp_trap_isr(vp, t); break;
	case VIRTIO_PCI_REGION_DEVICE: vp_trap_device(vp, t); break;
	default:		       vp_trap_notify(vp, t); break;
	}
	return 0;
}

void virtio_pci_notify(struct device *dev, unsigned queue)
{
	struct virtio_pci *vp = virtio_pci_of(dev);

	if (queue >= vp->nqueues) {
		dev_warn_once(dev, "notify of queue %u: no such queue", queue);
		return;
	}
	if (virtio_pci_running(vp) && vp->queues[queue].enabled)
		vp->cls->queue_notify(vp, queue);
}

/* --- create / destroy --- */

static int vp_check_regions(struct device *dev, const DeviceSpec *spec)
{
	if (spec->n_regions != VIRTIO_PCI_NREGIONS)
		goto bad;
	for (unsigned i = 0; i < VIRTIO_PCI_NREGIONS; i++)
		if (spec->regions[i]->bus != TRAP_MMIO ||
		    spec->regions[i]->size != VIRTIO_PCI_REGION_SIZE)
			goto bad;
	return 0;
bad:
	dev_err(dev, "needs %u MMIO regions of 0x%x bytes (BAR0)",
		VIRTIO_PCI_NREGIONS, VIRTIO_PCI_REGION_SIZE);
	return -EINVAL;
}

/* irqs: MSI-X vectors, then optionally the INTx line named by intx=<last>. */
static int vp_check_irqs(struct device *dev, const DeviceSpec *spec, struct virtio_pci *vp)
{
	const char *intx = dev_param(spec, "intx");
	uint64_t line;

	if (spec->n_irqs > DEVICE_MAX_IRQS) {
		dev_err(dev, "at most %u irq lines, got %zu", DEVICE_MAX_IRQS, spec->n_irqs);
		return -EINVAL;
	}
	vp->nvectors = (uint16_t)spec->n_irqs;
	vp->intx_line = -1;
	if (!intx)
		return 0;
	if (spec->n_irqs == 0 || parse_uint(intx, 0, DEVICE_MAX_IRQS, &line) ||
	    line != spec->n_irqs - 1) {
		dev_err(dev, "intx=%s: must name the last irq line", intx);
		return -EINVAL;
	}
	vp->intx_line = (int)line;
	vp->nvectors--;
	return 0;
}

int virtio_pci_create(struct device *dev, const DeviceSpec *spec,
		      const struct virtio_dev_class *cls, void *model, uint64_t features)
{
	const struct virtio_pci_ident *ident = virtio_pci_ident_find(dev->ops->name);
	struct virtio_pci *vp;
	int err = vp_check_regions(dev, spec);

	if (err)
		return err;
	if (!ident) {
		dev_err(dev, "class %s is not a virtio-pci class", dev->ops->name);
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
