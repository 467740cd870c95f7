/*
 * virtio-vsock's connections: what a guest packet does to one, and their
 * host side: the broker channel
 * (fds[0], devices/vsock_broker_abi.h), the stream sockets it hands over (in
 * the device's epoll set, dev->wake_fd, edge-triggered: a socket is read
 * until it has nothing more, then waits for its next edge), the handshake
 * of host-initiated connections, and the deadlines of connections that wait
 * for the broker, a host program's line or the guest's answer.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "util.h"
#include "virtio_vsock_int.h"

static uint64_t conn_key(const struct vsock *v, const struct vsock_conn *c)
{
	return (uint64_t)(c - v->conn) | (uint64_t)c->gen << 32;
}

struct vsock_conn *vsock_conn_find(struct vsock *v, uint32_t host_port, uint32_t guest_port)
{
	for (unsigned i = 0; i < v->nconn_hi; i++) {
		struct vsock_conn *c = &v->conn[i];

		/* a handshake has no ports yet: no guest packet is its */
		if (c->state != CS_FREE && c->state != CS_HANDSHAKE && c->host_port == host_port &&
		    c->guest_port == guest_port)
			return c;
	}
	return NULL;
}

static void conn_wait(struct vsock *v, struct vsock_conn *c)
{
	c->deadline = now_ns() + VSOCK_WAIT_NS;
	if (!v->next_deadline || c->deadline < v->next_deadline)
		v->next_deadline = c->deadline;
}

struct vsock_conn *vsock_conn_new(struct vsock *v, enum conn_state st)
{
	for (unsigned i = 0; i < VSOCK_CONN_MAX; i++) {
		struct vsock_conn *c = &v->conn[i];
		uint16_t gen = c->gen;

		if (c->state != CS_FREE)
			continue;
		memset(c, 0, sizeof(*c));
		c->gen = gen;
		c->fd = -1;
		c->state = st;
		if (i >= v->nconn_hi)
			v->nconn_hi = i + 1;
		if (st == CS_CONNECTING || st == CS_HANDSHAKE)
			conn_wait(v, c);
		return c;
	}
	return NULL;
}

int vsock_conn_attach(struct vsock *v, struct vsock_conn *c, int fd)
{
	struct epoll_event ev = { .events = EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET,
				  .data.u64 = conn_key(v, c) };

	if (epoll_ctl(v->epfd, EPOLL_CTL_ADD, fd, &ev) < 0) {
		int err = -errno;

		close(fd);
		return err;
	}
	c->fd = fd;
	c->readable = true;	/* bytes may have come before it was watched */
	return 0;
}

void vsock_conn_close(struct vsock *v, struct vsock_conn *c, bool rst)
{
	if (c->fd >= 0)
		close(c->fd);	/* leaves the epoll set with it */
	c->fd = -1;
	free(c->pend);
	c->pend = NULL;
	c->pend_len = c->pend_off = 0;
	if (rst) {
		c->state = CS_CLOSING;
		c->want = W_RST;
		return;
	}
	c->state = CS_FREE;
	c->gen++;
	while (v->nconn_hi && v->conn[v->nconn_hi - 1].state == CS_FREE)
		v->nconn_hi--;
}

void vsock_conns_reset(struct vsock *v)
{
	for (unsigned i = 0; i < v->nconn_hi; i++)
		if (v->conn[i].state != CS_FREE)
			vsock_conn_close(v, &v->conn[i], false);
	v->nconn_hi = 0;
	v->nrst = 0;
	v->next_deadline = 0;
}

int vsock_broker_connect(struct vsock *v, struct vsock_conn *c)
{
	struct vsock_broker_msg m = { .op = VSOCK_BROKER_CONNECT, .port = c->host_port,
				      .id = (uint32_t)(c - v->conn) | (uint32_t)c->gen << 16 };
	ssize_t w;

	if (v->broker_gone)
		return -EPIPE;
	w = sock_send_fd(v->dev->fds[0], &m, sizeof(m), -1, MSG_DONTWAIT | MSG_NOSIGNAL);
	return w == sizeof(m) ? 0 : w < 0 ? (int)w : -EIO;
}

/* Write what the socket takes of buf[len]: bytes written, or -errno (not EAGAIN). */
static ssize_t conn_send(struct vsock_conn *c, const struct iovec *iov, unsigned n)
{
	ssize_t w;

	do
		w = writev(c->fd, iov, (int)n);
	while (w < 0 && errno == EINTR);
	if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
		return 0;
	return w < 0 ? -errno : w;
}

/* fwd_cnt moved: tell the guest before it thinks our buffer is half full. */
static void conn_credit_check(struct vsock_conn *c)
{
	if (c->rx_cnt - c->fwd_cnt_sent > VSOCK_BUF_ALLOC / 2 && c->fwd_cnt != c->fwd_cnt_sent)
		c->want |= W_CREDIT_UPDATE;
}

int vsock_conn_write(struct vsock *v, struct vsock_conn *c, const struct iovec *iov,
		     unsigned n, size_t off, uint32_t len)
{
	struct iovec part[VSOCK_CHAIN_MAX];
	unsigned np = 0;
	ssize_t w = 0;

	if (len > VSOCK_BUF_ALLOC - c->pend_len)
		return -ENOSPC;
	c->rx_cnt += len;
	for (unsigned i = 0, left = len; i < n && left && np < VSOCK_CHAIN_MAX; i++) {
		if (off >= iov[i].iov_len) {
			off -= iov[i].iov_len;
			continue;
		}
		part[np].iov_base = (uint8_t *)iov[i].iov_base + off;
		part[np].iov_len = iov[i].iov_len - off < left ? iov[i].iov_len - off : left;
		left -= (unsigned)part[np++].iov_len;
		off = 0;
	}
	if (!c->pend_len && c->fd >= 0 && (w = conn_send(c, part, np)) < 0) {
		vsock_conn_close(v, c, true);	/* the host closed: the guest hears RST */
		return 0;
	}
	c->fwd_cnt += (uint32_t)w;
	if ((uint32_t)w < len) {
		if (!c->pend && !(c->pend = malloc(VSOCK_BUF_ALLOC))) {
			vsock_conn_close(v, c, true);
			return 0;
		}
		if (c->pend_off + c->pend_len + (len - w) > VSOCK_BUF_ALLOC) {
			memmove(c->pend, c->pend + c->pend_off, c->pend_len);
			c->pend_off = 0;
		}
		c->pend_len += (uint32_t)vq_iov_read(part, np, (size_t)w,
						     c->pend + c->pend_off + c->pend_len, len - (size_t)w);
	}
	conn_credit_check(c);
	return 0;
}

/* The guest closed both ways and everything it sent is out: RST, as Linux expects. */
static void conn_drained(struct vsock *v, struct vsock_conn *c)
{
	if (c->state == CS_DRAINING && !c->pend_len)
		vsock_conn_close(v, c, true);
	else if (c->guest_shut_send && !c->pend_len && c->fd >= 0)
		shutdown(c->fd, SHUT_WR);
}

void vsock_conn_flush(struct vsock *v, struct vsock_conn *c)
{
	if (c->pend_len && c->fd >= 0) {
		struct iovec one = { c->pend + c->pend_off, c->pend_len };
		ssize_t w = conn_send(c, &one, 1);

		if (w < 0) {
			vsock_conn_close(v, c, true);
			return;
		}
		c->pend_off += (uint32_t)w;
		c->pend_len -= (uint32_t)w;
		c->fwd_cnt += (uint32_t)w;
		if (!c->pend_len)
			c->pend_off = 0;
		conn_credit_check(c);
	}
	conn_drained(v, c);
}

/* "CONNECT <port>\n" exactly, port a decimal uint32. */
static int parse_connect(const char *line, uint32_t *port)
{
	uint64_t p;

	if (strncmp(line, "CONNECT ", 8) != 0 || parse_uint(line + 8, 0, UINT32_MAX, &p))
		return -EINVAL;
	*port = (uint32_t)p;
	return 0;
}

/* A host-initiated connection's port for the guest: unused by any of ours to that guest port. */
static uint32_t local_port(struct vsock *v, uint32_t guest_port)
{
	do {
		if (v->next_port < VSOCK_LOCAL_PORT0)
			v->next_port = VSOCK_LOCAL_PORT0;
	} while (vsock_conn_find(v, v->next_port++, guest_port));
	return v->next_port - 1;
}

/* Read the host program's line byte by byte: what follows it is the guest's data. */
static void conn_handshake(struct vsock *v, struct vsock_conn *c)
{
	while (c->line_len < VSOCK_LINE_MAX - 1) {
		char ch;
		ssize_t r = read(c->fd, &ch, 1);

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			return;
		if (r <= 0)
			break;
		if (ch != '\n') {
			c->line[c->line_len++] = ch;
			continue;
		}
		c->line[c->line_len] = 0;
		if (parse_connect(c->line, &c->guest_port))
			break;
		c->host_port = local_port(v, c->guest_port);
		c->state = CS_REQUESTED;
		c->want |= W_REQUEST;
		conn_wait(v, c);
		return;
	}
	vsock_conn_close(v, c, false);	/* no line, a bad one, or gone: nothing reached the guest */
}

/* Give up on connections whose wait ran out. */
static void conns_expire(struct vsock *v)
{
	uint64_t now = now_ns(), next = 0;

	if (!v->next_deadline || now < v->next_deadline)
		return;
	for (unsigned i = 0; i < v->nconn_hi; i++) {
		struct vsock_conn *c = &v->conn[i];
		bool waits = c->state == CS_CONNECTING || c->state == CS_HANDSHAKE ||
			     c->state == CS_REQUESTED;

		if (waits && c->deadline <= now)	/* a host program hears its end; the guest RST */
			vsock_conn_close(v, c, c->state != CS_HANDSHAKE);
		else if (waits && (!next || c->deadline < next))
			next = c->deadline;
	}
	v->next_deadline = next;
}

void vsock_streams_input(struct vsock *v)
{
	struct epoll_event ev[64];
	int n;

	do
		n = epoll_wait(v->epfd, ev, 64, 0);
	while (n < 0 && errno == EINTR);
	for (int i = 0; i < n; i++) {
		uint32_t slot = (uint32_t)ev[i].data.u64;
		struct vsock_conn *c = slot < VSOCK_CONN_MAX ? &v->conn[slot] : NULL;

		if (!c || c->gen != (uint16_t)(ev[i].data.u64 >> 32) || c->fd < 0)
			continue;
		if (ev[i].events & (EPOLLOUT | EPOLLERR | EPOLLHUP))
			vsock_conn_flush(v, c);
		if (c->fd >= 0 && (ev[i].events & (EPOLLIN | EPOLLRDHUP | EPOLLERR | EPOLLHUP)))
			c->readable = true;
		if (c->fd >= 0 && c->state == CS_HANDSHAKE && c->readable)
			conn_handshake(v, c);
	}
	conns_expire(v);
}

/* A guest REQUEST: a new connection through the broker, or RST. */
static void guest_connect(struct vsock *v, struct vsock_conn *c, const struct vsock_hdr *h)
{
	uint32_t host_port = le32toh(h->dst_port), guest_port = le32toh(h->src_port);

	if (c)	/* a second REQUEST on a live connection: both ends start over */
		vsock_conn_close(v, c, false);
	c = vsock_conn_new(v, CS_CONNECTING);
	if (!c) {
		v->refused++;
		vsock_rst_queue(v, host_port, guest_port);
		return;
	}
	c->host_port = host_port;
	c->guest_port = guest_port;
	c->peer_buf_alloc = le32toh(h->buf_alloc);
	c->peer_fwd_cnt = le32toh(h->fwd_cnt);
	if (vsock_broker_connect(v, c))
		vsock_conn_close(v, c, true);
}

/* The guest accepted a host program's connection: tell the program. */
static void guest_accepted(struct vsock *v, struct vsock_conn *c)
{
	char ok[24];
	int n = snprintf(ok, sizeof(ok), "OK %u\n", c->host_port);

	if (write(c->fd, ok, (size_t)n) != n) {
		vsock_conn_close(v, c, true);
		return;
	}
	c->state = CS_OPEN;
	c->readable = true;	/* what the program wrote after its line */
}

void vsock_guest_packet(struct vsock *v, struct vsock_conn *c, const struct vsock_hdr *h,
			const struct vq_chain *ch)
{
	uint16_t op = le16toh(h->op);
	uint32_t flags = le32toh(h->flags);

	if (op == OP_REQUEST) {
		guest_connect(v, c, h);
		return;
	}
	if (!c || c->state == CS_CLOSING) {
		if (!c && op != OP_RST)
			vsock_rst_queue(v, le32toh(h->dst_port), le32toh(h->src_port));
		else if (c && op == OP_RST)
			vsock_conn_close(v, c, false);
		return;
	}
	c->peer_buf_alloc = le32toh(h->buf_alloc);
	c->peer_fwd_cnt = le32toh(h->fwd_cnt);
	c->credit_asked = false;
	if (op == OP_RST) {
		vsock_conn_close(v, c, false);
	} else if (op == OP_RESPONSE && c->state == CS_REQUESTED) {
		guest_accepted(v, c);
	} else if (op == OP_RW && c->state == CS_OPEN && !c->guest_shut_send) {
		if (vsock_conn_write(v, c, ch->iov, ch->nout, VSOCK_HDR_LEN, le32toh(h->len))) {
			dev_warn_once(v->dev, "guest sent past its credit: connection reset");
			vsock_conn_close(v, c, true);
		}
	} else if (op == OP_SHUTDOWN && (c->state == CS_OPEN || c->state == CS_DRAINING)) {
		c->guest_shut_rcv |= !!(flags & SHUT_F_RCV);
		c->guest_shut_send |= !!(flags & SHUT_F_SEND);
		if (c->guest_shut_rcv && c->guest_shut_send)
			c->state = CS_DRAINING;
		vsock_conn_flush(v, c);
	} else if (op == OP_CREDIT_REQUEST) {
		c->want |= W_CREDIT_UPDATE;
	} else if (op != OP_CREDIT_UPDATE || c->state == CS_REQUESTED) {
		vsock_conn_close(v, c, true);	/* out of order, or an op we do not know */
	}
}

/* One broker message with its fd (or -1). */
static void broker_message(struct vsock *v, const struct vsock_broker_msg *m, int fd)
{
	struct vsock_conn *c = NULL;

	if (m->op == VSOCK_BROKER_CONNECTED && (m->id & 0xffff) < VSOCK_CONN_MAX) {
		c = &v->conn[m->id & 0xffff];
		if (c->state != CS_CONNECTING || c->gen != (uint16_t)(m->id >> 16))
			c = NULL;	/* the guest gave up on it meanwhile */
	}
	if (c && m->err == 0 && fd >= 0) {
		c->state = CS_OPEN;
		c->want |= W_RESPONSE;
		if (vsock_conn_attach(v, c, fd))
			vsock_conn_close(v, c, true);
		return;
	}
	if (c) {
		v->refused++;
		vsock_conn_close(v, c, true);
	} else if (m->op == VSOCK_BROKER_ACCEPTED && fd >= 0 && virtio_pci_running(v->dev->priv) &&
		   (c = vsock_conn_new(v, CS_HANDSHAKE))) {
		if (vsock_conn_attach(v, c, fd) == 0)
			conn_handshake(v, c);
		else
			vsock_conn_close(v, c, false);
		return;
	} else if (m->op != VSOCK_BROKER_CONNECTED && m->op != VSOCK_BROKER_ACCEPTED) {
		dev_warn_once(v->dev, "broker: unknown message %u ignored", m->op);
	}
	if (fd >= 0)
		close(fd);	/* refused, late, or no room: the host program sees its end */
}

void vsock_broker_input(struct vsock *v)
{
	for (unsigned k = 0; k < 64; k++) {
		struct vsock_broker_msg m;
		bool cut;
		int fd;
		ssize_t r = sock_recv_fd(v->dev->fds[0], &m, sizeof(m), &fd,
					 MSG_CMSG_CLOEXEC | MSG_DONTWAIT, &cut);

		if (r == -EAGAIN)
			break;
		if (r <= 0) {
			dev_warn(v->dev, "broker gone: no more connections either way");
			v->broker_gone = true;
			v->dev->poll_mask &= ~1u;
			break;
		}
		if (r != sizeof(m) || cut) {
			dev_warn_once(v->dev, "broker: a message of %zd bytes ignored", r);
			if (fd >= 0)
				close(fd);
			continue;
		}
		broker_message(v, &m, fd);
	}
	conns_expire(v);
}
