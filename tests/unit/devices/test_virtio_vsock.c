/*
 * virtio-vsock against a fake broker (the test holds the other end of the
 * SOCK_SEQPACKET channel) and host programs (the test's ends of stream
 * socket pairs), driven the way Linux's vmw_vsock_virtio_transport does:
 * 4 KiB receive buffers with the header in front, a header and a payload
 * buffer per transmitted packet.
 */
#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "fakehost.h"
#include "util.h"
#include "virtio_guest.h"
#include "virtio_pci.h"
#include "virtio_vsock_int.h"

extern const struct device_class virtio_vsock_class;

#define MEM_SIZE	(4u << 20)
#define RXRING		0x1000ull
#define TXRING		0x4000ull
#define EVRING		0x7000ull
#define RXBUF		0x100000ull	/* 64 receive buffers of 0x1000 + 44 at 0x2000 steps */
#define TXBUF		0x200000ull
#define RXLEN		(4096 + VSOCK_HDR_LEN)
#define CID		3

static uint8_t *mem;
static struct fakehost fh;
static struct device dev;
static struct gvq rxq, txq, evq;
static int chan[2];	/* [0] the device's fds[0], [1] the broker's */
static unsigned rx_next;	/* next receive buffer slot */

static int vsock_new(char *cid_param, int fd)
{
	struct fakespec fs;

	fakehost_init(&fh);
	fakehost_set_mem(&fh, mem, MEM_SIZE);
	fakespec_init_virtio(&fs, "virtio-vsock", 4);
	if (cid_param)
		fakespec_add_param(&fs, cid_param);
	return fakehost_create(&fh, &dev, &virtio_vsock_class, &fs.spec, fd, -1);
}

static bool needs_reset(void)
{
	return vcfg_read(&dev, VIRTIO_PCI_COMMON_STATUS, 1) & VIRTIO_STATUS_NEEDS_RESET;
}

static void post_rx(unsigned n)
{
	for (unsigned i = 0; i < n; i++, rx_next = (rx_next + 1) % 64) {
		struct gbuf b = { RXBUF + 0x2000ull * rx_next, RXLEN, true };

		gvq_add(&rxq, &b, 1);
	}
}

static void vsock_init(unsigned nrx)
{
	memset(mem, 0, MEM_SIZE);
	rx_next = 0;
	vdrv_negotiate(&dev, 1ull << VIRTIO_F_VERSION_1 | 1ull << VIRTIO_F_EVENT_IDX);
	gvq_init(&rxq, mem, RXRING, 64);
	gvq_init(&txq, mem, TXRING, 64);
	gvq_init(&evq, mem, EVRING, 8);
	vcfg_write(&dev, VIRTIO_PCI_COMMON_MSIX, 2, 0);
	vdrv_setup_queue(&dev, 0, &rxq, 1);
	vdrv_setup_queue(&dev, 1, &txq, 2);
	vdrv_setup_queue(&dev, 2, &evq, 3);
	vdrv_add_status(&dev, VIRTIO_STATUS_DRIVER_OK);
	post_rx(nrx);
	dev.ops->notify(&dev, 0);
}

/* The guest sends one packet: a header buffer and, with a payload, a second one. */
static void guest_send(uint16_t op, uint32_t src_port, uint32_t dst_port, const void *data,
		       uint32_t len, uint32_t buf_alloc, uint32_t fwd_cnt, uint32_t flags)
{
	static unsigned slot;
	uint64_t gpa = TXBUF + 0x12000ull * (slot++ % 8);
	struct vsock_hdr h = {
		.src_cid = htole64(CID), .dst_cid = htole64(VSOCK_HOST_CID),
		.src_port = htole32(src_port), .dst_port = htole32(dst_port), .len = htole32(len),
		.type = htole16(VSOCK_TYPE_STREAM), .op = htole16(op), .flags = htole32(flags),
		.buf_alloc = htole32(buf_alloc), .fwd_cnt = htole32(fwd_cnt) };
	struct gbuf b[2] = { { gpa, VSOCK_HDR_LEN, false }, { gpa + 0x100, len, false } };

	memcpy(mem + gpa, &h, sizeof(h));
	if (len)
		memcpy(mem + gpa + 0x100, data, len);
	gvq_add(&txq, b, len ? 2 : 1);
	dev.ops->notify(&dev, 1);
}

/* The next packet the device put in a receive buffer: header, payload into data. */
static bool guest_recv(struct vsock_hdr *h, void *data, uint32_t *len)
{
	uint32_t id, used;
	uint64_t gpa;

	if (!gvq_get_used(&rxq, &id, &used))
		return false;
	gpa = 0;
	for (unsigned i = 0; i < 64; i++)	/* descriptor id -> its buffer */
		if (le64toh(*(uint64_t *)(mem + RXRING + 16ull * id)) == RXBUF + 0x2000ull * i)
			gpa = RXBUF + 0x2000ull * i;
	memcpy(h, mem + gpa, sizeof(*h));
	if (data)
		memcpy(data, mem + gpa + VSOCK_HDR_LEN, used - VSOCK_HDR_LEN);
	if (len)
		*len = used - VSOCK_HDR_LEN;
	post_rx(1);
	return true;
}

static bool recv_op(uint16_t op, uint32_t src_port, uint32_t dst_port, struct vsock_hdr *out)
{
	struct vsock_hdr h;

	if (!guest_recv(&h, NULL, NULL))
		return false;
	if (out)
		*out = h;
	return le16toh(h.op) == op && le32toh(h.src_port) == src_port &&
	       le32toh(h.dst_port) == dst_port && le64toh(h.src_cid) == VSOCK_HOST_CID &&
	       le64toh(h.dst_cid) == CID;
}

/* The broker's side: one message, with an fd or -1. */
static int broker_recv(struct vsock_broker_msg *m)
{
	struct pollfd p = { chan[1], POLLIN, 0 };

	if (poll(&p, 1, 1000) != 1)
		return -ETIMEDOUT;
	return recv(chan[1], m, sizeof(*m), MSG_DONTWAIT) == sizeof(*m) ? 0 : -EIO;
}

static void broker_send(uint32_t op, uint32_t id, int32_t err, int fd)
{
	struct vsock_broker_msg m = { .op = op, .id = id, .err = err };

	if (sock_send_fd(chan[1], &m, sizeof(m), fd, 0) != sizeof(m))
		abort();
	if (fd >= 0)
		close(fd);	/* the device holds it now */
	dev.ops->backend(&dev, 0);
}

/* A stream pair: *host the test's end, the return value the device's. */
static int stream_pair(int *host)
{
	int sp[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sp) < 0)
		abort();
	*host = sp[1];
	return sp[0];
}

/* Let the device see its sockets' events (the host polls dev.wake_fd). */
static void serve_streams(void)
{
	while (fakehost_wake(&dev, 50))
		;
}

static ssize_t host_read(int fd, void *buf, size_t len)
{
	struct pollfd p = { fd, POLLIN, 0 };

	if (poll(&p, 1, 1000) != 1)
		return -ETIMEDOUT;
	return read(fd, buf, len);
}

/* A guest connection to host port `port` that the broker connects: the host program's end. */
static int guest_connects(uint32_t gport, uint32_t port)
{
	struct vsock_broker_msg m;
	int host;

	guest_send(OP_REQUEST, gport, port, NULL, 0, 256 << 10, 0, 0);
	if (broker_recv(&m) || m.op != VSOCK_BROKER_CONNECT || m.port != port)
		return -1;
	broker_send(VSOCK_BROKER_CONNECTED, m.id, 0, stream_pair(&host));
	if (!recv_op(OP_RESPONSE, port, gport, NULL)) {
		close(host);
		return -1;
	}
	return host;
}

static void test_create(void)
{
	int sp[2];

	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, chan) == 0,
	      "broker channel");
	CHECK(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp) == 0, "spare pair");
	CHECK(vsock_new(NULL, chan[0]) == -EINVAL, "no cid= refused");
	CHECK(vsock_new("cid=2", chan[0]) == -EINVAL, "cid=2 (the host's) refused");
	CHECK(vsock_new("cid=4294967295", chan[0]) == -EINVAL, "cid=-1 (any) refused");
	CHECK(vsock_new("cid=3", -1) == -EINVAL, "no broker channel refused");
	CHECK(vsock_new("cid=3", chan[0]) == 0, "cid=3 with its channel");
	close(sp[0]);
	close(sp[1]);
	CHECK_EQ(vcfg_read(&dev, VIRTIO_PCI_COMMON_NUMQ, 2), 3, "rx, tx and event queues");
	CHECK_EQ(dev_in(&dev, VIRTIO_PCI_REGION_DEVICE, 0, 4), CID, "guest_cid low");
	CHECK_EQ(dev_in(&dev, VIRTIO_PCI_REGION_DEVICE, 4, 4), 0, "guest_cid high");
	CHECK(dev.poll_mask & 1, "the broker channel is polled");
	vsock_init(32);
	CHECK(!needs_reset(), "driver running");
}

static void test_guest_connect(void)
{
	uint8_t buf[8192], big[3000];
	struct vsock_hdr h;
	uint32_t len;
	int host = guest_connects(1000, 5000);

	CHECK(host >= 0, "guest REQUEST to port 5000: CONNECT to the broker, RESPONSE to the guest");
	guest_send(OP_RW, 1000, 5000, "ping from the guest", 19, 256 << 10, 0, 0);
	CHECK(host_read(host, buf, sizeof(buf)) == 19 && memcmp(buf, "ping from the guest", 19) == 0,
	      "guest bytes reach the host program");
	for (unsigned i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7);
	CHECK(write(host, big, sizeof(big)) == sizeof(big), "host writes 3000 bytes");
	serve_streams();
	CHECK(guest_recv(&h, buf, &len) && le16toh(h.op) == OP_RW && len == 3000 &&
	      memcmp(buf, big, 3000) == 0, "they arrive as one RW packet (%u bytes)", len);
	CHECK_EQ(le32toh(h.fwd_cnt), 19, "our fwd_cnt counts what the host took");
	CHECK_EQ(le32toh(h.buf_alloc), VSOCK_BUF_ALLOC, "our buf_alloc");

	/* Credit: the guest has room for 100 more bytes only. */
	guest_send(OP_CREDIT_UPDATE, 1000, 5000, NULL, 0, 3100, 0, 0);
	CHECK(write(host, big, 500) == 500, "host writes 500 more");
	serve_streams();
	CHECK(guest_recv(&h, NULL, &len) && le16toh(h.op) == OP_RW && len == 100,
	      "only the 100 bytes of credit are sent (%u)", len);
	CHECK(recv_op(OP_CREDIT_REQUEST, 5000, 1000, NULL), "then a CREDIT_REQUEST");
	CHECK(!guest_recv(&h, NULL, NULL), "and nothing more while there is no credit");
	guest_send(OP_CREDIT_UPDATE, 1000, 5000, NULL, 0, 3100, 3100, 0);
	CHECK(guest_recv(&h, NULL, &len) && le16toh(h.op) == OP_RW && len == 400,
	      "the guest's credit update brings the other 400 (%u)", len);
	guest_send(OP_CREDIT_UPDATE, 1000, 5000, NULL, 0, 256 << 10, 3500, 0);

	/* A credit request is answered. */
	guest_send(OP_CREDIT_REQUEST, 1000, 5000, NULL, 0, 256 << 10, 3500, 0);
	CHECK(recv_op(OP_CREDIT_UPDATE, 5000, 1000, &h) && le32toh(h.fwd_cnt) == 19,
	      "CREDIT_REQUEST answered with CREDIT_UPDATE");

	/* The host half-closes: SHUTDOWN SEND; the guest closes: its bytes out, then RST. */
	shutdown(host, SHUT_WR);
	serve_streams();
	CHECK(recv_op(OP_SHUTDOWN, 5000, 1000, &h) && le32toh(h.flags) == SHUT_F_SEND,
	      "host end-of-file: SHUTDOWN with SEND");
	guest_send(OP_RW, 1000, 5000, "last", 4, 256 << 10, 3500, 0);
	guest_send(OP_SHUTDOWN, 1000, 5000, NULL, 0, 256 << 10, 3500, SHUT_F_RCV | SHUT_F_SEND);
	CHECK(recv_op(OP_RST, 5000, 1000, NULL), "guest SHUTDOWN of both ways: RST");
	CHECK(host_read(host, buf, sizeof(buf)) == 4 && host_read(host, buf, sizeof(buf)) == 0,
	      "the host program reads the last bytes, then end-of-file");
	close(host);
	CHECK(!needs_reset(), "still running");
}

static void test_refused(void)
{
	struct vsock_broker_msg m;
	struct vsock_hdr h;

	guest_send(OP_REQUEST, 1001, 6000, NULL, 0, 256 << 10, 0, 0);
	CHECK(broker_recv(&m) == 0 && m.op == VSOCK_BROKER_CONNECT && m.port == 6000, "CONNECT 6000");
	broker_send(VSOCK_BROKER_CONNECTED, m.id, -ENOENT, -1);
	CHECK(recv_op(OP_RST, 6000, 1001, NULL), "nobody listens: RST");
	broker_send(VSOCK_BROKER_CONNECTED, m.id, 0, -1);
	CHECK(!guest_recv(&h, NULL, NULL), "a late answer for it does nothing");
	guest_send(OP_RW, 1002, 6001, "x", 1, 256 << 10, 0, 0);
	CHECK(recv_op(OP_RST, 6001, 1002, NULL), "RW on no connection: RST");
	guest_send(OP_RST, 1002, 6001, NULL, 0, 256 << 10, 0, 0);
	CHECK(!guest_recv(&h, NULL, NULL), "RST on no connection: no answer");
	CHECK(send(chan[1], "short", 5, 0) == 5, "a message of the wrong size");
	dev.ops->backend(&dev, 0);
	CHECK(fakehost_logged(&fh, "message of 5 bytes ignored"), "is ignored and logged");
}

/* Guest bytes beyond the credit it was given: RST, the host sees its end. */
static void test_credit_violation(void)
{
	static uint8_t chunk[VSOCK_PKT_MAX];
	int small = 4096, host = guest_connects(1003, 5001);
	uint8_t buf[64];
	bool rst = false;

	CHECK(host >= 0, "connected");
	setsockopt(host, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small));
	memset(chunk, 0x77, sizeof(chunk));
	for (unsigned i = 0; i < 16 && !rst; i++) {
		struct vsock_hdr h;

		guest_send(OP_RW, 1003, 5001, chunk, sizeof(chunk), 256 << 10, 0, 0);
		while (guest_recv(&h, NULL, NULL))
			rst |= le16toh(h.op) == OP_RST;
	}
	CHECK(rst, "RST once the guest sent past its credit");
	CHECK(fakehost_logged(&fh, "past its credit"), "logged");
	while (host_read(host, buf, sizeof(buf)) > 0)
		;
	CHECK(host_read(host, buf, sizeof(buf)) == 0, "the host program sees end-of-file");
	close(host);
	CHECK(!needs_reset(), "a credit violation resets the connection, not the device");
}

static void test_host_connect(void)
{
	struct vsock_hdr h;
	uint8_t buf[64];
	uint32_t len, port;
	int host;

	broker_send(VSOCK_BROKER_ACCEPTED, 0, 0, stream_pair(&host));
	CHECK(write(host, "CONNECT 1234\nhello", 18) == 18, "host program: CONNECT 1234, then bytes");
	serve_streams();
	CHECK(guest_recv(&h, NULL, NULL) && le16toh(h.op) == OP_REQUEST &&
	      le32toh(h.dst_port) == 1234 && le32toh(h.src_port) >= VSOCK_LOCAL_PORT0,
	      "REQUEST to guest port 1234 from host port %u", le32toh(h.src_port));
	port = le32toh(h.src_port);
	guest_send(OP_RESPONSE, 1234, port, NULL, 0, 256 << 10, 0, 0);
	len = (uint32_t)host_read(host, buf, sizeof(buf) - 1);
	buf[len < sizeof(buf) ? len : 0] = 0;
	CHECK(strncmp((char *)buf, "OK ", 3) == 0 && strtoul((char *)buf + 3, NULL, 10) == port,
	      "the program reads \"OK %u\" (got \"%s\")", port, buf);
	serve_streams();
	CHECK(guest_recv(&h, buf, &len) && le16toh(h.op) == OP_RW && len == 5 &&
	      memcmp(buf, "hello", 5) == 0, "what it wrote after its line reaches the guest");
	guest_send(OP_RST, 1234, port, NULL, 0, 256 << 10, 5, 0);
	CHECK(host_read(host, buf, sizeof(buf)) == 0, "guest RST: the program sees end-of-file");
	close(host);

	broker_send(VSOCK_BROKER_ACCEPTED, 0, 0, stream_pair(&host));
	CHECK(write(host, "CONNECT 99\n", 11) == 11, "CONNECT 99 (nobody listens in the guest)");
	serve_streams();
	CHECK(guest_recv(&h, NULL, NULL) && le16toh(h.op) == OP_REQUEST, "REQUEST");
	guest_send(OP_RST, 99, le32toh(h.src_port), NULL, 0, 0, 0, 0);
	CHECK(host_read(host, buf, sizeof(buf)) == 0, "refused by the guest: end-of-file at once");
	close(host);

	broker_send(VSOCK_BROKER_ACCEPTED, 0, 0, stream_pair(&host));
	CHECK(write(host, "HELLO 1\n", 8) == 8, "a bad line");
	serve_streams();
	CHECK(host_read(host, buf, sizeof(buf)) == 0 && !guest_recv(&h, NULL, NULL),
	      "is closed; nothing reaches the guest");
	close(host);
}

static void test_reset_and_malformed(void)
{
	struct gbuf b = { TXBUF, 20, false };
	uint8_t buf[8];
	int host = guest_connects(1005, 5005);

	CHECK(host >= 0, "connected");
	vcfg_write(&dev, VIRTIO_PCI_COMMON_STATUS, 1, 0);
	CHECK(host_read(host, buf, sizeof(buf)) == 0, "device reset: the host program sees end-of-file");
	close(host);
	vsock_init(32);
	gvq_add(&txq, &b, 1);
	dev.ops->notify(&dev, 1);
	CHECK(needs_reset(), "a 20-byte transmit buffer: NEEDS_RESET");
	CHECK(fh.nevents && fh.events[fh.nevents - 1] == DEV_EVENT_NEEDS_RESET, "event posted");
	vcfg_write(&dev, VIRTIO_PCI_COMMON_STATUS, 1, 0);
	vsock_init(32);
	guest_send(OP_RW, 1, 2, "abc", 3, 0, 0, 0);
	CHECK(!needs_reset(), "well-formed packet on no connection is fine");
	{
		struct vsock_hdr h = { .src_cid = htole64(CID), .dst_cid = htole64(2),
				       .len = htole32(100), .type = htole16(1), .op = htole16(OP_RW) };
		struct gbuf hb = { TXBUF, VSOCK_HDR_LEN, false };

		memcpy(mem + TXBUF, &h, sizeof(h));
		gvq_add(&txq, &hb, 1);
		dev.ops->notify(&dev, 1);
	}
	CHECK(needs_reset(), "len 100 with no payload buffer: NEEDS_RESET");
	vcfg_write(&dev, VIRTIO_PCI_COMMON_STATUS, 1, 0);
	vsock_init(0);
	{
		struct gbuf rb = { RXBUF, RXLEN, false };

		gvq_add(&rxq, &rb, 1);
		guest_send(OP_RW, 7, 8, "x", 1, 0, 0, 0);	/* its RST needs a buffer */
	}
	CHECK(needs_reset(), "a device-readable receive buffer: NEEDS_RESET");
}

int main(void)
{
	signal(SIGPIPE, SIG_IGN);
	mem = calloc(1, MEM_SIZE);
	if (!mem)
		return 1;
	test_create();
	test_guest_connect();
	test_refused();
	test_credit_violation();
	test_host_connect();
	test_reset_and_malformed();
	dev.ops->destroy(&dev);
	return check_done();
}
