/*
 * virtio-vsock (virtio 1.x section 5.10) over virtio-pci: stream sockets
 * between the guest (CID "cid=N", param required, 3..0xfffffffe) and host
 * programs, by Firecracker's hybrid convention: a guest connection to the
 * host's (CID 2) port P reaches the Unix socket PATH_P; a host program that
 * connects to PATH and writes "CONNECT P\n" reaches the guest's listener on
 * port P and reads "OK <port>\n" (its port as the guest sees it) once the
 * guest accepted. The device creates, connects and accepts nothing: fds[0]
 * is its channel to the broker (devices/vsock_broker_abi.h), which does that
 * and hands over the stream sockets (virtio_vsock_conn.c).
 *
 * Queues: rx 0 (to the guest), tx 1 (from it), event 2 (buffers taken and
 * never used: there is no migration). Every packet is a 44-byte header and
 * its payload; the guest's (tx) must come in device-readable buffers with
 * len not past them and at most VSOCK_PKT_MAX, ours (rx) go into chains of
 * device-writable buffers of at least the header: anything else is malformed
 * and puts the device in NEEDS_RESET. A well-formed packet for no connection
 * of ours, or of a type or op we do not serve, is answered with RST; one
 * from another CID than the guest's or to another than the host's is
 * dropped.
 *
 * Credit (5.10.6.3): we announce VSOCK_BUF_ALLOC per connection and count
 * as forwarded what the host socket took; what it did not take waits in the
 * connection's buffer, so a guest within its credit always fits, and one
 * beyond it gets RST. We send the guest at most its own announced credit,
 * asking (CREDIT_REQUEST) when it is used up; a socket is read only while
 * there is credit and a receive buffer, so a slow guest leaves the bytes in
 * the host's socket.
 *
 * Closing: a guest SHUTDOWN of both directions forwards what is buffered,
 * then RST; its SHUTDOWN SEND alone half-closes the host socket. The host's
 * end-of-file is a SHUTDOWN SEND to the guest; a host socket error is RST.
 */
#include "virtio_pci.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/uio.h>
#include <unistd.h>

#include "util.h"
#include "virtio_vsock_int.h"

#define VIRTIO_ID_VSOCK 19

void vsock_rst_queue(struct vsock *v, uint32_t host_port, uint32_t guest_port)
{
	if (v->nrst < VSOCK_RST_MAX)
		v->rst[v->nrst++] = (struct vsock_rst){ host_port, guest_port };
	else
		v->dropped++;	/* the guest's connect times out instead */
}

static void hdr_init(const struct vsock *v, struct vsock_hdr *h, uint32_t host_port,
		     uint32_t guest_port, uint16_t op)
{
	memset(h, 0, sizeof(*h));
	h->src_cid = htole64(VSOCK_HOST_CID);
	h->dst_cid = htole64(v->guest_cid);
	h->src_port = htole32(host_port);
	h->dst_port = htole32(guest_port);
	h->type = htole16(VSOCK_TYPE_STREAM);
	h->op = htole16(op);
	h->buf_alloc = htole32(VSOCK_BUF_ALLOC);
}

/* How many bytes the guest can take now: what it announced less what is in flight. */
static uint32_t peer_credit(const struct vsock_conn *c)
{
	uint32_t used = c->tx_cnt - c->peer_fwd_cnt;

	return used > c->peer_buf_alloc ? 0 : c->peer_buf_alloc - used;
}

/* Read up to `room` bytes of c's socket into the chain after the header: bytes, 0 at EOF, -errno. */
static ssize_t conn_read(struct vsock *v, struct vsock_conn *c, const struct vq_chain *ch,
			 uint32_t room)
{
	struct iovec part[VSOCK_CHAIN_MAX];
	unsigned np = 0;
	size_t off = VSOCK_HDR_LEN;
	ssize_t r;

	(void)v;
	for (unsigned i = ch->nout; i < ch->nout + ch->nin && room; i++) {
		if (off >= ch->iov[i].iov_len) {
			off -= ch->iov[i].iov_len;
			continue;
		}
		part[np].iov_base = (uint8_t *)ch->iov[i].iov_base + off;
		part[np].iov_len = ch->iov[i].iov_len - off < room ? ch->iov[i].iov_len - off : room;
		room -= (uint32_t)part[np++].iov_len;
		off = 0;
	}
	do
		r = readv(c->fd, part, (int)np);
	while (r < 0 && errno == EINTR);
	return r < 0 ? -errno : r;
}

/*
 * What c sends next into chain ch (writable, at least a header): the
 * packet's size, or 0 if c has nothing to send now.
 */
static uint32_t conn_packet(struct vsock *v, struct vsock_conn *c, const struct vq_chain *ch)
{
	struct vsock_hdr h;
	uint16_t op = 0;
	uint32_t len = 0, flags = 0;

	if (c->want & W_RST)
		op = OP_RST;
	else if (c->want & W_REQUEST)
		op = OP_REQUEST;
	else if (c->want & W_RESPONSE)
		op = OP_RESPONSE;
	if (!op && c->state == CS_OPEN && c->readable && !c->host_eof && !c->guest_shut_rcv) {
		uint32_t room = peer_credit(c);
		ssize_t r;

		if (room > ch->in_bytes - VSOCK_HDR_LEN)
			room = (uint32_t)(ch->in_bytes - VSOCK_HDR_LEN);
		if (room > VSOCK_PKT_MAX)
			room = VSOCK_PKT_MAX;
		if (!room && !c->credit_asked && peer_credit(c) == 0) {
			c->want |= W_CREDIT_REQUEST;
			c->credit_asked = true;
		}
		r = room ? conn_read(v, c, ch, room) : -EAGAIN;
		if (r > 0) {
			op = OP_RW;
			len = (uint32_t)r;
			c->tx_cnt += len;
			c->readable = (uint32_t)r == room;	/* short: drained until its next edge */
		} else if (r == 0) {
			c->host_eof = true;
			c->readable = false;
			c->want |= W_SHUTDOWN;
		} else if (r == -EAGAIN || r == -EWOULDBLOCK) {
			c->readable = room == 0;
		} else {
			vsock_conn_close(v, c, true);
			op = OP_RST;
		}
	}
	if (!op && (c->want & W_SHUTDOWN)) {
		op = OP_SHUTDOWN;
		flags = SHUT_F_SEND;
	} else if (!op && (c->want & W_CREDIT_REQUEST)) {
		op = OP_CREDIT_REQUEST;
	} else if (!op && (c->want & W_CREDIT_UPDATE)) {
		op = OP_CREDIT_UPDATE;
	}
	if (!op)
		return 0;
	hdr_init(v, &h, c->host_port, c->guest_port, op);
	h.len = htole32(len);
	h.flags = htole32(flags);
	h.fwd_cnt = htole32(c->fwd_cnt);
	c->fwd_cnt_sent = c->fwd_cnt;
	c->want &= ~(unsigned)(op == OP_RST ? W_RST : op == OP_REQUEST ? W_REQUEST :
			       op == OP_RESPONSE ? W_RESPONSE : op == OP_SHUTDOWN ? W_SHUTDOWN :
			       op == OP_CREDIT_REQUEST ? W_CREDIT_REQUEST : 0);
	c->want &= ~(unsigned)W_CREDIT_UPDATE;	/* every packet carries our credit */
	vq_iov_write(ch->iov + ch->nout, ch->nin, 0, &h, sizeof(h));
	if (op == OP_RST)
		vsock_conn_close(v, c, false);
	return VSOCK_HDR_LEN + len;
}

/* The next packet for the guest into ch: queued RSTs first, then the connections in turn. */
static uint32_t rx_fill(struct vsock *v, const struct vq_chain *ch)
{
	if (v->nrst) {
		struct vsock_hdr h;

		v->nrst--;
		hdr_init(v, &h, v->rst[v->nrst].host_port, v->rst[v->nrst].guest_port, OP_RST);
		vq_iov_write(ch->iov + ch->nout, ch->nin, 0, &h, sizeof(h));
		return VSOCK_HDR_LEN;
	}
	for (unsigned k = 0, n = v->nconn_hi; k < n; k++) {
		unsigned i = (v->rr + k) % n;
		struct vsock_conn *c = &v->conn[i];
		uint32_t len = c->state != CS_FREE ? conn_packet(v, c, ch) : 0;

		if (len) {
			v->rr = i + 1;
			return len;
		}
	}
	return 0;
}

void vsock_rx_run(struct virtio_pci *vp)
{
	struct vsock *v = vp->model;
	struct vq *vq = virtio_pci_vq(vp, VSOCK_VQ_RX);
	struct vq_chain ch = { .iov = v->iov, .cap = VSOCK_CHAIN_MAX };
	bool pushed = false;

	while (virtio_pci_running(vp) && vp->queues[VSOCK_VQ_RX].enabled) {
		uint32_t len;
		int err = vq_pop(vq, &ch);

		if (err == -EAGAIN)
			break;
		if (err || ch.nout || ch.in_bytes < VSOCK_HDR_LEN) {
			virtio_pci_fail(vp, err ? vq->error : ch.nout ?
					"receive chain with device-readable buffers" :
					"receive buffer smaller than the packet header");
			return;
		}
		len = rx_fill(v, &ch);
		if (!len) {
			vq_unpop(vq);
			break;
		}
		vq_push(vq, ch.head, len);
		pushed = true;
	}
	if (pushed)
		virtio_pci_queue_interrupt(vp, VSOCK_VQ_RX);
}

/* Why a transmit chain is malformed, or NULL after serving its packet. */
static const char *guest_tx_one(struct vsock *v, const struct vq_chain *ch)
{
	struct vsock_hdr h;
	uint32_t len;

	if (ch->nin)
		return "transmit chain with device-writable buffers";
	if (ch->out_bytes < VSOCK_HDR_LEN)
		return "transmit buffer smaller than the packet header";
	vq_iov_read(ch->iov, ch->nout, 0, &h, sizeof(h));
	len = le32toh(h.len);
	if (len > ch->out_bytes - VSOCK_HDR_LEN || len > VSOCK_PKT_MAX)
		return "packet length past its buffers or the largest packet";
	if (le64toh(h.src_cid) != v->guest_cid || le64toh(h.dst_cid) != VSOCK_HOST_CID) {
		v->dropped++;
		dev_warn_once(v->dev, "packet from CID %llu to %llu dropped (the guest is %llu)",
			      (unsigned long long)le64toh(h.src_cid),
			      (unsigned long long)le64toh(h.dst_cid), (unsigned long long)v->guest_cid);
		return NULL;
	}
	if (le16toh(h.type) != VSOCK_TYPE_STREAM) {
		if (le16toh(h.op) != OP_RST)
			vsock_rst_queue(v, le32toh(h.dst_port), le32toh(h.src_port));
		return NULL;
	}
	vsock_guest_packet(v, vsock_conn_find(v, le32toh(h.dst_port), le32toh(h.src_port)), &h, ch);
	return NULL;
}

static void guest_tx(struct virtio_pci *vp)
{
	struct vsock *v = vp->model;
	struct vq *vq = virtio_pci_vq(vp, VSOCK_VQ_TX);
	struct vq_chain ch = { .iov = v->iov, .cap = VSOCK_CHAIN_MAX };
	int err = -EAGAIN;

	while (virtio_pci_running(vp) && (err = vq_pop(vq, &ch)) == 0) {
		const char *bad = guest_tx_one(v, &ch);

		if (bad) {
			vq->error = bad;
			err = -EPROTO;
			break;
		}
		vq_push(vq, ch.head, 0);
	}
	if (virtio_pci_running(vp) && err != -EAGAIN)
		virtio_pci_fail(vp, vq->error);
	virtio_pci_queue_interrupt(vp, VSOCK_VQ_TX);
}

static void vsock_queue_notify(struct virtio_pci *vp, unsigned q)
{
	if (q == VSOCK_VQ_TX)
		guest_tx(vp);
	vsock_rx_run(vp);	/* answers, and buffers for what waited */
}

static void vsock_backend(struct device *dev, unsigned index)
{
	struct virtio_pci *vp = virtio_pci_of(dev);

	if (index == 0)
		vsock_broker_input(vp->model);
	vsock_rx_run(vp);
}

static void vsock_wake(struct device *dev)
{
	struct virtio_pci *vp = virtio_pci_of(dev);

	vsock_streams_input(vp->model);
	vsock_rx_run(vp);
}

static void vsock_config_read(struct virtio_pci *vp, uint8_t *buf)
{
	const struct vsock *v = vp->model;
	uint64_t cid = htole64(v->guest_cid);

	memcpy(buf, &cid, sizeof(cid));
}

static void vsock_reset(struct virtio_pci *vp)
{
	vsock_conns_reset(vp->model);
}

static const struct virtio_dev_class vsock_class = {
	.queue_max = VSOCK_QUEUE_MAX,
	.config_size = 8,
	.config_read = vsock_config_read,
	.queue_notify = vsock_queue_notify,
	.reset = vsock_reset,
};

static int vsock_create(struct device *dev, const struct device_spec *spec)
{
	const char *cid = dev_param(spec, "cid");
	struct vsock *v;
	uint64_t guest_cid;
	int err;

	if (!cid || parse_uint(cid, 3, 0xfffffffeu, &guest_cid)) {
		dev_err(dev, "cid=%s: want the guest's CID, 3 to 4294967294", cid ? cid : "");
		return -EINVAL;
	}
	if (dev->nfds < 1 || dev->fds[0] < 0) {
		dev_err(dev, "needs its broker channel as fds[0]");
		return -EINVAL;
	}
	v = calloc(1, sizeof(*v));
	if (!v)
		return -ENOMEM;
	v->dev = dev;
	v->guest_cid = guest_cid;
	v->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (v->epfd < 0) {
		err = -errno;
		free(v);
		return err;
	}
	err = virtio_pci_create(dev, spec, &vsock_class, v, 0);
	if (err) {
		close(v->epfd);
		free(v);
		return err;
	}
	dev->wake_fd = v->epfd;
	dev->poll_mask = 1;	/* the broker's messages, whatever the driver does */
	return 0;
}

static void vsock_destroy(struct device *dev)
{
	struct virtio_pci *vp = virtio_pci_of(dev);
	struct vsock *v;

	if (!vp)
		return;
	v = vp->model;
	vsock_conns_reset(v);
	if (v->dropped || v->refused)
		dev_info(dev, "packets dropped: %llu; connections refused: %llu",
			 (unsigned long long)v->dropped, (unsigned long long)v->refused);
	close(v->epfd);
	virtio_pci_destroy(dev);
	free(v);
}

static const struct device_ops virtio_vsock_ops = {
	.create = vsock_create,
	.trap = virtio_pci_trap,
	.notify = virtio_pci_notify,
	.backend = vsock_backend,
	.wake = vsock_wake,
	.shadow = virtio_pci_shadow,
	.reset = virtio_pci_reset,
	.destroy = vsock_destroy,
};

/* Communication, other (as QEMU's vhost-vsock-pci); rx, tx, event, a vector each and config. */
static const struct virtio_pci_ident virtio_vsock_ident = { VIRTIO_ID_VSOCK, 0x078000, 3, 4 };

const struct device_class virtio_vsock_class = {
	.name = "virtio-vsock",
	.ops = &virtio_vsock_ops,
	.virtio = &virtio_vsock_ident,
	.events = DEVICE_EVENT_BIT(DEV_EVENT_NEEDS_RESET),
	.guest_ram = true,
};
