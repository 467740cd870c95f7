/*
 * virtio-console (virtio 1.x section 5.3) over virtio-pci: one port, no
 * MULTIPORT, no size or emergency write (config reads cols = rows = 0).
 *
 * Queues: 0 receiveq0 (host -> guest), 1 transmitq0 (guest -> host).
 * Backend: fds[0] is the input, fds[1] the output, both non-blocking.
 * The host calls backend(dev, 0) while fds[0] is readable and poll_mask bit
 * 0 is set; the bit is set only while the driver runs and has receive
 * buffers posted, so input waits in the fd (the host's buffer) until the
 * guest can take it, and stops at end of input. Each readable event fills
 * one receive buffer with one read(2). Transmitted buffers go to write(2)
 * at once; what would block is dropped and counted, never waited for.
 */
#include "virtio_pci.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define VCON_QUEUE_MAX	256
#define VCON_CHAIN_MAX	64
#define VCON_RX		0
#define VCON_TX		1

struct vcon_config {
	uint16_t cols, rows;
	uint32_t max_nr_ports, emerg_wr;
};

struct vcon {
	struct device *dev;
	struct iovec iov[VCON_CHAIN_MAX];
	bool rx_eof;
	uint64_t tx_dropped;
};

static bool vcon_has_fd(const struct device *dev, unsigned i)
{
	return dev->nfds > i && dev->fds[i] >= 0;
}

/* Poll the input only while the guest has somewhere to put it. */
static void vcon_update_poll(struct virtio_pci *vp)
{
	struct vcon *vc = vp->model;
	struct device *dev = vc->dev;
	bool want = false;
	int n;

	if (vcon_has_fd(dev, 0) && !vc->rx_eof && virtio_pci_running(vp) &&
	    vp->queues[VCON_RX].enabled) {
		n = vq_pending(virtio_pci_vq(vp, VCON_RX));
		if (n < 0)
			virtio_pci_fail(vp, virtio_pci_vq(vp, VCON_RX)->error);
		want = n > 0;
	}
	dev->poll_mask = want ? dev->poll_mask | 1u : dev->poll_mask & ~1u;
}

/* Write out[] fully or drop what would block; returns bytes dropped. */
static size_t vcon_write_all(struct device *dev, struct iovec *iov, unsigned n, size_t total)
{
	size_t done = 0;

	while (done < total && n) {
		ssize_t w = writev(dev->fds[1], iov, (int)n);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0) {
			if (w < 0 && errno != EAGAIN && errno != EWOULDBLOCK)
				dev_warn_once(dev, "output write failed: errno %d", errno);
			break;
		}
		done += (size_t)w;
		while (n && (size_t)w >= iov->iov_len) {
			w -= (ssize_t)iov->iov_len;
			iov++;
			n--;
		}
		if (n) {
			iov->iov_base = (uint8_t *)iov->iov_base + w;
			iov->iov_len -= (size_t)w;
		}
	}
	return total - done;
}

static void vcon_tx(struct virtio_pci *vp)
{
	struct vcon *vc = vp->model;
	struct vq *vq = virtio_pci_vq(vp, VCON_TX);
	struct vq_chain c = { .iov = vc->iov, .cap = VCON_CHAIN_MAX };
	int err = -EAGAIN;

	while (virtio_pci_running(vp) && (err = vq_pop(vq, &c)) == 0) {
		if (vcon_has_fd(vc->dev, 1))
			vc->tx_dropped += vcon_write_all(vc->dev, c.iov, c.nout, c.out_bytes);
		else
			vc->tx_dropped += c.out_bytes;
		vq_push(vq, c.head, 0);
	}
	if (virtio_pci_running(vp) && err != -EAGAIN)
		virtio_pci_fail(vp, vq->error);
	virtio_pci_queue_interrupt(vp, VCON_TX);
}

static void vcon_queue_notify(struct virtio_pci *vp, unsigned q)
{
	if (q == VCON_TX)
		vcon_tx(vp);
	vcon_update_poll(vp);
}

/* One read into one receive buffer; a chain that gets nothing goes back. */
static void vcon_rx(struct virtio_pci *vp)
{
	struct vcon *vc = vp->model;
	struct vq *vq = virtio_pci_vq(vp, VCON_RX);
	struct vq_chain c = { .iov = vc->iov, .cap = VCON_CHAIN_MAX };
	ssize_t n;
	int err = vq_pop(vq, &c);

	if (err) {
		if (err != -EAGAIN)
			virtio_pci_fail(vp, vq->error);
		return;
	}
	if (c.nin == 0) {
		vq_push(vq, c.head, 0);	/* nothing writable: nothing to give */
		return;
	}
	do
		n = readv(vc->dev->fds[0], c.iov + c.nout, (int)c.nin);
	while (n < 0 && errno == EINTR);
	if (n > 0) {
		vq_push(vq, c.head, (uint32_t)n);
		return;
	}
	vq_unpop(vq);
	if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK)) {
		dev_info(vc->dev, "input %s: no longer polled", n ? "failed" : "ended");
		vc->rx_eof = true;
	}
}

static void vcon_backend(struct device *dev, unsigned index)
{
	struct virtio_pci *vp = virtio_pci_of(dev);

	if (index == 0 && (dev->poll_mask & 1u) && virtio_pci_running(vp)) {
		vcon_rx(vp);
		virtio_pci_queue_interrupt(vp, VCON_RX);
	}
	vcon_update_poll(vp);
}

static void vcon_config_read(struct virtio_pci *vp, uint8_t *buf)
{
	struct vcon_config cfg = { 0 };

	memcpy(buf, &cfg, sizeof(cfg));
}

static void vcon_reset(struct virtio_pci *vp)
{
	vcon_update_poll(vp);
}

static const struct virtio_dev_class vcon_class = {
	.queue_max = VCON_QUEUE_MAX,
	.config_size = sizeof(struct vcon_config),
	.config_read = vcon_config_read,
	.queue_notify = vcon_queue_notify,
	.reset = vcon_reset,
};

static int vcon_create(struct device *dev, const struct device_spec *spec)
{
	struct vcon *vc = calloc(1, sizeof(*vc));
	int err;

	if (!vc)
		return -ENOMEM;
	vc->dev = dev;
	err = virtio_pci_create(dev, spec, &vcon_class, vc, 0);
	if (err)
		free(vc);
	return err;
}

static void vcon_destroy(struct device *dev)
{
	struct virtio_pci *vp = virtio_pci_of(dev);
	struct vcon *vc;

	if (!vp)
		return;
	vc = vp->model;
	if (vc->tx_dropped)
		dev_info(dev, "%llu output bytes dropped", (unsigned long long)vc->tx_dropped);
	virtio_pci_destroy(dev);
	free(vc);
}

static const struct device_ops virtio_console_ops = {
	.create = vcon_create,
	.trap = virtio_pci_trap,
	.notify = virtio_pci_notify,
	.backend = vcon_backend,
	.shadow = virtio_pci_shadow,
	.save = virtio_pci_save,
	.load = virtio_pci_load,
	.reset = virtio_pci_reset,
	.destroy = vcon_destroy,
};

static const struct virtio_pci_ident virtio_console_ident = { VIRTIO_ID_CONSOLE, 0x078000, 2, 3 };	/* communication, other */

const struct device_class virtio_console_class = {
	.name = "virtio-console",
	.ops = &virtio_console_ops,
	.virtio = &virtio_console_ident,
	.events = DEVICE_EVENT_BIT(DEV_EVENT_NEEDS_RESET),
	.guest_ram = true,
};
