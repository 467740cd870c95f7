/*
 * virtio-blk over a temp file, initialised and driven the way Linux's
 * virtio_pci_modern + virtio_blk drivers do it.
 */
#include <endian.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"
#include "fakehost.h"
#include "virtio_guest.h"
#include "virtio_pci.h"

extern const struct device_class virtio_blk_class;

#define MEM_SIZE	(1u << 20)
#define DISK_SIZE	(1u << 20)	/* 2048 sectors */
#define BAR0		0xfe000000ull
#define RING		0x1000ull
#define HDR		0x8000ull
#define STATUS		0x8100ull
#define TABLE		0x8200ull
#define DATA		0x10000ull

enum { T_IN = 0, T_OUT = 1, T_FLUSH = 4, T_GET_ID = 8, T_DISCARD = 11, T_WZ = 13 };
enum { S_OK, S_IOERR, S_UNSUPP };

#define F_SEG_MAX	(1ull << 2)
#define F_RO		(1ull << 5)
#define F_BLK_SIZE	(1ull << 6)
#define F_FLUSH		(1ull << 9)
#define F_DISCARD	(1ull << 13)
#define F_WZ		(1ull << 14)
#define F_RING		(1ull << VIRTIO_F_EVENT_IDX | 1ull << VIRTIO_F_INDIRECT_DESC)
#define F_V1		(1ull << VIRTIO_F_VERSION_1)

static uint8_t *mem;
static uint64_t mem_size = MEM_SIZE;
static struct fakehost fh;
static struct device dev;
static struct gvq rq;
static int disk;
static uint32_t last_used_len;

static int blk_new(int fd, const char *p1, const char *p2)
{
	static char params[3][64];
	struct fakespec fs;

	fakehost_init(&fh);
	fakehost_set_mem(&fh, mem, mem_size);
	fakespec_init(&fs, "virtio-blk");
	for (int i = 0; i < 4; i++)
		fakespec_add_mmio(&fs, BAR0 + 0x1000u * i, 0x1000);
	fakespec_add_irq(&fs, 40);	/* vector 0 */
	fakespec_add_irq(&fs, 41);	/* vector 1 */
	fakespec_add_irq(&fs, 11);	/* INTx */
	snprintf(params[0], sizeof(params[0]), "intx=2");
	fakespec_add_param(&fs, params[0]);
	if (p1) {
		snprintf(params[1], sizeof(params[1]), "%s", p1);
		fakespec_add_param(&fs, params[1]);
	}
	if (p2) {
		snprintf(params[2], sizeof(params[2]), "%s", p2);
		fakespec_add_param(&fs, params[2]);
	}
	return fakehost_create(&fh, &dev, &virtio_blk_class, &fs.spec, fd, -1);
}

/* Linux's probe: features, config vector 0, queue 0 on vector 1, DRIVER_OK. */
static uint64_t blk_init(uint16_t qvec)
{
	uint64_t f = vdrv_negotiate(&dev, ~0ull & ~(1ull << VIRTIO_F_ACCESS_PLATFORM));

	memset(mem, 0, MEM_SIZE);
	gvq_init(&rq, mem, RING, 128);
	vcfg_write(&dev, VIRTIO_PCI_COMMON_MSIX, 2, qvec == VIRTIO_MSI_NO_VECTOR ? qvec : 0);
	vdrv_setup_queue(&dev, 0, &rq, qvec);
	vdrv_add_status(&dev, VIRTIO_STATUS_DRIVER_OK);
	return f;
}

static uint64_t cfg_read(unsigned off, unsigned len)
{
	return dev_in(&dev, VIRTIO_PCI_REGION_DEVICE, off, len);
}

/* Post one request: header, optional data, status; notify; return status. */
static uint8_t blk_req(uint32_t type, uint64_t sector, uint32_t len, bool data_in)
{
	struct gbuf b[3];
	unsigned n = 0;
	uint32_t hdr[4] = { htole32(type), 0, htole32((uint32_t)sector), htole32(sector >> 32) };
	uint32_t id;

	memcpy(mem + HDR, hdr, sizeof(hdr));
	mem[STATUS] = 0xee;
	b[n++] = (struct gbuf){ HDR, 16, false };
	if (len)
		b[n++] = (struct gbuf){ DATA, len, data_in };
	b[n++] = (struct gbuf){ STATUS, 1, true };
	gvq_add(&rq, b, n);
	dev.ops->notify(&dev, 0);
	while (!gvq_get_used(&rq, &id, &last_used_len))
		if (!fakehost_wake(&dev, 300))
			return 0xdd;	/* not answered */
	return mem[STATUS];
}

/* Notify, and let the device answer what it finished (its wake fd). */
static void blk_kick(void)
{
	dev.ops->notify(&dev, 0);
	fakehost_wake(&dev, 0);
}

static void fill(uint8_t seed, uint32_t len)
{
	for (uint32_t i = 0; i < len; i++)
		mem[DATA + i] = (uint8_t)(seed + i * 7);
}

static bool check_fill(uint8_t seed, uint32_t len)
{
	for (uint32_t i = 0; i < len; i++)
		if (mem[DATA + i] != (uint8_t)(seed + i * 7))
			return false;
	return true;
}

static bool all_zero(const uint8_t *p, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (p[i])
			return false;
	return true;
}

static void test_bad_specs(void)
{
	struct fakespec fs;

	CHECK(blk_new(-1, NULL, NULL) == -EBADF, "no disk fd: -EBADF");
	CHECK(fakehost_logged(&fh, "disk image"), "and says why");
	CHECK(blk_new(disk, "readonly=yes", NULL) == -EINVAL, "readonly=yes refused");
	CHECK(blk_new(disk, "aio=io_uring", NULL) == -EINVAL && fakehost_logged(&fh, "want threads or native"),
	      "aio=io_uring refused, saying what is offered");
	CHECK(blk_new(disk, "serial=123456789012345678901", NULL) == -EINVAL,
	      "21-byte serial refused");
	fakespec_init(&fs, "virtio-blk");
	fakespec_add_mmio(&fs, BAR0, 0x4000);
	CHECK(fakehost_create(&fh, &dev, &virtio_blk_class, &fs.spec, disk, -1) == -EINVAL,
	      "one 16 KiB region instead of four: -EINVAL");
	CHECK(dev.priv == NULL, "failed create leaves nothing");
}

static void test_init_and_config(void)
{
	uint64_t f;

	CHECK(blk_new(disk, "serial=vmm-disk-0", NULL) == 0, "create on a 1 MiB image");
	CHECK_EQ(vcfg_read(&dev, VIRTIO_PCI_COMMON_NUMQ, 2), 1, "num_queues");
	f = blk_init(1);
	CHECK((f & (F_V1 | F_RING | F_FLUSH | F_BLK_SIZE | F_SEG_MAX | F_DISCARD | F_WZ)) ==
	      (F_V1 | F_RING | F_FLUSH | F_BLK_SIZE | F_SEG_MAX | F_DISCARD | F_WZ),
	      "features: VERSION_1, EVENT_IDX, INDIRECT, FLUSH, BLK_SIZE, SEG_MAX, DISCARD, WRITE_ZEROES");
	CHECK(!(f & F_RO) && !(f & 1ull << VIRTIO_F_ACCESS_PLATFORM), "not RO, no ACCESS_PLATFORM");
	CHECK_EQ(vcfg_read(&dev, VIRTIO_PCI_COMMON_STATUS, 1), 0x0f, "status: ACK|DRIVER|FEATURES_OK|DRIVER_OK");
	CHECK_EQ(cfg_read(0, 4) | cfg_read(4, 4) << 32, DISK_SIZE / 512, "capacity in sectors");
	CHECK_EQ(cfg_read(0x14, 4), 512, "blk_size");
	CHECK_EQ(cfg_read(0x0c, 4), 254, "seg_max");
	CHECK_EQ(cfg_read(0x22, 2), 1, "config num_queues");
	CHECK_EQ(cfg_read(0x28, 4), 1, "max_discard_seg");
	CHECK_EQ(cfg_read(0x38, 1), 1, "write_zeroes_may_unmap");
	CHECK_EQ(cfg_read(0x100, 4), 0, "past the config: zeros");
}

static void test_rw_flush(void)
{
	uint8_t file[2048];
	unsigned raises = fh.irq_raises[1];

	fill(1, 2048);
	CHECK_EQ(blk_req(T_OUT, 8, 2048, false), S_OK, "OUT 4 sectors at 8");
	CHECK_EQ(last_used_len, 1, "OUT: used len is the status byte");
	CHECK_EQ(fh.irq_raises[1], raises + 1, "queue vector 1 raised");
	CHECK_EQ(fh.irq[2], 0, "no INTx with a vector set");
	CHECK_EQ(blk_req(T_FLUSH, 0, 0, false), S_OK, "FLUSH");
	CHECK(pread(disk, file, sizeof(file), 8 * 512) == 2048 && memcmp(file, mem + DATA, 2048) == 0,
	      "the pattern is in the image at byte 4096");
	memset(mem + DATA, 0, 2048);
	CHECK_EQ(blk_req(T_IN, 8, 2048, true), S_OK, "IN 4 sectors at 8");
	CHECK(check_fill(1, 2048), "read back the pattern");
	CHECK_EQ(last_used_len, 2049, "IN: used len is data + status");
	CHECK_EQ(blk_req(T_IN, DISK_SIZE / 512 - 1, 1024, true), S_IOERR,
		 "IN crossing the end of the disk: IOERR");
	CHECK_EQ(blk_req(T_OUT, ~0ull, 512, false), S_IOERR, "sector 2^64-1: IOERR");
	CHECK_EQ(blk_req(T_IN, DISK_SIZE / 512 - 1, 512, true), S_OK, "the last sector reads");
	CHECK_EQ(blk_req(T_IN, 0, 100, true), S_IOERR, "100 bytes (not whole sectors): IOERR");
	CHECK_EQ(blk_req(99, 0, 512, true), S_UNSUPP, "unknown type 99: UNSUPP");
}

static void test_get_id(void)
{
	memset(mem + DATA, 0xff, 32);
	CHECK_EQ(blk_req(T_GET_ID, 0, 20, true), S_OK, "GET_ID");
	CHECK(memcmp(mem + DATA, "vmm-disk-0", 10) == 0 && all_zero(mem + DATA + 10, 10),
	      "serial, zero padded to 20 bytes");
	CHECK_EQ(last_used_len, 21, "GET_ID used len 20 + 1");
}

static void put_seg(uint64_t sector, uint32_t n, uint32_t flags)
{
	uint32_t seg[4] = { htole32((uint32_t)sector), htole32(sector >> 32), htole32(n), htole32(flags) };

	memcpy(mem + DATA, seg, sizeof(seg));
}

static void test_discard_zeroes(void)
{
	uint8_t file[4096];

	fill(3, 4096);
	CHECK_EQ(blk_req(T_OUT, 16, 4096, false), S_OK, "OUT 8 sectors at 16");
	put_seg(16, 2, 0);
	CHECK_EQ(blk_req(T_DISCARD, 0, 16, false), S_OK, "DISCARD sectors 16-17");
	put_seg(18, 2, 0);
	CHECK_EQ(blk_req(T_WZ, 0, 16, false), S_OK, "WRITE_ZEROES sectors 18-19");
	put_seg(20, 2, 1);
	CHECK_EQ(blk_req(T_WZ, 0, 16, false), S_OK, "WRITE_ZEROES with unmap, 20-21");
	CHECK(pread(disk, file, sizeof(file), 16 * 512) == 4096, "read the image");
	CHECK(all_zero(file, 3072), "sectors 16-21 read as zeros");
	CHECK(file[3072] == (uint8_t)(3 + 3072 * 7) && file[4095] == (uint8_t)(3 + 4095 * 7),
	      "sectors 22-23 untouched");
	put_seg(16, 2, 1);
	CHECK_EQ(blk_req(T_DISCARD, 0, 16, false), S_UNSUPP, "DISCARD with the unmap flag: UNSUPP");
	put_seg(16, 2, 0);
	CHECK_EQ(blk_req(T_DISCARD, 0, 32, false), S_UNSUPP, "two segments (max 1): UNSUPP");
	CHECK_EQ(blk_req(T_DISCARD, 0, 8, false), S_IOERR, "half a segment: IOERR");
	put_seg(DISK_SIZE / 512, 1, 0);
	CHECK_EQ(blk_req(T_WZ, 0, 16, false), S_IOERR, "WRITE_ZEROES past the end: IOERR");
}

static void test_batch_and_indirect(void)
{
	struct gbuf b[3] = { { HDR, 16, false }, { DATA, 512, true }, { STATUS, 1, true } };
	uint32_t hdr[4] = { T_IN, 0, 8, 0 };
	unsigned raises = fh.irq_raises[1];
	uint32_t id, len;
	int n = 0;

	memcpy(mem + HDR, hdr, sizeof(hdr));
	for (int i = 0; i < 8; i++)
		gvq_add(&rq, b, 3);
	blk_kick();
	while (gvq_get_used(&rq, &id, &len))
		n++;
	CHECK_EQ(n, 8, "eight requests served by one notify");
	CHECK_EQ(fh.irq_raises[1], raises + 1, "and one interrupt for the batch");
	memset(mem + DATA, 0, 512);
	mem[STATUS] = 0xee;
	gvq_add_indirect(&rq, TABLE, b, 3);
	blk_kick();
	CHECK(gvq_get_used(&rq, &id, &len) && mem[STATUS] == S_OK && check_fill(1, 512),
	      "request through an indirect table");
	/* Header split over two descriptors (any layout). */
	memmove(mem + HDR + 0x40, mem + HDR + 4, 12);
	{
		struct gbuf s[4] = { { HDR, 4, false }, { HDR + 0x40, 12, false },
				     { DATA, 512, true }, { STATUS, 1, true } };

		memset(mem + DATA, 0, 512);
		gvq_add(&rq, s, 4);
	}
	blk_kick();
	CHECK(gvq_get_used(&rq, &id, &len) && mem[STATUS] == S_OK && check_fill(1, 512),
	      "header split across two descriptors");
}

static void test_bad_requests(void)
{
	struct gbuf shorthdr[2] = { { HDR, 8, false }, { STATUS, 1, true } };
	struct gbuf nostatus[2] = { { HDR, 16, false }, { DATA, 512, false } };
	unsigned cfg_raises = fh.irq_raises[0];
	uint32_t id, len;

	mem[STATUS] = 0xee;
	gvq_add(&rq, shorthdr, 2);
	blk_kick();
	CHECK(gvq_get_used(&rq, &id, &len) && mem[STATUS] == S_IOERR,
	      "8-byte header: answered IOERR");
	CHECK(!(vcfg_read(&dev, VIRTIO_PCI_COMMON_STATUS, 1) & VIRTIO_STATUS_NEEDS_RESET),
	      "and the device keeps going");
	gvq_add(&rq, nostatus, 2);
	blk_kick();
	CHECK(!gvq_get_used(&rq, &id, &len), "no writable status byte: not answered");
	CHECK(vcfg_read(&dev, VIRTIO_PCI_COMMON_STATUS, 1) & VIRTIO_STATUS_NEEDS_RESET,
	      "NEEDS_RESET set");
	CHECK_EQ(fakehost_count_events(&fh, DEV_EVENT_NEEDS_RESET), 1, "event posted once");
	CHECK(fakehost_logged(&fh, "writable status"), "logged why");
	CHECK_EQ(fh.irq_raises[0], cfg_raises + 1, "config vector 0 raised");
	CHECK_EQ(blk_req(T_IN, 0, 512, true), 0xdd, "stopped: later requests are not served");
	CHECK_EQ(fakehost_count_events(&fh, DEV_EVENT_NEEDS_RESET), 1, "still one event");

	blk_init(1);
	CHECK_EQ(vcfg_read(&dev, VIRTIO_PCI_COMMON_STATUS, 1), 0x0f, "reset and re-initialised");
	CHECK_EQ(blk_req(T_IN, 8, 512, true), S_OK, "works again after the reset");
	gvq_set_desc(&rq, rq.next_desc, MEM_SIZE - 8, 512, 0, 0);
	gvq_publish(&rq, rq.next_desc);
	blk_kick();
	CHECK(vcfg_read(&dev, VIRTIO_PCI_COMMON_STATUS, 1) & VIRTIO_STATUS_NEEDS_RESET,
	      "descriptor past the end of RAM: NEEDS_RESET");
	CHECK(fakehost_logged(&fh, "outside guest RAM"), "logged the ring's reason");
}

static void test_intx(void)
{
	blk_init(VIRTIO_MSI_NO_VECTOR);
	CHECK_EQ(vcfg_read(&dev, VIRTIO_PCI_COMMON_MSIX, 2), VIRTIO_MSI_NO_VECTOR, "no config vector");
	CHECK_EQ(blk_req(T_IN, 8, 512, true), S_OK, "IN on INTx");
	CHECK_EQ(fh.irq[2], 1, "INTx asserted");
	CHECK_EQ(dev_in(&dev, VIRTIO_PCI_REGION_ISR, 0, 1), 1, "ISR: queue bit");
	CHECK_EQ(fh.irq[2], 0, "reading ISR deasserts");
	CHECK_EQ(dev_in(&dev, VIRTIO_PCI_REGION_ISR, 0, 1), 0, "and clears it");
}

static void test_readonly(void)
{
	uint64_t f;

	dev.ops->destroy(&dev);
	CHECK(blk_new(disk, "readonly=on", NULL) == 0, "create read-only");
	f = blk_init(1);
	CHECK((f & F_RO) && !(f & (F_DISCARD | F_WZ)), "RO offered, DISCARD/WRITE_ZEROES not");
	CHECK_EQ(blk_req(T_IN, 8, 512, true), S_OK, "IN works");
	CHECK(check_fill(1, 512), "and reads the data");
	CHECK_EQ(blk_req(T_OUT, 8, 512, false), S_IOERR, "OUT on a read-only disk: IOERR");
	put_seg(8, 1, 0);
	CHECK_EQ(blk_req(T_DISCARD, 0, 16, false), S_IOERR, "DISCARD: IOERR");
	CHECK_EQ(blk_req(T_WZ, 0, 16, false), S_IOERR, "WRITE_ZEROES: IOERR");
	CHECK_EQ(blk_req(T_FLUSH, 0, 0, false), S_OK, "FLUSH is fine");
	CHECK_EQ(blk_req(T_GET_ID, 0, 20, true), S_OK, "GET_ID without serial");
	CHECK(all_zero(mem + DATA, 20), "empty serial");
	dev.ops->destroy(&dev);
	CHECK(fakehost_logged(&fh, "answered with an error"), "error count reported at destroy");
	CHECK(dev.priv == NULL, "destroy frees");
}

#define NFLIGHT	32
#define FL_HDR		0x20000ull
#define FL_STATUS	0x21000ull
#define FL_DATA		0x30000ull
#define STATE_BYTES	65536

/* Make NFLIGHT 4 KiB requests of type t (sector 8 * i) available, no notify. */
static void blk_post_flight(uint32_t t)
{
	for (unsigned i = 0; i < NFLIGHT; i++) {
		uint32_t hdr[4] = { htole32(t), 0, htole32(8 * i), 0 };
		struct gbuf b[3] = { { FL_HDR + 16 * i, 16, false },
				     { FL_DATA + 4096 * i, 4096, t == T_IN },
				     { FL_STATUS + i, 1, true } };

		memcpy(mem + FL_HDR + 16 * i, hdr, sizeof(hdr));
		mem[FL_STATUS + i] = 0xee;
		gvq_add(&rq, b, 3);
	}
}

/* A started device with aio, its queue set up, FL_DATA filled from mul. */
static void blk_ready(const char *aio, unsigned mul)
{
	CHECK(blk_new(disk, aio, NULL) == 0, "create with %s", aio);
	CHECK(dev.ops->start(&dev) == 0, "start");
	blk_init(1);
	for (unsigned i = 0; i < NFLIGHT * 4096; i++)
		mem[FL_DATA + i] = (uint8_t)(i * mul + i / 4096);
}

/* Post NFLIGHT 4 KiB requests of type t (sector 8 * i) at once; answers. */
static unsigned blk_flight(uint32_t t)
{
	unsigned answered = 0;
	uint32_t id, len;

	blk_post_flight(t);
	dev.ops->notify(&dev, 0);
	while (answered < NFLIGHT) {
		while (gvq_get_used(&rq, &id, &len))
			answered++;
		if (answered < NFLIGHT && !fakehost_wake(&dev, 2000))
			break;
	}
	return answered;
}

/* In flight at once: with I/O threads (started as vmm-devproc does), or aio=native. */
static void test_parallel(const char *aio)
{
	uint8_t back[4096];
	bool same = true, ok = true;
	uint16_t used;

	blk_ready(aio, 13);
	CHECK_EQ(blk_flight(T_OUT), NFLIGHT, "32 writes in flight: all answered");
	for (unsigned i = 0; i < NFLIGHT; i++) {
		ok &= mem[FL_STATUS + i] == S_OK;
		same &= pread(disk, back, 4096, 4096 * i) == 4096 &&
			memcmp(back, mem + FL_DATA + 4096 * i, 4096) == 0;
	}
	CHECK(ok && same, "each OK, and each block on the disk");
	memset(mem + FL_DATA, 0, NFLIGHT * 4096);
	CHECK_EQ(blk_flight(T_IN), NFLIGHT, "32 reads in flight: all answered");
	for (unsigned i = 0; i < NFLIGHT; i++)
		same &= pread(disk, back, 4096, 4096 * i) == 4096 &&
			memcmp(back, mem + FL_DATA + 4096 * i, 4096) == 0;
	CHECK(same, "and read back what is on the disk");
	/* A reset with requests in flight waits for them, then drops their answers. */
	blk_post_flight(T_IN);
	dev.ops->notify(&dev, 0);
	/* Some may be answered already (those done by the end of the notify). */
	used = gvq_used_idx(&rq);
	vcfg_write(&dev, VIRTIO_PCI_COMMON_STATUS, 1, 0);
	CHECK_EQ(vcfg_read(&dev, VIRTIO_PCI_COMMON_STATUS, 1), 0, "reset with up to 32 in flight");
	while (fakehost_wake(&dev, 100))
		;
	CHECK_EQ(gvq_used_idx(&rq), used, "no answer after the reset");
	blk_init(1);
	CHECK_EQ(blk_req(T_IN, 8, 512, true), S_OK, "the device works after it");
	CHECK_EQ(blk_flight(T_IN), NFLIGHT, "and takes 32 in flight again");
	dev.ops->destroy(&dev);
	CHECK(dev.priv == NULL, "destroy waits for the requests");
}

/*
 * A READ whose buffers add up to 4 GiB or more cannot be answered in
 * used.len (32 bits, status byte included): it fails, rather than reporting
 * a length cut to 32 bits. Three 1.5 GiB buffers over the same guest RAM,
 * an 8 GiB sparse image; nothing is read.
 */
static void test_read_over_4g(void)
{
	const uint64_t ram = 3ull << 30, part = 3ull << 29;
	char path[] = "/tmp/test_virtio_blk-XXXXXX";
	uint8_t *small = mem, *big;
	uint32_t hdr[4] = { htole32(T_IN), 0, 0, 0 }, id, len = 0;
	int fd = mkstemp(path);

	big = mmap(NULL, ram, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
		   -1, 0);
	CHECK(fd >= 0 && big != MAP_FAILED && ftruncate(fd, 8ull << 30) == 0,
	      "a 3 GiB mapping and an 8 GiB sparse image");
	if (fd < 0 || big == MAP_FAILED) {
		if (fd >= 0)
			close(fd);
		return;
	}
	unlink(path);
	mem = big;
	mem_size = ram;
	CHECK_EQ(blk_new(fd, NULL, NULL), 0, "create over the big image");
	blk_init(1);
	memcpy(mem + HDR, hdr, sizeof(hdr));
	mem[STATUS] = 0xee;
	gvq_add(&rq, (struct gbuf[]){ { HDR, 16, false }, { DATA, (uint32_t)part, true },
				     { DATA, (uint32_t)part, true }, { DATA, (uint32_t)part, true },
				     { STATUS, 1, true } }, 5);
	dev.ops->notify(&dev, 0);
	while (!gvq_get_used(&rq, &id, &len))
		if (!fakehost_wake(&dev, 300))
			break;
	CHECK_EQ(mem[STATUS], S_IOERR, "a 4.5 GiB READ fails");
	CHECK_EQ(len, 1, "used.len: the status byte only");
	dev.ops->destroy(&dev);
	munmap(big, ram);
	close(fd);
	mem = small;
	mem_size = MEM_SIZE;
}

/*
 * A device process killed with requests in flight, as a replacement sees
 * it: the state saved while 32 writes were taken and unanswered, the model
 * destroyed without answering them, the disk's copy of them lost; a new
 * model loaded from the save writes each once more and answers each once.
 * Then hostile saves: the new model resets and asks for a reset.
 */
static void test_resume(const char *aio)
{
	static uint8_t saved[STATE_BYTES];
	uint8_t back[4096], zero[4096] = { 0 }, seen[128] = { 0 };
	unsigned answered = 0, ok = 0, twice = 0, before;
	uint16_t used0, le;
	bool same = true;
	uint32_t id, len;
	int n;

	blk_ready(aio, 29);
	blk_post_flight(T_OUT);
	dev.ops->notify(&dev, 0);	/* taken; most answers wait for the wake */
	n = device_save(&dev, saved, sizeof(saved));
	used0 = gvq_used_idx(&rq);
	CHECK(n > 0, "saved with %u of %u requests answered (%d bytes)", used0, NFLIGHT, n);
	/*
	 * Killed: destroy waits for the requests and answers them, which a
	 * killed process never does - so what it answered after the save, and
	 * the disk's copy of the writes, are taken back.
	 */
	dev.ops->destroy(&dev);
	le = htole16(used0);
	memcpy(mem + rq.used + 2, &le, sizeof(le));
	for (unsigned i = 0; i < NFLIGHT; i++) {
		if (pwrite(disk, zero, sizeof(zero), 4096 * i) != (ssize_t)sizeof(zero))
			same = false;
		mem[FL_STATUS + i] = 0xee;
	}
	CHECK(same, "the disk lost the writes");

	CHECK(blk_new(disk, aio, NULL) == 0, "a new model");
	CHECK_EQ(device_load(&dev, saved, (size_t)n), 0, "loaded from the save");
	CHECK(dev.ops->start(&dev) == 0, "start");
	dev.ops->notify(&dev, 0);	/* the host's first notify of a resumed device */
	before = 0;
	do {
		while (gvq_get_used(&rq, &id, &len)) {
			if (answered++ < used0) {
				before++;	/* answered before the save: not again */
				seen[id % 128] = 2;
				continue;
			}
			twice += id >= 128 || seen[id];
			seen[id % 128] = 1;
			ok += id < 128 && mem[FL_STATUS + id / 3] == S_OK;	/* 3 descriptors a chain */
		}
	} while (answered < NFLIGHT && fakehost_wake(&dev, 2000));
	CHECK_EQ(answered, NFLIGHT, "every request answered");
	CHECK_EQ(twice, 0, "none twice");
	CHECK_EQ(ok + before, NFLIGHT, "each replayed one OK");
	for (unsigned i = 0; i < NFLIGHT; i++)	/* seen twice: answered before the save too */
		same &= seen[3 * i] > 1 || (pread(disk, back, 4096, 4096 * i) == 4096 &&
					     memcmp(back, mem + FL_DATA + 4096 * i, 4096) == 0);
	CHECK(same, "each replayed block on the disk again");
	CHECK_EQ(blk_req(T_IN, 8, 512, true), S_OK, "and the device goes on");
	n = device_save(&dev, saved, sizeof(saved));
	dev.ops->destroy(&dev);

	CHECK(blk_new(disk, aio, NULL) == 0, "a new model");
	saved[39] ^= 0x80;		/* driver features bit 63 (after the 32-byte header): not offered */
	CHECK_EQ(device_load(&dev, saved, (size_t)n), -EINVAL, "a scribbled save is refused");
	CHECK(vcfg_read(&dev, VIRTIO_PCI_COMMON_STATUS, 1) & VIRTIO_STATUS_NEEDS_RESET,
	      "the device asks for a reset");
	CHECK_EQ(device_load(&dev, saved, 10), -EINVAL, "a short save is refused");
	CHECK(device_save(&dev, saved, 20) == -ENOSPC, "a save that does not fit says so");
	dev.ops->destroy(&dev);
}

int main(void)
{
	char path[] = "/tmp/test_virtio_blk-XXXXXX";

	mem = aligned_alloc(4096, MEM_SIZE);
	disk = mkstemp(path);
	if (!mem || disk < 0 || ftruncate(disk, DISK_SIZE) < 0)
		CHECK_SKIP_ALL("no memory or temp file");
	unlink(path);
	test_bad_specs();
	test_init_and_config();
	test_rw_flush();
	test_get_id();
	test_discard_zeroes();
	test_batch_and_indirect();
	test_bad_requests();
	test_intx();
	test_readonly();
	test_read_over_4g();
	test_parallel("aio=threads");
	test_parallel("aio=native");
	test_resume("aio=threads");
	test_resume("aio=native");
	close(disk);
	free(mem);
	return check_done();
}
