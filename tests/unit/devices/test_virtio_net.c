/*
 * virtio-net over a SOCK_SEQPACKET socketpair standing in for the tap (one
 * message = one vnet header + frame, as a tap with IFF_VNET_HDR reads and
 * writes), driven the way Linux's virtio_net does: merged receive buffers,
 * a control queue, the RX-mode and MAC-table commands.
 */
#include <endian.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "fakehost.h"
#include "virtio_guest.h"
#include "virtio_pci.h"

extern const struct device_class virtio_net_class;

#define MEM_SIZE	(1u << 21)
#define RXRING		0x1000ull
#define TXRING		0x4000ull
#define CTRLRING	0x7000ull
#define RXBUF		0x10000ull
#define TXBUF		0x80000ull
#define CTRLBUF		0xf0000ull
#define HDR		12

#define F_GUEST_CSUM	1
#define F_MRG_RXBUF	15
#define F_CTRL_VQ	17

static uint8_t *mem;
static struct fakehost fh;
static struct device dev;
static struct gvq rxq, txq, ctrlq;
static int tap[2];	/* [0] the device's, [1] the network's */
static const uint8_t our_mac[6] = { 0x52, 0x54, 0x00, 0x12, 0x34, 0x56 };

static int net_new(char *param)
{
	struct fakespec fs;

	fakehost_init(&fh);
	fakehost_set_mem(&fh, mem, MEM_SIZE);
	fakespec_init_virtio(&fs, "virtio-net", 5);	/* vectors 0-3, INTx */
	fakespec_add_param(&fs, "intx=4");
	if (param)
		fakespec_add_param(&fs, param);
	return fakehost_create(&fh, &dev, &virtio_net_class, &fs.spec, tap[0], -1);
}

static bool needs_reset(void)
{
	return vcfg_read(&dev, VIRTIO_PCI_COMMON_STATUS, 1) & VIRTIO_STATUS_NEEDS_RESET;
}

static uint64_t net_init(uint64_t want)
{
	uint64_t f = vdrv_negotiate(&dev, want & ~(1ull << VIRTIO_F_ACCESS_PLATFORM));

	memset(mem, 0, MEM_SIZE);
	gvq_init(&rxq, mem, RXRING, 64);
	gvq_init(&txq, mem, TXRING, 64);
	gvq_init(&ctrlq, mem, CTRLRING, 16);
	vcfg_write(&dev, VIRTIO_PCI_COMMON_MSIX, 2, 0);
	vdrv_setup_queue(&dev, 0, &rxq, 1);
	vdrv_setup_queue(&dev, 1, &txq, 2);
	vdrv_setup_queue(&dev, 2, &ctrlq, 3);
	vdrv_add_status(&dev, VIRTIO_STATUS_DRIVER_OK);
	return f;
}

static void post_rx(uint64_t gpa, uint32_t len)
{
	struct gbuf b = { gpa, len, true };

	gvq_add(&rxq, &b, 1);
	dev.ops->notify(&dev, 0);
}

/* A frame to dst from the network side: header (zero) + Ethernet + fill. */
static size_t frame_in(const uint8_t dst[6], size_t len, uint8_t fill)
{
	static uint8_t buf[HDR + 65536];

	memset(buf, 0, HDR);
	memcpy(buf + HDR, dst, 6);
	memset(buf + HDR + 6, 0xaa, 8);
	memset(buf + HDR + 14, fill, len - 14);
	return (size_t)write(tap[1], buf, HDR + len);
}

/* The backend's turn, as the host gives it while the tap is readable. */
static void serve_rx(void)
{
	if (dev.poll_mask & 1)
		dev.ops->backend(&dev, 0);
}

static void drain_tap(void)
{
	uint8_t buf[256];

	while (recv(tap[1], buf, sizeof(buf), MSG_DONTWAIT) > 0)
		;
}

static uint8_t ctrl(uint8_t cls, uint8_t cmd, const void *data, uint32_t len)
{
	uint8_t *p = mem + CTRLBUF;
	struct gbuf b[3] = { { CTRLBUF, 2, false }, { CTRLBUF + 16, len, false },
			     { CTRLBUF + 0x800, 1, true } };
	uint32_t id, used;

	p[0] = cls;
	p[1] = cmd;
	memcpy(p + 16, data, len);
	p[0x800] = 0xee;
	gvq_add(&ctrlq, b, 3);
	dev.ops->notify(&dev, 2);
	if (!gvq_get_used(&ctrlq, &id, &used) || used != 1)
		return 0xff;
	return p[0x800];
}

static void test_setup(void)
{
	uint64_t f;

	CHECK(net_new(NULL) == 0, "create with 4 vectors and INTx");
	CHECK_EQ(vcfg_read(&dev, VIRTIO_PCI_COMMON_NUMQ, 2), 9, "4 queue pairs and control offered");
	f = net_init(~0ull);
	CHECK(f & 1ull << F_MRG_RXBUF && f & 1ull << F_CTRL_VQ && f & 1ull << F_GUEST_CSUM,
	      "merged rx buffers, control queue and checksum offload offered");
	for (unsigned i = 0; i < 6; i++)
		CHECK_EQ(dev_in(&dev, VIRTIO_PCI_REGION_DEVICE, i, 1), our_mac[i], "default MAC byte");
	CHECK_EQ(dev_in(&dev, VIRTIO_PCI_REGION_DEVICE, 6, 2), 1, "link up");
	CHECK_EQ(dev_in(&dev, VIRTIO_PCI_REGION_DEVICE, 8, 2), 1, "one queue pair");
	CHECK(!(dev.poll_mask & 1), "no receive buffers: the tap is not polled");
}

static void test_tx(void)
{
	struct gbuf b[2] = { { TXBUF, HDR, false }, { TXBUF + 0x100, 60, false } };
	uint8_t got[256];
	uint32_t id, len;
	ssize_t n;

	memset(mem + TXBUF, 0, HDR);
	memset(mem + TXBUF + 0x100, 0x5a, 60);
	gvq_add(&txq, b, 2);
	dev.ops->notify(&dev, 1);
	n = recv(tap[1], got, sizeof(got), MSG_DONTWAIT);
	CHECK(n == HDR + 60 && got[HDR] == 0x5a && got[HDR + 59] == 0x5a,
	      "header and frame reach the tap as one message (%zd bytes)", n);
	CHECK(gvq_get_used(&txq, &id, &len) && len == 0, "transmit chain returned");
	CHECK(!needs_reset(), "still running");
}

static void test_rx_merged(void)
{
	uint32_t id, len, total = 0;
	unsigned used = 0;
	uint16_t nbuf;

	post_rx(RXBUF, 1000);
	post_rx(RXBUF + 0x1000, 1000);
	post_rx(RXBUF + 0x2000, 1000);
	CHECK(dev.poll_mask & 1, "receive buffers posted: the tap is polled");
	CHECK_EQ(frame_in(our_mac, 1500, 0x33), HDR + 1500, "1500-byte frame from the network");
	serve_rx();
	while (gvq_get_used(&rxq, &id, &len)) {
		used++;
		total += len;
	}
	memcpy(&nbuf, mem + RXBUF + 10, 2);
	CHECK(used == 2 && total == HDR + 1500, "two buffers used, %u bytes (%u used)", total, used);
	CHECK_EQ(le16toh(nbuf), 2, "num_buffers in the first header");
	CHECK(mem[RXBUF + HDR] == our_mac[0] && mem[RXBUF + 0x1000 + 511] == 0x33,
	      "frame split across the buffers in order");
}

static void test_rx_waits_for_buffers(void)
{
	uint32_t id, len, total = 0;
	unsigned used = 0;

	while (gvq_get_used(&rxq, &id, &len))
		;
	/* One buffer (1000) is left from the last test: the frame needs two. */
	CHECK_EQ(frame_in(our_mac, 1500, 0x44), HDR + 1500, "frame arrives");
	serve_rx();
	CHECK(!gvq_get_used(&rxq, &id, &len), "nothing returned while the frame does not fit");
	CHECK(!(dev.poll_mask & 1), "tap not polled while a frame waits for buffers");
	post_rx(RXBUF + 0x3000, 1000);
	while (gvq_get_used(&rxq, &id, &len)) {
		used++;
		total += len;
	}
	CHECK(used == 2 && total == HDR + 1500, "the next notify completes it (%u buffers)", used);
	CHECK(!needs_reset(), "still running");
}

static void test_filter(void)
{
	static const uint8_t other[6] = { 0x52, 0x54, 0x00, 0x99, 0x99, 0x99 };
	static const uint8_t mcast[6] = { 0x01, 0x00, 0x5e, 0x00, 0x00, 0x01 };
	static const uint8_t bcast[6] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
	uint8_t off = 0, table[4 + 4 + 6];
	uint32_t id, len, one = htole32(1), zero = 0;
	unsigned got = 0;

	CHECK_EQ(ctrl(0, 0, &off, 1), 0, "PROMISC off: OK");
	CHECK_EQ(ctrl(0, 1, &off, 1), 0, "ALLMULTI off: OK");
	for (int i = 0; i < 8; i++)
		post_rx(RXBUF + 0x4000 + 0x800u * i, 2048);
	frame_in(other, 60, 1);
	frame_in(mcast, 60, 2);
	frame_in(bcast, 60, 3);
	frame_in(our_mac, 60, 4);
	serve_rx();
	while (gvq_get_used(&rxq, &id, &len))
		got++;
	CHECK_EQ(got, 2, "another host's unicast and an unlisted multicast are filtered");
	memcpy(table, &zero, 4);
	memcpy(table + 4, &one, 4);
	memcpy(table + 8, mcast, 6);
	CHECK_EQ(ctrl(1, 0, table, sizeof(table)), 0, "MAC table with one multicast: OK");
	frame_in(mcast, 60, 5);
	serve_rx();
	CHECK(gvq_get_used(&rxq, &id, &len), "the listed multicast passes");
	CHECK_EQ(ctrl(1, 0, table, 5), 1, "a truncated MAC table: ERR");
	CHECK_EQ(ctrl(1, 1, other, 6), 0, "MAC_ADDR_SET: OK");
	frame_in(other, 60, 6);
	serve_rx();
	CHECK(gvq_get_used(&rxq, &id, &len), "frames to the new address pass");
	CHECK_EQ(ctrl(1, 1, mcast, 6), 1, "a multicast MAC address: ERR");
	CHECK_EQ(ctrl(9, 0, &off, 1), 1, "an unknown class: ERR");
	CHECK(!needs_reset(), "still running");
}

static void test_malformed(void)
{
	struct gbuf w[2] = { { TXBUF, HDR, false }, { TXBUF + 0x100, 60, true } };
	struct gbuf ro_tx[2] = { { TXBUF, HDR, false }, { TXBUF + 0x100, 60, false } };
	struct gbuf bad_ctrl = { CTRLBUF, 2, false };

	gvq_add(&txq, w, 2);
	dev.ops->notify(&dev, 1);
	CHECK(needs_reset(), "a transmit chain with a writable buffer: NEEDS_RESET");
	CHECK(fh.nevents > 0, "the event was posted");

	net_init(~0ull);
	mem[TXBUF] = 0x80;	/* an unknown flag (net_init zeroed the rest) */
	gvq_add(&txq, ro_tx, 2);
	dev.ops->notify(&dev, 1);
	CHECK(needs_reset(), "a header with unknown flags: NEEDS_RESET");

	net_init(~0ull);
	gvq_add(&ctrlq, &bad_ctrl, 1);
	dev.ops->notify(&dev, 2);
	CHECK(needs_reset(), "a control command without its ack byte: NEEDS_RESET");

	net_init(~0ull);
	{
		struct gbuf ro = { RXBUF, 2048, false };

		gvq_add(&rxq, &ro, 1);
		dev.ops->notify(&dev, 0);
		frame_in(our_mac, 60, 7);
		serve_rx();
	}
	CHECK(needs_reset(), "a receive chain with a readable buffer: NEEDS_RESET");
	drain_tap();
}

static void test_no_mrg(void)
{
	uint32_t id, len;

	net_init(~0ull & ~(1ull << F_MRG_RXBUF));
	post_rx(RXBUF, 600);
	frame_in(our_mac, 1500, 8);
	serve_rx();
	CHECK(!gvq_get_used(&rxq, &id, &len), "without MRG_RXBUF a frame too big is dropped");
	frame_in(our_mac, 500, 9);
	serve_rx();
	CHECK(gvq_get_used(&rxq, &id, &len) && len == HDR + 500, "the next one fits (%u)", len);
	CHECK(!needs_reset(), "still running");
}

/* queues=2: two tap queues, MQ offered, controlq at 4; VQ_PAIRS_SET steers. */
static void test_mq(void)
{
	struct fakespec fs;
	struct gvq rx1, tx1, ctl;
	int tap1[2];
	uint8_t got[256];
	uint16_t two = htole16(2), five = htole16(5);
	uint32_t id, len;
	uint64_t f;

	dev.ops->destroy(&dev);
	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, tap1))
		return;
	fakehost_init(&fh);
	fakehost_set_mem(&fh, mem, MEM_SIZE);
	fakespec_init_virtio(&fs, "virtio-net", 6);
	fakespec_add_param(&fs, "queues=2");
	CHECK(fakehost_create(&fh, &dev, &virtio_net_class, &fs.spec, tap[0], tap1[0]) == 0,
	      "queues=2 with two tap queues");
	CHECK_EQ(dev_in(&dev, VIRTIO_PCI_REGION_DEVICE, 8, 2), 2, "max_virtqueue_pairs 2");
	f = vdrv_negotiate(&dev, ~0ull & ~(1ull << VIRTIO_F_ACCESS_PLATFORM));
	CHECK(f & 1ull << 22, "MQ offered and negotiated");
	memset(mem, 0, MEM_SIZE);
	gvq_init(&rxq, mem, RXRING, 64);
	gvq_init(&txq, mem, TXRING, 64);
	gvq_init(&rx1, mem, 0xa000, 64);
	gvq_init(&tx1, mem, 0xd000, 64);
	gvq_init(&ctl, mem, CTRLRING, 16);
	vdrv_setup_queue(&dev, 0, &rxq, 1);
	vdrv_setup_queue(&dev, 1, &txq, 2);
	vdrv_setup_queue(&dev, 2, &rx1, 3);
	vdrv_setup_queue(&dev, 3, &tx1, 4);
	vdrv_setup_queue(&dev, 4, &ctl, 5);
	vdrv_add_status(&dev, VIRTIO_STATUS_DRIVER_OK);
	ctrlq = ctl;	/* ctrl() posts on ctrlq: the controlq is 4 now */
	for (int i = 0; i < 4; i++) {
		struct gbuf b0 = { RXBUF + 0x800u * i, 2048, true }, b1 = { RXBUF + 0x4000 + 0x800u * i, 2048, true };

		gvq_add(&rxq, &b0, 1);
		gvq_add(&rx1, &b1, 1);
	}
	dev.ops->notify(&dev, 0);
	dev.ops->notify(&dev, 2);
	{
		uint8_t *p = mem + CTRLBUF;
		struct gbuf b[3] = { { CTRLBUF, 2, false }, { CTRLBUF + 16, 2, false },
				     { CTRLBUF + 0x800, 1, true } };

		p[0] = 4; p[1] = 0;
		memcpy(p + 16, &five, 2);
		gvq_add(&ctrlq, b, 3);
		dev.ops->notify(&dev, 4);
		CHECK(gvq_get_used(&ctrlq, &id, &len) && p[0x800] == 1, "VQ_PAIRS_SET 5 of 2: ERR");
		memcpy(p + 16, &two, 2);
		gvq_add(&ctrlq, b, 3);
		dev.ops->notify(&dev, 4);
		CHECK(gvq_get_used(&ctrlq, &id, &len) && p[0x800] == 0, "VQ_PAIRS_SET 2: OK");
	}
	CHECK((dev.poll_mask & 3) == 3, "both tap queues polled");
	{
		static uint8_t buf[HDR + 60];

		memset(buf, 0, sizeof(buf));
		memcpy(buf + HDR, our_mac, 6);
		CHECK(write(tap1[1], buf, sizeof(buf)) == (ssize_t)sizeof(buf), "frame on tap queue 1");
		dev.ops->backend(&dev, 1);
	}
	CHECK(gvq_get_used(&rx1, &id, &len) && len == HDR + 60, "it lands in receiveq 2 (pair 1)");
	CHECK(!gvq_get_used(&rxq, &id, &len), "not in receiveq 0");
	{
		struct gbuf t[2] = { { TXBUF, HDR, false }, { TXBUF + 0x100, 60, false } };

		gvq_add(&tx1, t, 2);
		dev.ops->notify(&dev, 3);
	}
	CHECK(recv(tap1[1], got, sizeof(got), MSG_DONTWAIT) == HDR + 60, "transmitq 3 goes to tap queue 1");
	CHECK(recv(tap[1], got, sizeof(got), MSG_DONTWAIT) < 0, "and not to tap queue 0");
	CHECK(!needs_reset(), "still running");
	dev.ops->destroy(&dev);
	CHECK(net_new("queues=2") != 0, "queues=2 with one tap queue: refused");
	CHECK(net_new("queues=5") != 0, "queues=5: refused");
	CHECK(net_new(NULL) == 0, "back to one queue");
	close(tap1[0]);
	close(tap1[1]);
}

static void test_bad_mac(void)
{
	struct device d2;

	dev.ops->destroy(&dev);
	CHECK(net_new("mac=01:00:5e:00:00:01") != 0, "a multicast mac= refused");
	CHECK(net_new("mac=52:54:00:zz:00:01") != 0, "a malformed mac= refused");
	CHECK(net_new("mac=52:54:00:ab:cd:ef") == 0, "mac= accepted");
	CHECK_EQ(dev_in(&dev, VIRTIO_PCI_REGION_DEVICE, 5, 1), 0xef, "its last byte in config");
	dev.ops->destroy(&dev);
	memset(&d2, 0, sizeof(d2));
	fakehost_init(&fh);
	{
		struct fakespec fs;

		fakespec_init_virtio(&fs, "virtio-net", 1);
		CHECK(fakehost_create(&fh, &d2, &virtio_net_class, &fs.spec, -1, -1) != 0,
		      "no tap: refused");
	}
}

int main(void)
{
	mem = aligned_alloc(4096, MEM_SIZE);
	if (!mem || socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK, 0, tap))
		return 1;
	test_setup();
	test_tx();
	test_rx_merged();
	test_rx_waits_for_buffers();
	test_filter();
	test_malformed();
	test_no_mrg();
	test_mq();
	test_bad_mac();
	return check_done();
}
