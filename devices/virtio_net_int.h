/* Inside virtio-net: what virtio_net.c and virtio_net_ctrl.c share. */
#ifndef VMM_DEVICES_VIRTIO_NET_INT_H
#define VMM_DEVICES_VIRTIO_NET_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "virtio_pci.h"

#define VNET_PAIRS_MAX	4	/* queue pairs (tap queues, fds[0..3]) */
#define VNET_QUEUE_MAX	256
#define VNET_CHAIN_MAX	64	/* buffers in one chain */
#define VNET_HELD_MAX	64	/* receive chains one frame may take */
#define VNET_RX_BURST	64	/* frames per backend call: the ring is served between */
#define VNET_HDR_LEN	12	/* struct virtio_net_hdr_v1 */
#define VNET_HDR_NBUF	10	/* its num_buffers */
#define VNET_ETH_HLEN	14
#define VNET_FRAME_MAX	(VNET_HDR_LEN + 65550)	/* header + a 64 KiB GSO frame + Ethernet */
#define VNET_MACS_MAX	64	/* per MAC table; a longer one means "accept all" */
#define VNET_CTRL_MAX	(2 + 8 + 2 * 6 * VNET_MACS_MAX)

/* Feature bits (5.1.3). */
enum {
	F_CSUM = 0, F_GUEST_CSUM = 1, F_MAC = 5, F_GUEST_TSO4 = 7, F_GUEST_TSO6 = 8,
	F_GUEST_ECN = 9, F_HOST_TSO4 = 11, F_HOST_TSO6 = 12, F_HOST_ECN = 13,
	F_MRG_RXBUF = 15, F_STATUS = 16, F_CTRL_VQ = 17, F_CTRL_RX = 18, F_MQ = 22,
	F_CTRL_MAC_ADDR = 23,
};

/* struct virtio_net_hdr_v1 fields (5.1.6). */
#define HDR_F_NEEDS_CSUM	1
#define HDR_F_DATA_VALID	2
#define GSO_NONE	0
#define GSO_TCPV4	1
#define GSO_TCPV6	4
#define GSO_ECN		0x80

/* Control queue (5.1.6.5). */
#define CTRL_RX		0
#define CTRL_RX_PROMISC	0
#define CTRL_RX_ALLMULTI 1
#define CTRL_MAC	1
#define CTRL_MAC_TABLE_SET 0
#define CTRL_MAC_ADDR_SET 1
#define CTRL_MQ		4
#define CTRL_MQ_VQ_PAIRS_SET 0
#define CTRL_OK		0
#define CTRL_ERR	1

struct vnet_config {
	uint8_t mac[6];
	uint16_t status;		/* VIRTIO_NET_S_LINK_UP */
	uint16_t max_virtqueue_pairs;
};
#define VIRTIO_NET_S_LINK_UP 1

struct vnet_macs {
	unsigned n;			/* > VNET_MACS_MAX: accept every address of its kind */
	uint8_t mac[VNET_MACS_MAX][6];
};

/* One tap queue's receive side: the frame read from it and not yet all in guest buffers. */
struct vnet_rxq {
	uint8_t frame[VNET_FRAME_MAX];
	size_t frame_len, frame_off;
	unsigned vq;			/* the receive queue its chains come from */
	unsigned nheld;
	uint16_t held_head[VNET_HELD_MAX];
	uint32_t held_len[VNET_HELD_MAX];
	uint8_t *nbuf_at[2];		/* the first chain's num_buffers bytes */
};

struct vnet {
	struct device *dev;
	uint8_t mac[6], mac_default[6];
	bool promisc, allmulti;
	struct vnet_macs uc, mc;
	unsigned pairs;			/* queue pairs offered: tap queues fds[0, pairs) */
	unsigned active;		/* pairs the driver uses (VQ_PAIRS_SET), 1 at reset */
	int offloads;			/* TUNSETOFFLOAD flags set, -1: not yet */
	struct iovec iov[VNET_CHAIN_MAX];
	struct vnet_rxq rxq[VNET_PAIRS_MAX];
	uint64_t rx_dropped, rx_filtered, tx_dropped;
};

/* Queue numbers (5.1.2): receiveq(p) 2p, transmitq(p) 2p + 1, controlq 2N. */
static inline unsigned vnet_ctrl_vq(const struct virtio_pci *vp)
{
	const struct vnet *n = vp->model;

	return 2 * (virtio_pci_has_feature(vp, F_MQ) ? n->pairs : 1);
}

/* Whether the filter the driver set lets a frame to dst (6 bytes) through. */
bool vnet_rx_accept(const struct vnet *n, const uint8_t *dst);

/* Why a transmit chain is malformed, or NULL: one header, then one frame. */
const char *vnet_tx_check(const struct vq_chain *c);

/* Serve the control queue: each command answered OK or ERR; malformed chains fail. */
void vnet_ctrl(struct virtio_pci *vp);

/* Poll each tap queue only while its receive queue has buffers and no frame waits. */
void vnet_update_poll(struct virtio_pci *vp);

#endif
