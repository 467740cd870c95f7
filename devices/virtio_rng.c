/*
 * virtio-rng (virtio 1.x section 5.4) over virtio-pci: entropy from
 * getrandom(2), nothing else (no fds, no params).
 *
 * One request queue. Each chain's device-writable buffers are filled, at
 * most VRNG_MAX_REQ bytes per chain, with GRND_NONBLOCK so the loop never
 * waits for the kernel's pool: a request that finds it not ready yet (early
 * boot only) is answered with 0 bytes and the driver asks again. Readable
 * buffers are ignored.
 */
#include "virtio_pci.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/random.h>

#define VRNG_QUEUE_MAX	256
#define VRNG_CHAIN_MAX	64
#define VRNG_MAX_REQ	65536u

struct vrng {
	struct iovec iov[VRNG_CHAIN_MAX];
	uint64_t short_reads;
};

/* Fill buf[len] with random bytes; returns how many (0 if none yet). */
static size_t vrng_fill(void *buf, size_t len)
{
	size_t done = 0;

	while (done < len) {
		ssize_t n = getrandom((uint8_t *)buf + done, len - done, GRND_NONBLOCK);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		done += (size_t)n;
	}
	return done;
}

static uint32_t vrng_serve(struct vrng *r, const struct vq_chain *c)
{
	size_t total = 0;

	for (unsigned i = c->nout; i < c->nout + c->nin && total < VRNG_MAX_REQ; i++) {
		size_t want = c->iov[i].iov_len;
		size_t got;

		if (want > VRNG_MAX_REQ - total)
			want = VRNG_MAX_REQ - total;
		got = vrng_fill(c->iov[i].iov_base, want);
		total += got;
		if (got < want) {
			r->short_reads++;
			break;
		}
	}
	return (uint32_t)total;
}

static void vrng_queue_notify(struct virtio_pci *vp, unsigned q)
{
	struct vrng *r = vp->model;
	struct vq *vq = virtio_pci_vq(vp, q);
	struct vq_chain c = { .iov = r->iov, .cap = VRNG_CHAIN_MAX };
	int err = -EAGAIN;

	while (virtio_pci_running(vp) && (err = vq_pop(vq, &c)) == 0)
		vq_push(vq, c.head, vrng_serve(r, &c));
	if (virtio_pci_running(vp) && err != -EAGAIN)
		virtio_pci_fail(vp, vq->error);
	virtio_pci_queue_interrupt(vp, q);
}

static void vrng_config_read(struct virtio_pci *vp, uint8_t *buf)
{
}

static const struct virtio_dev_class vrng_class = {
	.queue_max = VRNG_QUEUE_MAX,
	.config_size = 0,
	.config_read = vrng_config_read,
	.queue_notify = vrng_queue_notify,
};

static int vrng_create(struct device *dev, const struct device_spec *spec)
{
	struct vrng *r = calloc(1, sizeof(*r));
	int err;

	if (!r)
		return -ENOMEM;
	err = virtio_pci_create(dev, spec, &vrng_class, r, 0);
	if (err)
		free(r);
	return err;
}

static void vrng_destroy(struct device *dev)
{
	struct virtio_pci *vp = virtio_pci_of(dev);
	struct vrng *r;

	if (!vp)
		return;
	r = vp->model;
	if (r->short_reads)
		dev_info(dev, "%llu requests found the entropy pool not ready",
			 (unsigned long long)r->short_reads);
	virtio_pci_destroy(dev);
	free(r);
}

static const struct device_ops virtio_rng_ops = {
	.create = vrng_create,
	.trap = virtio_pci_trap,
	.notify = virtio_pci_notify,
	.shadow = virtio_pci_shadow,
	.save = virtio_pci_save,
	.load = virtio_pci_load,
	.reset = virtio_pci_reset,
	.destroy = vrng_destroy,
};

static const struct virtio_pci_ident virtio_rng_ident = { VIRTIO_ID_RNG, 0xff0000, 1, 2 };	/* unclassified */

const struct device_class virtio_rng_class = {
	.name = "virtio-rng",
	.ops = &virtio_rng_ops,
	.virtio = &virtio_rng_ident,
	.events = DEVICE_EVENT_BIT(DEV_EVENT_NEEDS_RESET),
	.guest_ram = true,
};
