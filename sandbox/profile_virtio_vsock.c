/*
 * virtio-vsock (devices/virtio_vsock.c): no socket, connect, accept or open
 * of its own. Its broker (monitor/vsock_broker.c) makes every connection
 * and hands the stream socket over on the channel, fds[0]; the device reads
 * and writes those sockets, half-closes them and closes them. RLIMIT_NOFILE
 * leaves room for its VSOCK_CONN_MAX connections and no more. It writes no
 * file: RLIMIT_FSIZE 0.
 */
#include <sys/socket.h>

#include "sandbox.h"
#include "virtio_vsock_int.h"

static const struct sandbox_rule vsock_rules[] = {
	SB_IF("recvmsg", "the broker's messages and the stream sockets they carry", 1,
	      SB_EQ(2, MSG_CMSG_CLOEXEC | MSG_DONTWAIT, "flags == MSG_CMSG_CLOEXEC|MSG_DONTWAIT")),
	SB_IF("sendmsg", "CONNECT requests to the broker", 1,
	      SB_EQ(2, MSG_DONTWAIT | MSG_NOSIGNAL, "flags == MSG_DONTWAIT|MSG_NOSIGNAL")),
	SB_ANY("readv", "a host socket's bytes straight into the guest's receive buffers"),
	SB_ANY("writev", "the guest's bytes from its transmit buffers to a host socket"),
	SB_IF("shutdown", "the guest will send no more: half-close its host socket", 1,
	      SB_EQ(1, SHUT_WR, "how == SHUT_WR")),
};

const struct sandbox_profile sandbox_profile_virtio_vsock = {
	.klass = "virtio-vsock",
	.rules = vsock_rules,
	.nrules = sizeof(vsock_rules) / sizeof(vsock_rules[0]),
	/* a connection buffers what its host socket has not taken, up to what we announced */
	.mem_headroom_mib = 8 + (VSOCK_CONN_MAX * VSOCK_BUF_ALLOC >> 20),
	.fds_received = VSOCK_CONN_MAX,
};
