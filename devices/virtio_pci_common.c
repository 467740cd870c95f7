/*
 * The virtio-pci common configuration region (BAR0 region 0, struct
 * virtio_pci_common_cfg): feature negotiation, device status, queue
 * selection and setup. The rest of the transport is virtio_pci.c.
 */
#include "virtio_pci_int.h"

#include <stdint.h>

static uint64_t vp_device_features(const struct virtio_pci *vp)
{
	return vp->features;
}

/* A vector the device can send, else NO_VECTOR (the driver reads that back). */
static uint16_t vp_vector(const struct virtio_pci *vp, uint64_t v)
{
	return v < vp->nvectors ? (uint16_t)v : VIRTIO_MSI_NO_VECTOR;
}

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

void virtio_pci_common_trap(struct virtio_pci *vp, struct trap *t)
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

void virtio_pci_common_shadow(struct virtio_pci *vp, struct trap_shadow *sh)
{
	for (unsigned off = 0; off < VIRTIO_PCI_COMMON_SIZE; off++) {
		unsigned w = vp_common_width(off);

		if (w)
			trap_shadow_put(sh, VIRTIO_PCI_REGION_COMMON, off, w,
					vp_read_common(vp, off, w));
		if (vp_common_access_ok(off, 8))
			trap_shadow_put(sh, VIRTIO_PCI_REGION_COMMON, off, 8,
					vp_read_common(vp, off, 8));
	}
}
