/*
 * virtio-rng, and with it the virtio-pci transport's register semantics
 * (rng is the smallest model, so the transport is tested through it).
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "fakehost.h"
#include "virtio_guest.h"
#include "virtio_pci.h"

extern const struct device_class virtio_rng_class;

#define MEM_SIZE	(1u << 20)
#define RING		0x1000ull
#define DATA		0x10000ull

static uint8_t *mem;
static struct fakehost fh;
static struct device dev;
static struct gvq rq;

static int rng_new(bool intx)
{
	struct fakespec fs;

	fakehost_init(&fh);
	fakehost_set_mem(&fh, mem, MEM_SIZE);
	fakespec_init_virtio(&fs, "virtio-rng", 2);
	if (intx) {
		fakespec_add_irq(&fs, 11);
		fakespec_add_param(&fs, "intx=2");
	}
	return fakehost_create(&fh, &dev, &virtio_rng_class, &fs.spec, -1, -1);
}

static uint8_t status(void)
{
	return (uint8_t)vcfg_read(&dev, VIRTIO_PCI_COMMON_STATUS, 1);
}

static bool needs_reset(void)
{
	return status() & VIRTIO_STATUS_NEEDS_RESET;
}

static void rng_init(void)
{
	vdrv_negotiate(&dev, ~0ull & ~(1ull << VIRTIO_F_ACCESS_PLATFORM));
	memset(mem, 0, MEM_SIZE);
	gvq_init(&rq, mem, RING, 64);
	vcfg_write(&dev, VIRTIO_PCI_COMMON_MSIX, 2, 0);
	vdrv_setup_queue(&dev, 0, &rq, 1);
	vdrv_add_status(&dev, VIRTIO_STATUS_DRIVER_OK);
}

static void test_ident_and_spec(void)
{
	const struct virtio_pci_ident *id = device_class_find("virtio-rng")->virtio;
	struct fakespec fs;

	CHECK(id && id->virtio_id == VIRTIO_ID_RNG && id->nqueues == 1 && id->nvectors == 2,
	      "ident: rng id 4, one queue, two vectors");
	CHECK(device_class_find("virtio-blk")->virtio->nqueues == 1 &&
	      device_class_find("virtio-console")->virtio->nqueues == 2, "blk 1 queue, console 2");
	CHECK(device_class_find("serial")->virtio == NULL, "serial is not virtio");
	CHECK_EQ(VIRTIO_PCI_NOTIFY_ADDR(0xfe000000ull, 1), 0xfe003004ull, "doorbell of queue 1");
	fakespec_init(&fs, "virtio-rng");
	for (int i = 0; i < 4; i++)
		fakespec_add_mmio(&fs, 0x1000u * i, 0x1000);
	fakespec_add_irq(&fs, 40);
	fakespec_add_irq(&fs, 11);
	fakespec_add_param(&fs, "intx=0");
	CHECK(fakehost_create(&fh, &dev, &virtio_rng_class, &fs.spec, -1, -1) == -EINVAL,
	      "intx naming a line that is not the last: -EINVAL");
	fs.spec.regions[2].bus = TRAP_PIO;
	fs.spec.params[0] = "intx=1";
	CHECK(fakehost_create(&fh, &dev, &virtio_rng_class, &fs.spec, -1, -1) == -EINVAL,
	      "a PIO region: -EINVAL");
	CHECK(dev.priv == NULL, "nothing left allocated");
}

static void test_features(void)
{
	CHECK(rng_new(true) == 0, "create with 2 vectors and INTx");
	CHECK_EQ(status(), 0, "status 0 after create");
	vcfg_write(&dev, VIRTIO_PCI_COMMON_DFSELECT, 4, 1);
	CHECK_EQ(vcfg_read(&dev, VIRTIO_PCI_COMMON_DF, 4), 1, "features 32-63: VERSION_1 only");
	vcfg_write(&dev, VIRTIO_PCI_COMMON_DFSELECT, 4, 0);
	CHECK_EQ(vcfg_read(&dev, VIRTIO_PCI_COMMON_DF, 4), 3u << 28, "features 0-31: INDIRECT, EVENT_IDX");
	vcfg_write(&dev, VIRTIO_PCI_COMMON_DFSELECT, 4, 2);
	CHECK_EQ(vcfg_read(&dev, VIRTIO_PCI_COMMON_DF, 4), 0, "features 64-95: none");
	CHECK_EQ(vdrv_negotiate(&dev, 1ull << VIRTIO_F_EVENT_IDX), 0,
		 "without VERSION_1: FEATURES_OK refused");
	vcfg_write(&dev, VIRTIO_PCI_COMMON_STATUS, 1, 0);
	vdrv_add_status(&dev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	vcfg_write(&dev, VIRTIO_PCI_COMMON_GFSELECT, 4, 1);
	vcfg_write(&dev, VIRTIO_PCI_COMMON_GF, 4, 3);	/* VERSION_1 + ACCESS_PLATFORM */
	{
		/* The guest can leave unoffered bits there: a replacement must load them. */
		uint8_t saved[4096];
		int n = device_save(&dev, saved, sizeof(saved));

		CHECK(n > 0, "saved with a feature not offered written (%d bytes)", n);
		dev.ops->destroy(&dev);
		CHECK(rng_new(true) == 0, "a new model");
		CHECK_EQ(device_load(&dev, saved, (size_t)n), 0,
			 "loaded: unoffered driver features before FEATURES_OK");
		CHECK_EQ(vcfg_read(&dev, VIRTIO_PCI_COMMON_GF, 4), 3, "the same driver features");
		CHECK(!needs_reset(), "no reset asked for");
	}
	CHECK(!(vdrv_add_status(&dev, VIRTIO_STATUS_FEATURES_OK) & VIRTIO_STATUS_FEATURES_OK),
	      "a feature not offered (ACCESS_PLATFORM): FEATURES_OK refused");
	CHECK_EQ(vdrv_negotiate(&dev, 1ull << VIRTIO_F_VERSION_1), 1ull << VIRTIO_F_VERSION_1,
		 "VERSION_1 alone: accepted");
	vcfg_write(&dev, VIRTIO_PCI_COMMON_GF, 4, 0);
	CHECK_EQ(vcfg_read(&dev, VIRTIO_PCI_COMMON_GF, 4), 1, "driver features frozen after FEATURES_OK");
	vcfg_write(&dev, VIRTIO_PCI_COMMON_STATUS, 1, VIRTIO_STATUS_ACKNOWLEDGE);
	CHECK(status() & VIRTIO_STATUS_FEATURES_OK, "clearing status bits without reset: ignored");
}

static void test_queue_regs(void)
{
	vdrv_negotiate(&dev, ~0ull);
	CHECK_EQ(vcfg_read(&dev, VIRTIO_PCI_COMMON_NUMQ, 2), 1, "num_queues 1");
	vcfg_write(&dev, VIRTIO_PCI_COMMON_Q_SELECT, 2, 5);
	CHECK_EQ(vcfg_read(&dev, VIRTIO_PCI_COMMON_Q_SIZE, 2), 0, "queue 5: size 0 (absent)");
	vcfg_write(&dev, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
	CHECK_EQ(vcfg_read(&dev, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0, "queue 5 cannot be enabled");
	vcfg_write(&dev, VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
	CHECK_EQ(vcfg_read(&dev, VIRTIO_PCI_COMMON_Q_SIZE, 2), 256, "queue 0: max size 256");
	CHECK_EQ(vcfg_read(&dev, VIRTIO_PCI_COMMON_Q_NOFF, 2), 0, "queue_notify_off = index");
	CHECK_EQ(vcfg_read(&dev, VIRTIO_PCI_COMMON_Q_MSIX, 2), VIRTIO_MSI_NO_VECTOR, "vector NO_VECTOR at reset");
	vcfg_write(&dev, VIRTIO_PCI_COMMON_Q_SIZE, 2, 64);
	CHECK_EQ(vcfg_read(&dev, VIRTIO_PCI_COMMON_Q_SIZE, 2), 64, "driver lowers size to 64");
	vcfg_write(&dev, VIRTIO_PCI_COMMON_Q_MSIX, 2, 2);
	CHECK_EQ(vcfg_read(&dev, VIRTIO_PCI_COMMON_Q_MSIX, 2), VIRTIO_MSI_NO_VECTOR,
		 "vector 2 (the INTx line, not a vector): NO_VECTOR");
	vcfg_write(&dev, VIRTIO_PCI_COMMON_Q_MSIX, 2, 1);
	CHECK_EQ(vcfg_read(&dev, VIRTIO_PCI_COMMON_Q_MSIX, 2), 1, "vector 1 accepted");
	vcfg_write(&dev, VIRTIO_PCI_COMMON_MSIX, 2, 9);
	CHECK_EQ(vcfg_read(&dev, VIRTIO_PCI_COMMON_MSIX, 2), VIRTIO_MSI_NO_VECTOR, "config vector 9: NO_VECTOR");
	dev_out(&dev, 0, VIRTIO_PCI_COMMON_Q_DESCLO, 8, 0x123456789abc0ull);
	CHECK_EQ(vcfg_read(&dev, VIRTIO_PCI_COMMON_Q_DESCHI, 4), 0x12345, "64-bit write: high half");
	CHECK_EQ(vcfg_read(&dev, VIRTIO_PCI_COMMON_Q_DESCLO, 4), 0x6789abc0, "64-bit write: low half");
	CHECK_EQ(dev_in(&dev, 0, VIRTIO_PCI_COMMON_Q_DESCLO, 8), 0x123456789abc0ull, "64-bit read");
	CHECK_EQ(dev_in(&dev, 0, VIRTIO_PCI_COMMON_DF, 1), 0, "1-byte read of a 32-bit field: 0");
	dev_out(&dev, 0, VIRTIO_PCI_COMMON_Q_SIZE, 4, 32);
	CHECK_EQ(vcfg_read(&dev, VIRTIO_PCI_COMMON_Q_SIZE, 2), 64, "4-byte write to a 16-bit field: dropped");
	CHECK(fakehost_logged(&fh, "access at"), "wrong widths logged");
	CHECK(dev_out(&dev, 0, 0x1000, 4, 0) < 0, "offset past the region: not ours");
	CHECK(dev_out(&dev, 4, 0, 4, 0) < 0, "region 4: not ours");
	CHECK(!needs_reset(), "no NEEDS_RESET so far");
	vcfg_write(&dev, VIRTIO_PCI_COMMON_Q_DESCLO, 4, MEM_SIZE - 0x100);
	vcfg_write(&dev, VIRTIO_PCI_COMMON_Q_DESCHI, 4, 0);
	vcfg_write(&dev, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
	CHECK(needs_reset(), "queue_enable with the ring past RAM: NEEDS_RESET");
	CHECK_EQ(vcfg_read(&dev, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0, "and the queue stays disabled");
	CHECK(fakehost_logged(&fh, "ring outside guest RAM"), "logged why");
	vdrv_negotiate(&dev, ~0ull);
	CHECK(!needs_reset(), "reset clears NEEDS_RESET");
	vcfg_write(&dev, VIRTIO_PCI_COMMON_Q_SIZE, 2, 100);
	CHECK(needs_reset(), "queue size 100: NEEDS_RESET");
	vdrv_negotiate(&dev, ~0ull);
	vcfg_write(&dev, VIRTIO_PCI_COMMON_Q_DESCLO, 4, RING + 8);
	vcfg_write(&dev, VIRTIO_PCI_COMMON_Q_ENABLE, 2, 1);
	CHECK(needs_reset(), "descriptor table misaligned: NEEDS_RESET");
	vcfg_write(&dev, VIRTIO_PCI_COMMON_STATUS, 1, 0);
	vdrv_add_status(&dev, VIRTIO_STATUS_ACKNOWLEDGE | VIRTIO_STATUS_DRIVER);
	vdrv_add_status(&dev, VIRTIO_STATUS_DRIVER_OK);
	CHECK(needs_reset(), "DRIVER_OK without FEATURES_OK: NEEDS_RESET");
	CHECK_EQ(fakehost_count_events(&fh, DEV_EVENT_NEEDS_RESET), 4, "one event per episode");
}

static void post(uint32_t len)
{
	struct gbuf b = { DATA, len, true };

	memset(mem + DATA, 0, len);
	gvq_add(&rq, &b, 1);
}

static bool nonzero(uint64_t gpa, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (mem[gpa + i])
			return true;
	return false;
}

static void test_entropy(void)
{
	struct gbuf mixed[2] = { { DATA + 0x40000, 64, false }, { DATA, 64, true } };
	uint32_t id, len;
	unsigned raises;

	rng_init();
	CHECK_EQ(status(), 0x0f, "initialised");
	raises = fh.irq_raises[1];
	post(64);
	dev.ops->notify(&dev, 0);
	CHECK(gvq_get_used(&rq, &id, &len) && len == 64, "64 bytes given");
	CHECK(nonzero(DATA, 64), "and they are not all zero");
	CHECK_EQ(fh.irq_raises[1], raises + 1, "queue vector raised");
	post(100000);
	dev.ops->notify(&dev, 0);
	CHECK(gvq_get_used(&rq, &id, &len) && len == 65536, "a 100000-byte buffer gets 64 KiB");
	CHECK(!nonzero(DATA + 65536, 100000 - 65536), "nothing written past 64 KiB");
	memset(mem + DATA, 0, 64);
	gvq_add(&rq, mixed, 2);
	dev.ops->notify(&dev, 0);
	CHECK(gvq_get_used(&rq, &id, &len) && len == 64 && !nonzero(DATA + 0x40000, 64),
	      "readable buffers ignored, writable filled");
	post(16);
	dev_out(&dev, VIRTIO_PCI_REGION_NOTIFY, 0, 2, 0);
	CHECK(gvq_get_used(&rq, &id, &len) && len == 16, "a doorbell write through trap() works as notify");
	CHECK_EQ(dev_in(&dev, VIRTIO_PCI_REGION_NOTIFY, 0, 2), 0, "notify region reads 0");
	dev_out(&dev, VIRTIO_PCI_REGION_NOTIFY, 4, 2, 1);
	dev.ops->notify(&dev, 7);
	CHECK(fakehost_logged(&fh, "no such queue"), "notify of a missing queue: logged, ignored");
	CHECK_EQ(dev_in(&dev, VIRTIO_PCI_REGION_DEVICE, 0, 4), 0, "no device config: reads 0");
}

static void test_not_running(void)
{
	uint32_t id, len;
	unsigned cfg = fh.irq_raises[0];

	gvq_set_desc(&rq, rq.next_desc, DATA, 16, VQ_DESC_F_NEXT, rq.next_desc);
	gvq_publish(&rq, rq.next_desc);
	dev.ops->notify(&dev, 0);
	CHECK(needs_reset(), "self-looping descriptor: NEEDS_RESET");
	CHECK_EQ(fh.irq_raises[0], cfg + 1, "config vector raised (DRIVER_OK was set)");
	post(16);
	dev.ops->notify(&dev, 0);
	CHECK(!gvq_get_used(&rq, &id, &len), "stopped device ignores notifies");
	dev.ops->reset(&dev);
	CHECK_EQ(status(), 0, "host reset: status 0");
	vcfg_write(&dev, VIRTIO_PCI_COMMON_Q_SELECT, 2, 0);
	CHECK_EQ(vcfg_read(&dev, VIRTIO_PCI_COMMON_Q_ENABLE, 2), 0, "host reset: queue disabled");
	vdrv_negotiate(&dev, ~0ull);
	memset(mem, 0, MEM_SIZE);
	gvq_init(&rq, mem, RING, 64);
	vdrv_setup_queue(&dev, 0, &rq, VIRTIO_MSI_NO_VECTOR);
	post(16);
	dev.ops->notify(&dev, 0);
	CHECK(!gvq_get_used(&rq, &id, &len), "before DRIVER_OK: not served");
	vdrv_add_status(&dev, VIRTIO_STATUS_DRIVER_OK);
	CHECK(gvq_get_used(&rq, &id, &len) && len == 16, "DRIVER_OK picks up the posted buffer");
	CHECK_EQ(fh.irq[2], 1, "no vector: INTx asserted");
	CHECK_EQ(dev_in(&dev, VIRTIO_PCI_REGION_ISR, 0, 1), VIRTIO_ISR_QUEUE, "ISR queue bit");
	CHECK_EQ(fh.irq[2], 0, "ISR read deasserts");
	dev.ops->destroy(&dev);
	CHECK(dev.priv == NULL, "destroy frees");
}

int main(void)
{
	mem = aligned_alloc(4096, MEM_SIZE);
	if (!mem)
		CHECK_SKIP_ALL("no memory");
	fakehost_init(&fh);
	test_ident_and_spec();
	test_features();
	test_queue_regs();
	test_entropy();
	test_not_running();
	free(mem);
	return check_done();
}
