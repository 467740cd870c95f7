/*
 * The virtio-pci transport's saved state (device_ops save and load of every
 * virtio model): the common configuration, each queue's addresses and
 * position (virtqueue.c keeps which chains it holds), then the model's own
 * (virtio_dev_class save/load). Loading checks every field as the common
 * configuration's writes would, sets each enabled queue up again against
 * guest RAM, and leaves the device to re-interrupt and re-kick its queues
 * on the host's first notify (virtio_pci_notify).
 */
#include <errno.h>
#include <string.h>

#include "virtio_pci.h"

#define VP_STATUS_KNOWN (VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER | \
			 VIRTIO_STATUS_DRIVER_OK | VIRTIO_STATUS_FEATURES_OK | \
			 VIRTIO_STATUS_NEEDS_RESET | VIRTIO_STATUS_FAILED)

/* The transport's fields, as saved. */
struct vp_saved {
	uint64_t driver_features;
	uint32_t dfselect, gfselect;
	uint16_t msix_config, queue_select;
	uint8_t status, isr, config_generation, intx_level;
};

struct vp_saved_queue {
	uint64_t desc, avail, used;
	uint16_t size, msix_vector;
	uint8_t enabled, _pad[3];
};

void virtio_pci_save(struct device *dev, struct dev_state *s)
{
	struct virtio_pci *vp = virtio_pci_of(dev);
	struct vp_saved v = {
		.driver_features = vp->driver_features, .dfselect = vp->dfselect,
		.gfselect = vp->gfselect, .msix_config = vp->msix_config,
		.queue_select = vp->queue_select, .status = vp->status, .isr = vp->isr,
		.config_generation = vp->config_generation, .intx_level = vp->intx_level,
	};

	dev_state_put(s, &v, sizeof(v));
	for (unsigned i = 0; i < vp->nqueues; i++) {
		const struct virtio_pci_queue *q = &vp->queues[i];
		struct vp_saved_queue sq = { .desc = q->desc, .avail = q->avail, .used = q->used,
					     .size = q->size, .msix_vector = q->msix_vector,
					     .enabled = q->enabled };

		dev_state_put(s, &sq, sizeof(sq));
		if (q->enabled)
			vq_save(&q->vq, s);
	}
	if (vp->cls->save)
		vp->cls->save(vp, s);
}

static bool vp_vector_ok(const struct virtio_pci *vp, uint16_t v)
{
	return v == VIRTIO_MSI_NO_VECTOR || v < vp->nvectors;
}

static int vp_load_queue(struct virtio_pci *vp, struct virtio_pci_queue *q, struct dev_state *s)
{
	struct vp_saved_queue sq;

	dev_state_get(s, &sq, sizeof(sq));
	if (s->err || sq.size == 0 || sq.size > vp->cls->queue_max || (sq.size & (sq.size - 1)) ||
	    !vp_vector_ok(vp, sq.msix_vector) || sq.enabled > 1)
		return -EINVAL;
	q->size = sq.size;
	q->msix_vector = sq.msix_vector;
	q->desc = sq.desc;
	q->avail = sq.avail;
	q->used = sq.used;
	if (!sq.enabled)
		return 0;
	if (vq_setup(&q->vq, vp->dev->host, q->size, q->desc, q->avail, q->used,
		     virtio_pci_has_feature(vp, VIRTIO_F_EVENT_IDX)) ||
	    vq_load(&q->vq, s))
		return -EINVAL;
	q->enabled = true;
	return 0;
}

/* How much work the resumed queues take again, and how much they pass over. */
static void vp_log_resume(struct virtio_pci *vp)
{
	unsigned again = 0, over = 0;

	for (unsigned i = 0; i < vp->nqueues; i++)
		for (unsigned w = 0; w < VQ_TRACK_WORDS; w++) {
			again += (unsigned)__builtin_popcountll(vp->queues[i].vq.replay[w]);
			over += (unsigned)__builtin_popcountll(vp->queues[i].vq.skip[w]);
		}
	dev_info(vp->dev, "resumed: %u requests in flight to process again, %u completed "
		 "since the save passed over", again, over);
}

int virtio_pci_load(struct device *dev, struct dev_state *s)
{
	struct virtio_pci *vp = virtio_pci_of(dev);
	struct vp_saved v;

	dev_state_get(s, &v, sizeof(v));
	/*
	 * Before FEATURES_OK the driver may write any bits (the device then
	 * refuses FEATURES_OK); after it, only offered ones can be there.
	 */
	if (s->err || (v.status & ~VP_STATUS_KNOWN) ||
	    ((v.status & VIRTIO_STATUS_FEATURES_OK) && (v.driver_features & ~vp->features)) ||
	    !vp_vector_ok(vp, v.msix_config) || (v.isr & ~(VIRTIO_ISR_QUEUE | VIRTIO_ISR_CONFIG)) ||
	    v.intx_level > 1 || (v.intx_level && vp->intx_line < 0))
		return -EINVAL;
	vp->driver_features = v.driver_features;
	vp->dfselect = v.dfselect;
	vp->gfselect = v.gfselect;
	vp->msix_config = v.msix_config;
	vp->queue_select = v.queue_select;
	vp->status = v.status;
	dev->needs_reset = (v.status & VIRTIO_STATUS_NEEDS_RESET) != 0;	/* stopped before: still */
	vp->isr = v.isr;
	vp->config_generation = v.config_generation;
	for (unsigned i = 0; i < vp->nqueues; i++)
		if (vp_load_queue(vp, &vp->queues[i], s))
			return -EINVAL;
	if (vp->cls->load && vp->cls->load(vp, s))
		return -EINVAL;
	vp_log_resume(vp);
	if (v.intx_level) {	/* a fresh process: drive the line again */
		vp->intx_level = true;
		if (dev->host->irq_set(dev->host, (unsigned)vp->intx_line, 1) < 0)
			dev_warn(dev, "cannot raise INTx again after a restore");
	}
	vp->resumed = true;
	return 0;
}
