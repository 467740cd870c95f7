/*
 * virtio-net's control queue and the receive filter it sets (RX mode,
 * MAC table, MAC address), and the check of every transmit header. See
 * virtio_net.c.
 */
#include "virtio_net_int.h"

#include <endian.h>
#include <errno.h>
#include <string.h>

/* Whether the filter the driver set lets a frame to dst through. */
bool vnet_rx_accept(const struct vnet *n, const uint8_t *dst)
{
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	const struct vnet_macs *t = dst[0] & 1 ? &n->mc : &n->uc;

	if (n->promisc || memcmp(dst, bcast, 6) == 0 || t->n > VNET_MACS_MAX ||
	    (dst[0] & 1 && n->allmulti) || (!(dst[0] & 1) && memcmp(dst, n->mac, 6) == 0))
		return true;
	for (unsigned i = 0; i < t->n; i++)
		if (memcmp(dst, t->mac[i], 6) == 0)
			return true;
	return false;
}

/* Why a transmit chain is malformed, or NULL: one header, then one frame. */
const char *vnet_tx_check(const struct vq_chain *c)
{
	uint8_t h[VNET_HDR_LEN];
	uint16_t hdr_len, csum_start, csum_off;
	size_t frame;

	if (c->nin)
		return "transmit chain with device-writable buffers";
	if (c->out_bytes < VNET_HDR_LEN + VNET_ETH_HLEN || c->out_bytes > VNET_FRAME_MAX)
		return "transmit frame shorter than a header or longer than 64 KiB";
	vq_iov_read(c->iov, c->nout, 0, h, sizeof(h));
	frame = c->out_bytes - VNET_HDR_LEN;
	hdr_len = le16toh(*(uint16_t *)&h[2]);
	csum_start = le16toh(*(uint16_t *)&h[6]);
	csum_off = le16toh(*(uint16_t *)&h[8]);
	if (h[0] & ~(HDR_F_NEEDS_CSUM | HDR_F_DATA_VALID))
		return "transmit header: unknown flags";
	if ((h[0] & HDR_F_NEEDS_CSUM) && (size_t)csum_start + csum_off + 2 > frame)
		return "transmit header: checksum outside the frame";
	if ((h[1] & ~GSO_ECN) != GSO_NONE && (h[1] & ~GSO_ECN) != GSO_TCPV4 &&
	    (h[1] & ~GSO_ECN) != GSO_TCPV6)
		return "transmit header: GSO type not offered";
	if ((h[1] & ~GSO_ECN) != GSO_NONE && (!(h[0] & HDR_F_NEEDS_CSUM) || hdr_len > frame))
		return "transmit header: segmentation without a checksum or past the frame";
	return NULL;
}

/* A MAC table of the TABLE_SET command at *p: le32 count, then the addresses. */
static int vnet_ctrl_table(struct vnet_macs *t, const uint8_t **p, const uint8_t *end)
{
	uint32_t k;

	if (end - *p < 4)
		return -EINVAL;
	memcpy(&k, *p, 4);
	k = le32toh(k);
	*p += 4;
	if (k > VNET_MACS_MAX) {	/* more than we keep: accept them all */
		t->n = VNET_MACS_MAX + 1;
		*p = end;
		return 0;
	}
	if ((size_t)(end - *p) < 6ull * k)
		return -EINVAL;
	t->n = k;
	memcpy(t->mac, *p, 6ull * k);
	*p += 6ull * k;
	return 0;
}

/* One command: class, command, its data. 0 (VIRTIO_NET_OK) or -EINVAL. */
static int vnet_ctrl_cmd(struct virtio_pci *vp, uint8_t cls, uint8_t cmd, const uint8_t *d,
			 size_t len)
{
	struct vnet *n = vp->model;
	const uint8_t *end = d + len;
	uint16_t k;

	if (cls == CTRL_RX && (cmd == CTRL_RX_PROMISC || cmd == CTRL_RX_ALLMULTI) && len == 1) {
		*(cmd == CTRL_RX_PROMISC ? &n->promisc : &n->allmulti) = d[0] != 0;
		return 0;
	}
	if (cls == CTRL_MAC && cmd == CTRL_MAC_ADDR_SET && len == 6 && !(d[0] & 1)) {
		memcpy(n->mac, d, 6);
		return 0;
	}
	if (cls == CTRL_MAC && cmd == CTRL_MAC_TABLE_SET) {
		struct vnet_macs uc, mc;

		if (vnet_ctrl_table(&uc, &d, end) || vnet_ctrl_table(&mc, &d, end))
			return -EINVAL;
		n->uc = uc;
		n->mc = mc;
		return 0;
	}
	if (cls == CTRL_MQ && cmd == CTRL_MQ_VQ_PAIRS_SET && len == 2 &&
	    virtio_pci_has_feature(vp, F_MQ)) {
		memcpy(&k, d, 2);
		k = le16toh(k);
		if (k < 1 || k > n->pairs)
			return -EINVAL;
		n->active = k;
		return 0;
	}
	return -EINVAL;
}

void vnet_ctrl(struct virtio_pci *vp)
{
	struct vnet *n = vp->model;
	struct vq *vq = virtio_pci_vq(vp, vnet_ctrl_vq(vp));
	struct vq_chain c = { .iov = n->iov, .cap = VNET_CHAIN_MAX };
	uint8_t buf[VNET_CTRL_MAX], ack;
	int err = -EAGAIN;

	while (virtio_pci_running(vp) && (err = vq_pop(vq, &c)) == 0) {
		size_t len = c.out_bytes < sizeof(buf) ? c.out_bytes : sizeof(buf);

		if (c.out_bytes < 2 || c.in_bytes < 1) {
			vq->error = "control command without its header or ack byte";
			err = -EPROTO;
			break;
		}
		vq_iov_read(c.iov, c.nout, 0, buf, len);
		ack = vnet_ctrl_cmd(vp, buf[0], buf[1], buf + 2, len - 2) ? CTRL_ERR : CTRL_OK;
		vq_iov_write(c.iov + c.nout, c.nin, 0, &ack, 1);
		vq_push(vq, c.head, 1);
	}
	if (virtio_pci_running(vp) && err != -EAGAIN)
		virtio_pci_fail(vp, vq->error);
	virtio_pci_queue_interrupt(vp, vnet_ctrl_vq(vp));
}
