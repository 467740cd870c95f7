/*
 * The channel between virtio-vsock's device (devices/virtio_vsock.c) and
 * its broker (monitor/vsock_broker.c): one SOCK_SEQPACKET socket pair, the
 * device's end its fds[0]. The broker is the only side that may create,
 * connect or accept sockets; the device only reads and writes the stream
 * sockets it is handed, so a compromised device can reach nothing but the
 * host paths PATH_<port> of its own --vsock socket=PATH.
 *
 * Every message is one struct vsock_broker_msg (exactly its size, native
 * byte order: both ends are the same host), with at most one fd attached
 * (SCM_RIGHTS). Either side ignores, with one logged line, a message of
 * another size, an unknown op, or an fd where none belongs (closing it).
 *
 *   CONNECT    device -> broker: connect to the host's PATH_<port> (a
 *              guest connection to the host's port `port`); `id` is the
 *              device's, echoed in the answer.
 *   CONNECTED  broker -> device: the answer to CONNECT `id`: err 0 and the
 *              connected stream socket attached, or err -errno (-ENOENT:
 *              nobody listens there, -ECONNREFUSED, -EAGAIN: its backlog
 *              is full) and no fd.
 *   ACCEPTED   broker -> device: a host program connected to PATH; its
 *              stream socket attached (id, port, err 0). It will write
 *              "CONNECT <port>\n" for the device to read.
 *
 * Stream sockets arrive non-blocking and close-on-exec. The broker never
 * waits for the device: a message the channel cannot take at once is
 * dropped and its fd closed (the host program sees its connection end).
 */
#ifndef VMM_DEVICES_VSOCK_BROKER_ABI_H
#define VMM_DEVICES_VSOCK_BROKER_ABI_H

#include <stdint.h>

enum vsock_broker_op {
	VSOCK_BROKER_CONNECT = 1,
	VSOCK_BROKER_CONNECTED = 2,
	VSOCK_BROKER_ACCEPTED = 3,
};

struct vsock_broker_msg {
	uint32_t op;		/* enum vsock_broker_op */
	uint32_t id;		/* CONNECT's, echoed by CONNECTED; 0 otherwise */
	uint32_t port;		/* CONNECT: the host port (PATH_<port>) */
	int32_t err;		/* CONNECTED: 0 or -errno */
};

/* The host's CID: where guests connect to reach PATH_<port>. */
#define VSOCK_HOST_CID 2

#endif
