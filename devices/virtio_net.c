/*
 * virtio-net (virtio 1.x section 5.1) over virtio-pci, on a tap device.
 *
 * Queues: receiveq(p) 2p (tap -> guest), transmitq(p) 2p + 1 (guest ->
 * tap) for p < VNET_PAIRS_MAX, so 9 queue doorbells whatever is used, and
 * the controlq at 2N: N = "queues=N" (1..4, default 1) with MQ negotiated
 * (offered when N > 1), else 1. VQ_PAIRS_SET picks how many pairs the
 * driver uses; tap queue i delivers to pair i modulo that.
 * Backend: fds[0, N) are the tap's queues, opened by the monitor with
 * IFF_TAP | IFF_NO_PI | IFF_VNET_HDR (| IFF_MULTI_QUEUE when N > 1), a
 * 12-byte vnet header (TUNSETVNETHDRSZ, the size of virtio_net_hdr_v1) and
 * O_NONBLOCK: a read gives one frame behind its header, a write takes one.
 * The device opens nothing; its one ioctl is TUNSETOFFLOAD on fds[0] (the
 * offloads are the tap's, whichever queue sets them), with the offloads the
 * driver accepted (GUEST_CSUM/TSO4/TSO6/ECN), made when the driver is
 * running and cleared at reset.
 * Param "mac=xx:xx:xx:xx:xx:xx" (default 52:54:00:12:34:56).
 *
 * Receive: the host calls backend(dev, i) while tap queue i is readable and
 * poll_mask bit i is set, which it is only while the driver runs and that
 * queue's receive queue has buffers posted (no busy loop: frames wait in
 * the tap).
 * A frame is read whole into one buffer here, filtered (the RX-mode and
 * MAC-table commands) and copied into as many receive chains as it needs
 * with MRG_RXBUF (one, which must be big enough, without), which are then
 * returned at once with num_buffers in the first. A frame that finds too
 * few buffers waits here, its chains held, for the driver's next notify.
 *
 * Transmit: each chain is one vnet header and frame, checked (flags, GSO
 * type, checksum offsets inside the frame) and written to the tap with one
 * writev; a write the tap refuses is dropped and counted.
 *
 * Malformed input (a receive chain with readable buffers or smaller than
 * the header, a transmit chain with writable ones, a bad header, a control
 * command without its ack byte) puts the device in NEEDS_RESET.
 */
#include "virtio_pci.h"

#include <errno.h>
#include <linux/if_tun.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#include "util.h"
#include "virtio_net_int.h"

static const uint64_t vnet_features =
	1ull << F_CSUM | 1ull << F_GUEST_CSUM | 1ull << F_MAC | 1ull << F_GUEST_TSO4 |
	1ull << F_GUEST_TSO6 | 1ull << F_GUEST_ECN | 1ull << F_HOST_TSO4 | 1ull << F_HOST_TSO6 |
	1ull << F_HOST_ECN | 1ull << F_MRG_RXBUF | 1ull << F_STATUS | 1ull << F_CTRL_VQ |
	1ull << F_CTRL_RX | 1ull << F_CTRL_MAC_ADDR;

/* Host address of byte off of iov[0, n), NULL past the end. */
static uint8_t *iov_byte(const struct iovec *iov, unsigned n, size_t off)
{
	for (unsigned i = 0; i < n; i++, off -= iov[i - 1].iov_len)
		if (off < iov[i].iov_len)
			return (uint8_t *)iov[i].iov_base + off;
	return NULL;
}

/* The tap's offloads follow what the driver accepted; 0 at reset. */
static void vnet_set_offloads(struct vnet *n, unsigned flags)
{
	if (n->offloads == (int)flags)
		return;
	n->offloads = (int)flags;
	/* The offloads are the tap's, not a queue's: one call through any queue sets them. */
	if (ioctl(n->dev->fds[0], TUNSETOFFLOAD, flags) < 0)
		dev_warn_once(n->dev, "tap offloads 0x%x: errno %d (frames stay unsegmented)",
			      flags, errno);
}

static void vnet_driver_offloads(struct virtio_pci *vp)
{
	unsigned f = 0;

	if (virtio_pci_has_feature(vp, F_GUEST_CSUM)) {
		f |= TUN_F_CSUM;
		if (virtio_pci_has_feature(vp, F_GUEST_TSO4))
			f |= TUN_F_TSO4;
		if (virtio_pci_has_feature(vp, F_GUEST_TSO6))
			f |= TUN_F_TSO6;
		if ((f & (TUN_F_TSO4 | TUN_F_TSO6)) &&
		    virtio_pci_has_feature(vp, F_GUEST_ECN))
			f |= TUN_F_TSO_ECN;
	}
	vnet_set_offloads(vp->model, f);
}

/* The receive queue tap queue i delivers to: pair i, or i's share of the active ones. */
static unsigned vnet_rx_vq(const struct vnet *n, unsigned i)
{
	return 2 * (i % n->active);
}

void vnet_update_poll(struct virtio_pci *vp)
{
	struct vnet *n = vp->model;

	for (unsigned i = 0; i < n->pairs; i++) {
		unsigned q = vnet_rx_vq(n, i);
		bool want = false;

		if (virtio_pci_running(vp) && vp->queues[q].enabled && !n->rxq[i].frame_len) {
			int k = vq_pending(virtio_pci_vq(vp, q));

			if (k < 0)
				virtio_pci_fail(vp, virtio_pci_vq(vp, q)->error);
			want = k > 0;
		}
		n->dev->poll_mask = want ? n->dev->poll_mask | 1u << i : n->dev->poll_mask & ~(1u << i);
	}
}

/*
 * Copy r's waiting frame into receive chains of its queue from where it
 * stopped. Returns 0 once it was returned to the driver, -EAGAIN when the
 * ring ran out first (the chains taken stay held), -ENOSPC when it cannot
 * fit (to be dropped), -EPROTO on malformed chains.
 */
static int vnet_rx_fill(struct virtio_pci *vp, struct vnet_rxq *r)
{
	struct vnet *n = vp->model;
	struct vq *vq = virtio_pci_vq(vp, r->vq);
	bool mrg = virtio_pci_has_feature(vp, F_MRG_RXBUF);
	struct vq_chain c = { .iov = n->iov, .cap = VNET_CHAIN_MAX };
	uint16_t nbuf;

	while (r->frame_off < r->frame_len) {
		int err;

		if (r->nheld == VNET_HELD_MAX)
			return -ENOSPC;
		err = vq_pop(vq, &c);
		if (err == -EAGAIN)
			return -EAGAIN;
		if (err)
			return -EPROTO;
		if (c.nout || (r->nheld == 0 && c.in_bytes < VNET_HDR_LEN)) {
			vq->error = c.nout ? "receive chain with device-readable buffers"
					   : "receive buffer smaller than the header";
			return -EPROTO;
		}
		if (!mrg && c.in_bytes < r->frame_len) {
			vq_unpop(vq);
			return -ENOSPC;
		}
		if (r->nheld == 0)	/* where num_buffers goes, once known */
			for (unsigned b = 0; b < 2; b++)
				r->nbuf_at[b] = iov_byte(c.iov, c.nin, VNET_HDR_NBUF + b);
		r->held_len[r->nheld] = (uint32_t)vq_iov_write(c.iov, c.nin, 0, r->frame + r->frame_off,
							   r->frame_len - r->frame_off);
		r->frame_off += r->held_len[r->nheld];
		r->held_head[r->nheld++] = c.head;
	}
	nbuf = htole16(r->nheld);
	*r->nbuf_at[0] = (uint8_t)nbuf;
	*r->nbuf_at[1] = (uint8_t)(nbuf >> 8);
	vq_push_many(vq, r->held_head, r->held_len, r->nheld);
	r->frame_len = r->frame_off = r->nheld = 0;
	return 0;
}

/* Read one frame from tap queue i: 1 when one waits, 0 if it was filtered out, -1 if none. */
static int vnet_rx_read(struct vnet *n, unsigned i)
{
	struct vnet_rxq *r = &n->rxq[i];
	ssize_t got;

	do
		got = read(n->dev->fds[i], r->frame, VNET_FRAME_MAX);
	while (got < 0 && errno == EINTR);
	if (got < 0) {
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			dev_warn_once(n->dev, "tap read failed: errno %d", errno);
		return -1;
	}
	if ((size_t)got < VNET_HDR_LEN + VNET_ETH_HLEN || !vnet_rx_accept(n, r->frame + VNET_HDR_LEN)) {
		n->rx_filtered++;
		return 0;
	}
	r->frame_len = (size_t)got;
	r->vq = vnet_rx_vq(n, i);
	return 1;
}

/* Give r's held chains back empty and forget its frame. */
static void vnet_rx_drop(struct virtio_pci *vp, struct vnet_rxq *r)
{
	struct vnet *n = vp->model;

	n->rx_dropped++;
	memset(r->held_len, 0, sizeof(r->held_len));
	vq_push_many(virtio_pci_vq(vp, r->vq), r->held_head, r->held_len, r->nheld);
	r->frame_len = r->frame_off = r->nheld = 0;
}

/* Frames from tap queue i into the guest, VNET_RX_BURST at most. */
static void vnet_rx(struct virtio_pci *vp, unsigned i)
{
	struct vnet *n = vp->model;
	struct vnet_rxq *r = &n->rxq[i];
	unsigned q = r->frame_len ? r->vq : vnet_rx_vq(n, i);
	struct vq *vq = virtio_pci_vq(vp, q);

	for (unsigned k = 0; k < VNET_RX_BURST && virtio_pci_running(vp); k++) {
		int err = 1;

		if (!r->frame_len) {
			if (q != vnet_rx_vq(n, i))
				break;	/* VQ_PAIRS_SET moved this tap queue: the next call */
			err = vq_pending(vq);
			if (err < 0) {
				virtio_pci_fail(vp, vq->error);
				return;
			}
			err = err ? vnet_rx_read(n, i) : -1;
		}
		if (err < 0)
			break;
		if (err == 0)
			continue;
		err = vnet_rx_fill(vp, r);
		if (err == -EAGAIN)
			break;
		if (err == -ENOSPC) {
			vnet_rx_drop(vp, r);
		} else if (err) {
			virtio_pci_fail(vp, vq->error);
			return;
		}
	}
	virtio_pci_queue_interrupt(vp, q);
}

/* Transmit queue q (pair q / 2) to its tap queue, every chain there is. */
static void vnet_tx(struct virtio_pci *vp, unsigned q)
{
	struct vnet *n = vp->model;
	struct vq *vq = virtio_pci_vq(vp, q);
	struct vq_chain c = { .iov = n->iov, .cap = VNET_CHAIN_MAX };
	int fd = n->dev->fds[(q / 2) % n->pairs], err = -EAGAIN;

	while (virtio_pci_running(vp) && (err = vq_pop(vq, &c)) == 0) {
		const char *bad = vnet_tx_check(&c);
		ssize_t w;

		if (bad) {
			vq->error = bad;
			err = -EPROTO;
			break;
		}
		do
			w = writev(fd, c.iov, (int)c.nout);
		while (w < 0 && errno == EINTR);
		if (w < 0)
			n->tx_dropped++;
		vq_push(vq, c.head, 0);
	}
	if (virtio_pci_running(vp) && err != -EAGAIN)
		virtio_pci_fail(vp, vq->error);
	virtio_pci_queue_interrupt(vp, q);
}

static void vnet_queue_notify(struct virtio_pci *vp, unsigned q)
{
	struct vnet *n = vp->model;

	vnet_driver_offloads(vp);
	if (q == vnet_ctrl_vq(vp))
		vnet_ctrl(vp);
	else if (q % 2)
		vnet_tx(vp, q);
	else	/* buffers: frames that waited for them go on */
		for (unsigned i = 0; i < n->pairs; i++)
			if (n->rxq[i].frame_len && n->rxq[i].vq == q)
				vnet_rx(vp, i);
	vnet_update_poll(vp);
}

static void vnet_backend(struct device *dev, unsigned index)
{
	struct virtio_pci *vp = virtio_pci_of(dev);
	struct vnet *n = vp->model;

	if (index < n->pairs && (dev->poll_mask & (1u << index)) && virtio_pci_running(vp))
		vnet_rx(vp, index);
	vnet_update_poll(vp);
}

static void vnet_config_read(struct virtio_pci *vp, uint8_t *buf)
{
	struct vnet *n = vp->model;
	struct vnet_config cfg = { .status = htole16(VIRTIO_NET_S_LINK_UP),
				   .max_virtqueue_pairs = htole16((uint16_t)n->pairs) };

	memcpy(cfg.mac, n->mac, sizeof(cfg.mac));
	memcpy(buf, &cfg, sizeof(cfg));
}

static void vnet_reset(struct virtio_pci *vp)
{
	struct vnet *n = vp->model;

	for (unsigned i = 0; i < n->pairs; i++)
		n->rxq[i].frame_len = n->rxq[i].frame_off = n->rxq[i].nheld = 0;
	n->active = 1;
	n->promisc = true;	/* until the driver says otherwise (5.1.6.5.1) */
	n->allmulti = true;
	n->uc.n = n->mc.n = 0;
	memcpy(n->mac, n->mac_default, sizeof(n->mac));
	vnet_set_offloads(n, 0);
	vnet_update_poll(vp);
}

/* What the driver set through the control queue; a frame being received is not kept. */
struct vnet_saved {
	uint8_t mac[6];
	uint8_t promisc, allmulti;
	uint32_t active;
	uint32_t nuc, nmc;
};

static void vnet_save(struct virtio_pci *vp, struct dev_state *s)
{
	struct vnet *n = vp->model;
	struct vnet_saved v = { .promisc = n->promisc, .allmulti = n->allmulti,
				.active = n->active, .nuc = n->uc.n, .nmc = n->mc.n };

	memcpy(v.mac, n->mac, sizeof(v.mac));
	dev_state_put(s, &v, sizeof(v));
	dev_state_put(s, n->uc.mac, sizeof(n->uc.mac));
	dev_state_put(s, n->mc.mac, sizeof(n->mc.mac));
}

static int vnet_load(struct virtio_pci *vp, struct dev_state *s)
{
	struct vnet *n = vp->model;
	struct vnet_saved v;

	dev_state_get(s, &v, sizeof(v));
	dev_state_get(s, n->uc.mac, sizeof(n->uc.mac));
	dev_state_get(s, n->mc.mac, sizeof(n->mc.mac));
	if (s->err || v.promisc > 1 || v.allmulti > 1 || v.active < 1 || v.active > n->pairs)
		return -EINVAL;
	memcpy(n->mac, v.mac, sizeof(n->mac));
	n->promisc = v.promisc;
	n->allmulti = v.allmulti;
	n->active = v.active;
	/* Longer than the table: "accept every address of its kind", as the driver asked. */
	n->uc.n = v.nuc > VNET_MACS_MAX ? VNET_MACS_MAX + 1 : v.nuc;
	n->mc.n = v.nmc > VNET_MACS_MAX ? VNET_MACS_MAX + 1 : v.nmc;
	vnet_update_poll(vp);
	return 0;
}

static const struct virtio_dev_class vnet_class = {
	.queue_max = VNET_QUEUE_MAX,
	.config_size = sizeof(struct vnet_config),
	.config_read = vnet_config_read,
	.queue_notify = vnet_queue_notify,
	.reset = vnet_reset,
	.save = vnet_save,
	.load = vnet_load,
};

static int vnet_create(struct device *dev, const struct device_spec *spec)
{
	const char *mac = dev_param(spec, "mac"), *queues = dev_param(spec, "queues");
	uint64_t pairs = 1;
	struct vnet *n;
	int err;

	if (queues && parse_uint(queues, 1, VNET_PAIRS_MAX, &pairs)) {
		dev_err(dev, "queues=%s: want 1 to %d", queues, VNET_PAIRS_MAX);
		return -EINVAL;
	}
	for (unsigned i = 0; i < pairs; i++)
		if (dev->nfds <= i || dev->fds[i] < 0) {
			dev_err(dev, "needs its tap's %llu queues as fds[0..%llu]",
				(unsigned long long)pairs, (unsigned long long)pairs - 1);
			return -EINVAL;
		}
	n = calloc(1, sizeof(*n));
	if (!n)
		return -ENOMEM;
	n->dev = dev;
	n->pairs = (unsigned)pairs;
	n->active = 1;
	n->offloads = -1;
	memcpy(n->mac_default, (const uint8_t[6]){ 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 }, 6);
	if (mac && parse_mac(mac, n->mac_default)) {
		dev_err(dev, "mac=%s: want six hex pairs (xx:xx:xx:xx:xx:xx), not multicast", mac);
		free(n);
		return -EINVAL;
	}
	err = virtio_pci_create(dev, spec, &vnet_class, n,
				vnet_features | (pairs > 1 ? 1ull << F_MQ : 0));
	if (err)
		free(n);
	return err;
}

static void vnet_destroy(struct device *dev)
{
	struct virtio_pci *vp = virtio_pci_of(dev);
	struct vnet *n;

	if (!vp)
		return;
	n = vp->model;
	if (n->tx_dropped || n->rx_dropped)
		dev_info(dev, "frames dropped: %llu sent, %llu received",
			 (unsigned long long)n->tx_dropped, (unsigned long long)n->rx_dropped);
	virtio_pci_destroy(dev);
	free(n);
}

static const struct device_ops virtio_net_ops = {
	.create = vnet_create,
	.trap = virtio_pci_trap,
	.notify = virtio_pci_notify,
	.backend = vnet_backend,
	.shadow = virtio_pci_shadow,
	.save = virtio_pci_save,
	.load = virtio_pci_load,
	.reset = virtio_pci_reset,
	.destroy = vnet_destroy,
};

/* Network, Ethernet; every queue of VNET_PAIRS_MAX pairs and the control queue, a vector each. */
static const struct virtio_pci_ident virtio_net_ident = {
	VIRTIO_ID_NET, 0x020000, 2 * VNET_PAIRS_MAX + 1, 2 * VNET_PAIRS_MAX + 2 };

const struct device_class virtio_net_class = {
	.name = "virtio-net",
	.ops = &virtio_net_ops,
	.virtio = &virtio_net_ident,
	.events = DEVICE_EVENT_BIT(DEV_EVENT_NEEDS_RESET),
	.guest_ram = true,
};
