/* virtio-console over pipes, driven the way Linux's virtio_console does. */
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "fakehost.h"
#include "virtio_guest.h"
#include "virtio_pci.h"

extern const struct device_class virtio_console_class;

#define MEM_SIZE	(1u << 20)
#define RXRING		0x1000ull
#define TXRING		0x4000ull
#define RXBUF		0x10000ull
#define TXBUF		0x20000ull

static uint8_t *mem;
static struct fakehost fh;
static struct device dev;
static struct gvq rxq, txq;
static int in_pipe[2], out_pipe[2];

static int con_new(void)
{
	struct fakespec fs;

	fakehost_init(&fh);
	fakehost_set_mem(&fh, mem, MEM_SIZE);
	fakespec_init_virtio(&fs, "virtio-console", 4);	/* vectors 0-2, INTx */
	fakespec_add_param(&fs, "intx=3");
	return fakehost_create(&fh, &dev, &virtio_console_class, &fs.spec, in_pipe[0], out_pipe[1]);
}

static bool needs_reset(void)
{
	return vcfg_read(&dev, VIRTIO_PCI_COMMON_STATUS, 1) & VIRTIO_STATUS_NEEDS_RESET;
}

static void con_init(void)
{
	vdrv_negotiate(&dev, ~0ull & ~(1ull << VIRTIO_F_ACCESS_PLATFORM));
	memset(mem, 0, MEM_SIZE);
	gvq_init(&rxq, mem, RXRING, 32);
	gvq_init(&txq, mem, TXRING, 32);
	vcfg_write(&dev, VIRTIO_PCI_COMMON_MSIX, 2, 0);
	vdrv_setup_queue(&dev, 0, &rxq, 1);
	vdrv_setup_queue(&dev, 1, &txq, 2);
	vdrv_add_status(&dev, VIRTIO_STATUS_DRIVER_OK);
}

static void post_rx(uint64_t off, uint32_t len)
{
	struct gbuf b = { RXBUF + off, len, true };

	gvq_add(&rxq, &b, 1);
	dev.ops->notify(&dev, 0);
}

static void test_setup(void)
{
	CHECK(con_new() == 0, "create with 3 vectors and INTx");
	CHECK_EQ(vcfg_read(&dev, VIRTIO_PCI_COMMON_NUMQ, 2), 2, "two queues");
	con_init();
	CHECK_EQ(vcfg_read(&dev, VIRTIO_PCI_COMMON_STATUS, 1), 0x0f, "initialised");
	CHECK_EQ(dev_in(&dev, VIRTIO_PCI_REGION_DEVICE, 0, 4), 0, "cols = rows = 0");
	CHECK_EQ(dev_in(&dev, VIRTIO_PCI_REGION_DEVICE, 4, 4), 0, "max_nr_ports 0");
	CHECK(!(dev.poll_mask & 1), "no receive buffers: input not polled");
}

static void test_tx(void)
{
	struct gbuf b[2] = { { TXBUF, 3, false }, { TXBUF + 0x100, 3, false } };
	char buf[16] = { 0 };
	uint32_t id, len;
	unsigned raises = fh.irq_raises[2];

	memcpy(mem + TXBUF, "hel", 3);
	memcpy(mem + TXBUF + 0x100, "lo\n", 3);
	gvq_add(&txq, b, 2);
	dev.ops->notify(&dev, 1);
	CHECK(read(out_pipe[0], buf, sizeof(buf)) == 6 && memcmp(buf, "hello\n", 6) == 0,
	      "two transmit buffers reach the output fd");
	CHECK(gvq_get_used(&txq, &id, &len) && len == 0, "transmit buffer returned, 0 written");
	CHECK_EQ(fh.irq_raises[2], raises + 1, "transmit queue vector 2 raised");
}

static void test_rx(void)
{
	uint32_t id, len;
	unsigned raises;

	CHECK(write(in_pipe[1], "abc", 3) == 3, "host types abc");
	CHECK(!(dev.poll_mask & 1), "still not polled: nowhere to put it");
	post_rx(0, 64);
	post_rx(64, 64);
	CHECK(dev.poll_mask & 1, "receive buffers posted: input polled");
	raises = fh.irq_raises[1];
	dev.ops->backend(&dev, 0);
	CHECK(gvq_get_used(&rxq, &id, &len) && len == 3 && memcmp(mem + RXBUF, "abc", 3) == 0,
	      "abc delivered into the first receive buffer");
	CHECK_EQ(fh.irq_raises[1], raises + 1, "receive queue vector 1 raised");
	CHECK(dev.poll_mask & 1, "one buffer left: still polled");
	dev.ops->backend(&dev, 0);
	CHECK(!gvq_get_used(&rxq, &id, &len), "spurious wakeup: the buffer is kept");
	CHECK(write(in_pipe[1], "xyz", 3) == 3, "host types xyz");
	dev.ops->backend(&dev, 0);
	CHECK(gvq_get_used(&rxq, &id, &len) && len == 3 && memcmp(mem + RXBUF + 64, "xyz", 3) == 0,
	      "xyz delivered into the second buffer");
	CHECK(!(dev.poll_mask & 1), "no buffers left: polling stops");
}

static void test_malformed_and_reset(void)
{
	gvq_set_desc(&txq, 7, TXBUF, 0, 0, 0);
	gvq_publish(&txq, 7);
	post_rx(0, 64);
	CHECK(dev.poll_mask & 1, "polled again");
	dev.ops->notify(&dev, 1);
	CHECK(needs_reset(), "zero-length transmit buffer: NEEDS_RESET");
	CHECK(!(dev.poll_mask & 1), "a stopped device does not poll input");
	CHECK_EQ(fakehost_count_events(&fh, DEV_EVENT_NEEDS_RESET), 1, "event posted");
	con_init();
	CHECK(!needs_reset() && !(dev.poll_mask & 1), "reset and re-initialised, no buffers yet");
}

static void test_eof_and_drop(void)
{
	char big[65536];
	struct gbuf b = { TXBUF, 4096, false };
	uint32_t id, len;

	memset(big, 'z', sizeof(big));
	while (write(out_pipe[1], big, sizeof(big)) > 0)
		;
	gvq_add(&txq, &b, 1);
	dev.ops->notify(&dev, 1);
	CHECK(gvq_get_used(&txq, &id, &len), "full output: buffer still returned, never blocks");
	post_rx(0, 64);
	close(in_pipe[1]);
	dev.ops->backend(&dev, 0);
	CHECK(!(dev.poll_mask & 1), "input at EOF: no longer polled");
	CHECK(!gvq_get_used(&rxq, &id, &len), "no empty buffer handed to the guest at EOF");
	CHECK(fakehost_logged(&fh, "input ended"), "EOF logged");
	dev.ops->destroy(&dev);
	CHECK(fakehost_logged(&fh, "4096 output bytes dropped"), "the drop was counted");
	CHECK(dev.priv == NULL, "destroy frees");
}

int main(void)
{
	mem = aligned_alloc(4096, MEM_SIZE);
	if (!mem || pipe2(in_pipe, O_NONBLOCK) < 0 || pipe2(out_pipe, O_NONBLOCK) < 0)
		CHECK_SKIP_ALL("no memory or pipes");
	test_setup();
	test_tx();
	test_rx();
	test_malformed_and_reset();
	test_eof_and_drop();
	free(mem);
	return check_done();
}
