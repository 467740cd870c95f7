/*
 * One libFuzzer target per device class, built from this file with
 * -DFUZZ_CLASS="<class>". The device is created from a DeviceSpec as the
 * monitor builds it, then driven through devproc's entry points: trapped
 * accesses go through the ring (ring_consume -> devproc_serve_trap ->
 * ops->trap), queue doorbells to ops->notify, readable backend fds to
 * ops->backend (only while poll_mask asks, as the event loop does), the
 * wake fd to ops->wake (workers are never started: requests complete in
 * submit and are answered at the next wake, so a reset can come between).
 *
 * Input (see README.md): one variant byte (spec options), then ops:
 *   0 read     region u8, offset le16, lenc u8 (len = 1 << (lenc & 3))
 *   1 write    region u8, offset le16, lenc u8, value (len bytes, le)
 *   2 notify   queue u8 (modulo the class's queue count)
 *   3 backend  index u8 (& 3), n u8, n input bytes (written to fds[0] first;
 *              for virtio-net one frame from the network; for virtio-vsock
 *              see vsock_op: a broker message, host bytes, a guest packet
 *              or a receive buffer)
 *   4 memwrite gpa le16, n u8, n bytes into guest RAM (wrapping at its end)
 *   5 reset    ops->reset (the host resets the device)
 *   6 eof      close the writing end of the input (fds[0] reads 0)
 *   7 wake     ops->wake (the device's workers finished what was submitted)
 *   8 restore  n u8, then n times pos le16, byte u8: the device's state saved
 *              (device_save), those bytes of it overwritten (pos modulo its
 *              length), the model destroyed and created anew, and loaded
 *              from it (device_load) - as a replacement process does with
 *              what its dead predecessor committed. Untouched (n 0), the
 *              load must succeed; scribbled on, it may fail, and the device
 *              must then be reset and run on. A class that keeps no state
 *              (virtio-vsock) skips it.
 * (An op byte is taken modulo 16; 9 to 15 are 1 to 7.)
 * virtio-vsock with variant bit 0x80 starts with the driver running (Linux's
 * init on the check rings), so that its ops reach the packet header and the
 * credit accounting at once.
 * After the ops the device must be in a defined state: a class-specific
 * check that a well-formed use works after a reset (for virtio: NEEDS_RESET
 * agrees with dev->needs_reset, then a driver reset, Linux's init sequence
 * and one request on fresh rings must complete).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fakehost.h"
#include "harness.h"
#include "util.h"
#include "virtio_guest.h"
#include "virtio_pci.h"
#include "vsock_broker_abi.h"

#ifndef FUZZ_CLASS
#error "build with -DFUZZ_CLASS=\"<device class>\""
#endif

#define RAM_SIZE	0x10000ull
#define VSOCK_FUZZ_CID	3
#define DISK_SIZE	0x10000
#define MAX_OPS		4096

static struct fz_ram ram;
static const struct device_class *cls;
static const struct device_ops *ops;
static const struct virtio_pci_ident *ident;
static int null_fd = -1, disk_fd = -1;

struct spec_buf {
	struct fakespec fs;
	char params[4][32];
};

/* The spec the monitor would build (monitor/machine.c), with variants. */
static void build_spec(struct spec_buf *sb, uint8_t v)
{
	struct fakespec *fs = &sb->fs;
	unsigned np = 0;

	fakespec_init(fs, FUZZ_CLASS);
	if (ident) {
		for (unsigned r = 0; r < VIRTIO_PCI_NREGIONS; r++)
			fakespec_add_mmio(fs, 0xfe000000ull + r * VIRTIO_PCI_REGION_SIZE,
					  VIRTIO_PCI_REGION_SIZE);
		for (unsigned i = 0; i < ident->nvectors && i < DEVICE_MAX_IRQS; i++)
			fakespec_add_irq(fs, 24 + i);
		if ((v & 1) && fs->spec.nirqs < DEVICE_MAX_IRQS) {	/* INTx line last */
			snprintf(sb->params[np], 32, "intx=%u", fs->spec.nirqs);
			fakespec_add_param(fs, sb->params[np++]);
			fakespec_add_irq(fs, 11);
		}
		if (strcmp(FUZZ_CLASS, "virtio-blk") == 0) {
			snprintf(sb->params[np], 32, "readonly=%s", (v & 2) ? "on" : "off");
			fakespec_add_param(fs, sb->params[np++]);
			if (v & 4) {
				snprintf(sb->params[np], 32, "serial=fuzz-disk-%u", v >> 4);
				fakespec_add_param(fs, sb->params[np++]);
			}
		}
		if (strcmp(FUZZ_CLASS, "virtio-net") == 0 && (v & 2)) {
			snprintf(sb->params[np], 32, "mac=52:54:00:00:00:%02x", v);
			fakespec_add_param(fs, sb->params[np++]);
		}
		if (strcmp(FUZZ_CLASS, "virtio-net") == 0 && (v & 4)) {	/* two tap queues */
			snprintf(sb->params[np], 32, "queues=2");
			fakespec_add_param(fs, sb->params[np++]);
		}
		if (strcmp(FUZZ_CLASS, "virtio-vsock") == 0) {
			snprintf(sb->params[np], 32, "cid=%u", VSOCK_FUZZ_CID);
			fakespec_add_param(fs, sb->params[np++]);
		}
	} else if (strcmp(FUZZ_CLASS, "serial") == 0) {
		fakespec_add_pio(fs, 0x3f8, 8);
		fakespec_add_irq(fs, 4);
	} else if (strcmp(FUZZ_CLASS, "rtc") == 0) {
		fakespec_add_pio(fs, 0x70, 2);
		if (v & 1)
			fakespec_add_irq(fs, 8);
		if (v & 2) {
			fs->spec.mem_size = (uint64_t)v << 28;	/* up to ~64 GiB */
		}
	} else if (strcmp(FUZZ_CLASS, "i8042") == 0) {
		fakespec_add_pio(fs, 0x60, 1);
		fakespec_add_pio(fs, 0x64, 1);
		for (unsigned i = 0; i < v % 3; i++)
			fakespec_add_irq(fs, i ? 12 : 1);
	} else if (strcmp(FUZZ_CLASS, "acpi_pm") == 0) {
		fakespec_add_pio(fs, 0x600, 4);
		fakespec_add_pio(fs, 0x604, 2);
		if (v & 1)
			fakespec_add_irq(fs, 9);
		if (v & 2) {
			snprintf(sb->params[np], 32, "s5=%u", (v >> 2) & 7);
			fakespec_add_param(fs, sb->params[np++]);
		}
	}
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	cls = device_class_find(FUZZ_CLASS);
	if (!cls)
		fz_fail("no device class %s", FUZZ_CLASS);
	ops = cls->ops;
	ident = cls->virtio;
	fz_ram_init(&ram, RAM_SIZE);
	null_fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	disk_fd = memfd_create("fuzz-disk", MFD_CLOEXEC);
	signal(SIGPIPE, SIG_IGN);	/* as vmm-devproc: a host socket's end is an EPIPE */
	if (null_fd < 0 || disk_fd < 0)
		fz_fail("cannot open /dev/null or make a memfd");
	return 0;
}

/* --- the end-state checks --- */

static uint64_t rd(struct fz_host *h, unsigned region, uint64_t off, unsigned len)
{
	uint64_t v = ~0ull;

	FZ_CHECK(fz_trap(h, TRAP_PIO, (uint8_t)region, off, len, false, 0, &v) >= 0,
		 "check: read of region %u +%llu refused", region, (unsigned long long)off);
	return v;
}

static void wr(struct fz_host *h, unsigned region, uint64_t off, unsigned len, uint64_t v)
{
	(void)fz_trap(h, TRAP_PIO, (uint8_t)region, off, len, true, v, NULL);
}

static void check_legacy(struct fz_host *h)
{
	struct device *dev = &h->dp.dev;

	ops->reset(dev);
	if (strcmp(FUZZ_CLASS, "serial") == 0) {
		wr(h, 0, 7, 1, 0x5a);
		FZ_CHECK(rd(h, 0, 7, 1) == 0x5a, "serial: scratch register lost after reset");
		FZ_CHECK((rd(h, 0, 5, 1) & 0x60) == 0x60, "serial: THR not empty after reset");
		FZ_CHECK((rd(h, 0, 2, 1) & 0x0f) == 0x01, "serial: interrupt pending after reset");
		FZ_CHECK(h->irq_level[0] == 0, "serial: irq line high after reset");
	} else if (strcmp(FUZZ_CLASS, "rtc") == 0) {
		wr(h, 0, 0, 1, 0x40);
		wr(h, 0, 1, 1, 0xa5);
		FZ_CHECK(rd(h, 0, 1, 1) == 0xa5, "rtc: CMOS RAM byte lost");
		wr(h, 0, 0, 1, 0x0d);
		FZ_CHECK(rd(h, 0, 1, 1) == 0x80, "rtc: register D without VRT");
	} else if (strcmp(FUZZ_CLASS, "i8042") == 0) {
		wr(h, 1, 0, 1, 0xaa);
		FZ_CHECK(rd(h, 1, 0, 1) & 1, "i8042: self-test left no output");
		FZ_CHECK(rd(h, 0, 0, 1) == 0x55, "i8042: self-test did not answer 0x55");
	} else if (strcmp(FUZZ_CLASS, "acpi_pm") == 0) {
		FZ_CHECK(rd(h, 1, 0, 2) & 1, "acpi_pm: SCI_EN clear");
		wr(h, 0, 2, 2, 0x0100);
		FZ_CHECK(rd(h, 0, 2, 2) == 0x0100, "acpi_pm: PM1_EN lost");
		FZ_CHECK(h->nirqs == 0 || h->irq_level[0] == 0, "acpi_pm: SCI high with nothing set");
	}
}

#define CHK_RING	0x8000ull	/* fresh rings for the check: 0x8000.. */
#define CHK_BUF		0xc000ull
#define CHK_QSIZE	16
#define CHK_RING_STEP	0x400ull	/* one ring of CHK_QSIZE: 0x1b0 bytes; 9 fit below CHK_BUF */
_Static_assert(CHK_RING + DEVICE_MAX_QUEUES * CHK_RING_STEP <= CHK_BUF, "check rings overlap");

/* Linux's init sequence on fresh rings at CHK_RING: the driver runs. */
static void driver_init(struct device *dev, struct gvq *g)
{
	uint8_t status;

	FZ_CHECK(vdrv_negotiate(dev, 1ull << VIRTIO_F_VERSION_1) != 0, "FEATURES_OK refused");
	for (unsigned i = 0; i < ident->nqueues; i++) {
		gvq_init(&g[i], ram.base, CHK_RING + i * CHK_RING_STEP, CHK_QSIZE);
		FZ_CHECK(vdrv_setup_queue(dev, i, &g[i], 0) == 0, "queue %u: vector 0 refused", i);
	}
	status = vdrv_add_status(dev, VIRTIO_STATUS_DRIVER_OK);
	FZ_CHECK(status == 0x0f, "status 0x%02x after init", status);
}

/* A driver reset, Linux's init, and one request per class must work. */
static void check_virtio(struct fz_host *h)
{
	struct device *dev = &h->dp.dev;
	struct gvq g[DEVICE_MAX_QUEUES];
	uint8_t status = (uint8_t)vcfg_read(dev, VIRTIO_PCI_COMMON_STATUS, 1);
	uint32_t id, len;
	unsigned q = 0;
	uint16_t head;

	FZ_CHECK(!!(status & VIRTIO_STATUS_NEEDS_RESET) == dev->needs_reset,
		 "status 0x%02x but dev->needs_reset %d", status, dev->needs_reset);
	driver_init(dev, g);
	if (strcmp(FUZZ_CLASS, "virtio-blk") == 0) {
		struct gbuf b[3] = { { CHK_BUF, 16, false }, { CHK_BUF + 0x100, 512, true },
				     { CHK_BUF + 0x400, 1, true } };

		memset(ram.base + CHK_BUF, 0, 16);		/* T_IN, sector 0 */
		ram.base[CHK_BUF + 0x400] = 0xff;
		head = gvq_add(&g[0], b, 3);
	} else if (strcmp(FUZZ_CLASS, "virtio-rng") == 0) {
		struct gbuf b = { CHK_BUF, 16, true };

		head = gvq_add(&g[0], &b, 1);
	} else if (strcmp(FUZZ_CLASS, "virtio-net") == 0) {
		struct gbuf b[2] = { { CHK_BUF, 12, false }, { CHK_BUF + 0x100, 60, false } };

		memset(ram.base + CHK_BUF, 0, 12);	/* a plain vnet header, one frame */
		q = 1;
		head = gvq_add(&g[1], b, 2);
	} else if (strcmp(FUZZ_CLASS, "virtio-vsock") == 0) {
		struct gbuf b = { CHK_BUF, 44, false };	/* a CREDIT_REQUEST for no connection */

		memset(ram.base + CHK_BUF, 0, 44);
		ram.base[CHK_BUF] = VSOCK_FUZZ_CID;	/* src_cid */
		ram.base[CHK_BUF + 8] = 2;		/* dst_cid: the host */
		ram.base[CHK_BUF + 28] = 1;		/* type: stream */
		ram.base[CHK_BUF + 30] = 7;		/* op: CREDIT_REQUEST */
		q = 1;
		head = gvq_add(&g[1], &b, 1);
	} else {
		struct gbuf b = { CHK_BUF, 1, false };	/* transmitq: one byte */

		q = 1;
		head = gvq_add(&g[1], &b, 1);
	}
	fz_notify(h, q);
	fz_wake(h);
	FZ_CHECK(gvq_get_used(&g[q], &id, &len), "the check request got no answer");
	FZ_CHECK(id == head, "used id %u, posted %u", id, head);
	if (strcmp(FUZZ_CLASS, "virtio-blk") == 0)
		FZ_CHECK(len == 513 && ram.base[CHK_BUF + 0x400] == 0, "blk read: len %u status %u",
			 len, ram.base[CHK_BUF + 0x400]);
	else if (strcmp(FUZZ_CLASS, "virtio-rng") == 0)
		FZ_CHECK(len == 16, "rng: %u bytes, want 16", len);
	FZ_CHECK(!dev->needs_reset, "NEEDS_RESET after a well-formed request");
}

/* --- the ops --- */

struct run {
	struct fz_host h;
	int in_rd, in_wr;
	int tap1[2];		/* virtio-net's second tap queue (queues=2), or -1 */
	int host[4];		/* virtio-vsock: the host programs' ends of its streams, or -1 */
	unsigned nhost;
	struct gvq g[DEVICE_MAX_QUEUES];	/* the driver's rings when it was started (0x80) */
	bool driver;
	const struct device_spec *spec;	/* what the device was created from (restore) */
};

#define STATE_MAX 65536

/* Op 8: save, scribble, destroy, create, load (see the top). */
static void restore_op(struct run *r, struct fz_in *in)
{
	static uint8_t state[STATE_MAX];
	struct device *dev = &r->h.dp.dev;
	unsigned n = fz_u8(in);
	int len = device_save(dev, state, sizeof(state)), err;

	for (unsigned i = 0; i < n; i++) {
		uint64_t pos = fz_le(in, 2);
		uint8_t b = fz_u8(in);

		if (len > 0)
			state[pos % (unsigned)len] = b;
	}
	if (len == -EOPNOTSUPP)
		return;
	if (len < 0)
		fz_fail("device_save: %s", strerror(-len));
	ops->destroy(dev);
	/*
	 * A fixed device's lines are irqfd pulses (devproc/host.c): nothing of
	 * them outlives its process, so the new model starts with them low.
	 * A virtio function's INTx is held by KVM: its level stays.
	 */
	for (unsigned l = 0; !ident && l < DEVICE_MAX_IRQS; l++)
		r->h.irq_level[l] = 0;
	if (device_create(dev, cls, r->spec) != 0)
		fz_fail("create refused the spec it took before");
	err = device_load(dev, state, (size_t)len);
	if (err && n == 0)
		fz_fail("the device's own saved state did not load: %d", err);
	if (err && err != -EINVAL)
		fz_fail("device_load: %d", err);
	if (err && ident && !(rd(&r->h, VIRTIO_PCI_REGION_COMMON, VIRTIO_PCI_COMMON_STATUS, 1) &
			      VIRTIO_STATUS_NEEDS_RESET))
		fz_fail("a virtio device whose state failed validation is not in NEEDS_RESET");
	for (unsigned q = 0; !err && ident && q < ident->nqueues; q++)
		fz_notify(&r->h, q);	/* the host's first notify of a resumed device */
}

#define VSOCK_TX_BUF	0xd000ull	/* a guest packet, up to 0x800 bytes */
#define VSOCK_RX_BUF	0xe000ull	/* receive buffers: 8 of 0x200 */

/* A stream pair: the device's end is returned, the host program's kept (the oldest goes). */
static int vsock_stream(struct run *r)
{
	int sp[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sp) < 0)
		fz_fail("socketpair: %s", strerror(errno));
	if (r->host[r->nhost % 4] >= 0)
		close(r->host[r->nhost % 4]);
	r->host[r->nhost++ % 4] = sp[1];
	return sp[0];
}

/*
 * virtio-vsock's op 3: index 0 a broker message (the first 16 bytes; an
 * ACCEPTED or a CONNECTED with err 0 comes with a fresh stream socket),
 * 1 the bytes from a host program (its newest stream), 2 one guest packet
 * on the transmit queue, 3 one receive buffer of n * 8 bytes; then the
 * device's turn as the host gives it (backend for the broker, wake for
 * the streams).
 */
static void vsock_op(struct run *r, unsigned index, const uint8_t *buf, unsigned n)
{
	struct device *dev = &r->h.dp.dev;
	struct vsock_broker_msg m;
	int fd = -1;

	if (index == 0 && n >= sizeof(m)) {
		memcpy(&m, buf, sizeof(m));
		if ((m.op == VSOCK_BROKER_CONNECTED && m.err == 0) || m.op == VSOCK_BROKER_ACCEPTED)
			fd = vsock_stream(r);
		if (r->in_wr >= 0 && sock_send_fd(r->in_wr, buf, n > 32 ? 32 : n, fd, MSG_DONTWAIT) < 0 &&
		    errno != EAGAIN)
			fz_fail("broker channel: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		fz_backend(&r->h, 0);
	} else if (index == 0 && n && r->in_wr >= 0) {
		if (send(r->in_wr, buf, n, MSG_DONTWAIT) < 0 && errno != EAGAIN)
			fz_fail("broker channel: %s", strerror(errno));
		fz_backend(&r->h, 0);
	} else if (index == 1 && r->nhost) {
		if (write(r->host[(r->nhost - 1) % 4], buf, n) < 0 && errno != EAGAIN && errno != EPIPE)
			fz_fail("host stream: %s", strerror(errno));
	} else if (index == 2 && r->driver) {
		struct gbuf b[2] = { { VSOCK_TX_BUF, n < 44 ? n : 44, false },
				     { VSOCK_TX_BUF + 0x100, n > 44 ? n - 44 : 0, false } };

		memcpy(ram.base + VSOCK_TX_BUF, buf, b[0].len);
		memcpy(ram.base + VSOCK_TX_BUF + 0x100, buf + b[0].len, b[1].len);
		if (b[0].len)
			gvq_add(&r->g[1], b, b[1].len ? 2 : 1);
		fz_notify(&r->h, 1);
	} else if (index == 3 && r->driver) {
		static unsigned slot;
		struct gbuf b = { VSOCK_RX_BUF + 0x200ull * (slot++ % 8), n * 8 > 0x200 ? 0x200 : n * 8,
				  true };

		if (b.len)
			gvq_add(&r->g[0], &b, 1);
		fz_notify(&r->h, 0);
	}
	fz_wake(&r->h);
	(void)dev;
}

static unsigned op_len(uint8_t lenc)
{
	return 1u << (lenc & 3);
}

static void run_op(struct run *r, struct fz_in *in)
{
	struct fz_host *h = &r->h;
	uint8_t op = fz_u8(in) & 15, region, buf[256];
	uint64_t off, gpa;
	unsigned len, n;

	if (op > 8)
		op &= 7;
	switch (op) {
	case 0:
	case 1:
		region = fz_u8(in);
		off = fz_le(in, 2);
		len = op_len(fz_u8(in));
		(void)fz_trap(h, ident ? TRAP_MMIO : TRAP_PIO, region, off, len, op == 1,
			      op == 1 ? fz_le(in, len) : 0, NULL);
		break;
	case 2:
		n = fz_u8(in);
		fz_notify(h, ident ? n % ident->nqueues : n % 4);
		break;
	case 3:
		region = fz_u8(in) & 3;
		n = (unsigned)fz_bytes(in, buf, fz_u8(in));
		if (strcmp(FUZZ_CLASS, "virtio-vsock") == 0) {
			vsock_op(r, region, buf, n);
			break;
		}
		if (n && r->in_wr >= 0 && write(r->in_wr, buf, n) < 0 && errno != EAGAIN)
			fz_fail("input pipe: %s", strerror(errno));
		fz_backend(h, region);
		break;
	case 4:
		gpa = fz_le(in, 2);
		n = (unsigned)fz_bytes(in, buf, fz_u8(in));
		for (unsigned i = 0; i < n; i++)
			ram.base[(gpa + i) % RAM_SIZE] = buf[i];
		break;
	case 5:
		ops->reset(&h->dp.dev);
		break;
	case 6:
		if (r->in_wr >= 0)
			close(r->in_wr);
		r->in_wr = -1;
		break;
	case 7:
		fz_wake(h);
		break;
	case 8:
		restore_op(r, in);
		break;
	}
}

/* Backend fds by class: input pipe, output /dev/null, the disk memfd, a tap's socketpair. */
static void give_fds(struct run *r, uint8_t v)
{
	struct device *dev = &r->h.dp.dev;
	int p[2];

	r->in_rd = r->in_wr = r->tap1[0] = r->tap1[1] = -1;
	r->host[0] = r->host[1] = r->host[2] = r->host[3] = -1;
	r->nhost = 0;
	r->driver = false;
	if (strcmp(FUZZ_CLASS, "virtio-blk") == 0) {
		if (ftruncate(disk_fd, 0) < 0 || ftruncate(disk_fd, DISK_SIZE) < 0)
			fz_fail("disk memfd: %s", strerror(errno));
		dev->fds[0] = disk_fd;
		dev->nfds = 1;
		return;
	}
	if (strcmp(FUZZ_CLASS, "virtio-vsock") == 0) {	/* the broker channel */
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, p) < 0)
			fz_fail("socketpair: %s", strerror(errno));
		dev->fds[0] = r->in_rd = p[0];
		r->in_wr = p[1];
		dev->nfds = 1;
		return;
	}
	if (strcmp(FUZZ_CLASS, "virtio-net") == 0) {	/* the tap: one message, one frame */
		if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, p) < 0)
			fz_fail("socketpair: %s", strerror(errno));
		r->in_rd = dev->fds[0] = p[0];
		r->in_wr = p[1];
		dev->nfds = 1;
		if ((v & 4) && socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0,
					  r->tap1) == 0) {
			dev->fds[1] = r->tap1[0];
			dev->nfds = 2;
		}
		return;
	}
	if (strcmp(FUZZ_CLASS, "serial") && strcmp(FUZZ_CLASS, "virtio-console"))
		return;
	if (pipe2(p, O_NONBLOCK | O_CLOEXEC) < 0)
		fz_fail("pipe2: %s", strerror(errno));
	r->in_rd = p[0];
	r->in_wr = p[1];
	dev->fds[0] = p[0];
	dev->fds[1] = (v & 8) ? -1 : null_fd;	/* sometimes no output at all */
	dev->nfds = 2;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = { data, size };
	static struct run r;
	struct spec_buf sb;
	struct device *dev = &r.h.dp.dev;
	uint8_t v = fz_u8(&in);

	build_spec(&sb, v);
	r.spec = &sb.fs.spec;
	fz_host_init(&r.h, &ram, sb.fs.spec.nirqs);
	snprintf(dev->id, sizeof(dev->id), "%s0", FUZZ_CLASS);
	give_fds(&r, v);
	if (device_create(dev, cls, &sb.fs.spec) != 0)
		fz_fail("create refused the monitor's spec (variant 0x%02x)", v);
	if (strcmp(FUZZ_CLASS, "virtio-vsock") == 0 && (v & 0x80)) {
		driver_init(dev, r.g);
		r.driver = true;
	}
	for (unsigned i = 0; i < MAX_OPS && fz_more(&in); i++)
		run_op(&r, &in);
	if (ident)
		check_virtio(&r.h);
	else
		check_legacy(&r.h);
	ops->destroy(dev);
	if (r.in_rd >= 0)
		close(r.in_rd);
	if (r.in_wr >= 0)
		close(r.in_wr);
	for (int i = 0; i < 2; i++)
		if (r.tap1[i] >= 0)
			close(r.tap1[i]);
	for (int i = 0; i < 4; i++)
		if (r.host[i] >= 0)
			close(r.host[i]);
	return 0;
}
