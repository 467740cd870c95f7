/* Inside virtio-vsock: what virtio_vsock.c and virtio_vsock_conn.c share. */
#ifndef VMM_DEVICES_VIRTIO_VSOCK_INT_H
#define VMM_DEVICES_VIRTIO_VSOCK_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "virtio_pci.h"
#include "vsock_broker_abi.h"

#define VSOCK_QUEUE_MAX	256
#define VSOCK_CHAIN_MAX	64	/* buffers in one chain */
#define VSOCK_CONN_MAX	128	/* connections at once; one more is refused (RST) */
#define VSOCK_BUF_ALLOC	(256u << 10)	/* what we announce: guest bytes we hold per connection */
#define VSOCK_PKT_MAX	(64u << 10)	/* payload of one packet, either way */
#define VSOCK_RST_MAX	64	/* RSTs for packets of no connection, waiting for rx buffers */
#define VSOCK_LINE_MAX	24	/* "CONNECT 4294967295\n" and then some */
#define VSOCK_WAIT_NS	(5ull * 1000000000)	/* a handshake, the broker or the guest's answer */
#define VSOCK_LOCAL_PORT0 (1u << 30)	/* host ports of host-initiated connections start here */

/* struct virtio_vsock_hdr (5.10.6), little-endian on the wire. */
struct vsock_hdr {
	uint64_t src_cid, dst_cid;
	uint32_t src_port, dst_port;
	uint32_t len;
	uint16_t type, op;
	uint32_t flags;
	uint32_t buf_alloc, fwd_cnt;
} __attribute__((packed));
#define VSOCK_HDR_LEN	44
_Static_assert(sizeof(struct vsock_hdr) == VSOCK_HDR_LEN, "virtio_vsock_hdr is 44 bytes");

#define VSOCK_TYPE_STREAM 1
enum {
	OP_REQUEST = 1, OP_RESPONSE = 2, OP_RST = 3, OP_SHUTDOWN = 4, OP_RW = 5,
	OP_CREDIT_UPDATE = 6, OP_CREDIT_REQUEST = 7,
};
#define SHUT_F_RCV	1	/* the sender will receive no more */
#define SHUT_F_SEND	2	/* the sender will send no more */

/* Queues (5.10.2). */
#define VSOCK_VQ_RX	0
#define VSOCK_VQ_TX	1
#define VSOCK_VQ_EVENT	2

enum conn_state {
	CS_FREE = 0,
	CS_CONNECTING,		/* guest -> host: the broker connects PATH_<host_port> */
	CS_HANDSHAKE,		/* host -> guest: reading "CONNECT <port>\n" */
	CS_REQUESTED,		/* host -> guest: REQUEST sent or queued, waiting for RESPONSE */
	CS_OPEN,
	CS_DRAINING,		/* the guest closed: its last bytes go to the host, then RST */
	CS_CLOSING,		/* fd closed: an RST to the guest waits for a receive buffer */
};

/* What a connection still owes the guest (conn.want), in the order it is sent. */
enum {
	W_RST = 1, W_REQUEST = 2, W_RESPONSE = 4, W_SHUTDOWN = 8, W_CREDIT_UPDATE = 16,
	W_CREDIT_REQUEST = 32,
};

struct vsock_conn {
	enum conn_state state;
	int fd;				/* the host's stream socket, -1 if none */
	uint16_t gen;			/* bumped at each free: stale broker answers miss */
	uint32_t host_port, guest_port;
	unsigned want;			/* W_* */
	bool readable;			/* the socket may have bytes (or EOF) to read */
	bool host_eof;			/* the host sent its last byte (SHUTDOWN SEND owed/sent) */
	bool guest_shut_rcv, guest_shut_send;
	/* Credit (5.10.6.3): the guest's, and ours as the guest last heard it. */
	uint32_t peer_buf_alloc, peer_fwd_cnt, tx_cnt;
	uint32_t rx_cnt, fwd_cnt, fwd_cnt_sent;
	bool credit_asked;		/* CREDIT_REQUEST sent since the guest's last word */
	/* Guest bytes the socket has not taken yet: pend[pend_off, pend_off + pend_len). */
	uint8_t *pend;
	uint32_t pend_off, pend_len;
	char line[VSOCK_LINE_MAX];
	unsigned line_len;
	uint64_t deadline;		/* CS_CONNECTING/HANDSHAKE/REQUESTED: give up then (ns) */
};

/* An RST for a packet that names no connection of ours. */
struct vsock_rst {
	uint32_t host_port, guest_port;
};

struct vsock {
	struct device *dev;
	uint64_t guest_cid;
	int epfd;			/* the stream sockets (dev->wake_fd) */
	struct vsock_conn conn[VSOCK_CONN_MAX];
	unsigned nconn_hi;		/* conn[nconn_hi..] are all free */
	unsigned rr;			/* where the next round of the receive queue starts */
	uint32_t next_port;		/* next local port for a host-initiated connection */
	uint64_t next_deadline;		/* the earliest conn deadline, 0: none */
	struct vsock_rst rst[VSOCK_RST_MAX];
	unsigned nrst;
	bool broker_gone;
	struct iovec iov[VSOCK_CHAIN_MAX];
	uint64_t dropped, refused;
};

/* ---- virtio_vsock_conn.c: connections and the host side ---- */

/* The connection of a guest packet, or NULL. */
struct vsock_conn *vsock_conn_find(struct vsock *v, uint32_t host_port, uint32_t guest_port);

/* A free slot in state st, or NULL when all VSOCK_CONN_MAX are taken. */
struct vsock_conn *vsock_conn_new(struct vsock *v, enum conn_state st);

/* Take the host socket fd for c (watched from now on). Returns 0 or -errno. */
int vsock_conn_attach(struct vsock *v, struct vsock_conn *c, int fd);

/* Close c's socket; with rst an RST is owed to the guest first (CS_CLOSING), else c is free. */
void vsock_conn_close(struct vsock *v, struct vsock_conn *c, bool rst);

/* Ask the broker to connect c (CS_CONNECTING) to PATH_<host_port>. Returns 0 or -errno. */
int vsock_broker_connect(struct vsock *v, struct vsock_conn *c);

/*
 * Write guest bytes to c's socket, what it does not take into c->pend.
 * Returns 0, or -ENOSPC when the guest sent beyond the credit it had.
 */
int vsock_conn_write(struct vsock *v, struct vsock_conn *c, const struct iovec *iov,
		     unsigned n, size_t off, uint32_t len);

/* Push c->pend to the socket; a closed one (DRAINING) goes on to its RST once empty. */
void vsock_conn_flush(struct vsock *v, struct vsock_conn *c);

/* Close every connection, forget queued RSTs (device reset, destroy). */
void vsock_conns_reset(struct vsock *v);

/*
 * One well-formed guest packet (header h, payload in ch after it) for
 * connection c, or for none (c NULL: answered with RST unless it is one).
 */
void vsock_guest_packet(struct vsock *v, struct vsock_conn *c, const struct vsock_hdr *h,
			const struct vq_chain *ch);

/* Messages from the broker (fds[0] readable). */
void vsock_broker_input(struct vsock *v);

/* Stream sockets that became ready (dev->wake_fd readable), and expired waits. */
void vsock_streams_input(struct vsock *v);

/* ---- virtio_vsock.c ---- */

/* Queue an RST to the guest for a packet of no connection (dropped when VSOCK_RST_MAX wait). */
void vsock_rst_queue(struct vsock *v, uint32_t host_port, uint32_t guest_port);

/* Send what the connections owe the guest while the receive queue has buffers. */
void vsock_rx_run(struct virtio_pci *vp);

#endif
