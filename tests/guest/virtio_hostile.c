/*
 * virtio_hostile: a hostile driver against the first writable virtio-blk.
 * Each case puts one malformed request in the ring (by hand, through the
 * raw ring pointers), notifies, and then expects the device to set
 * DEVICE_NEEDS_RESET (status 0x40) and raise its config interrupt (the
 * config MSI-X vector, fresh per case, seen in the LAPIC IRR). The guest
 * then resets the device (status 0), initialises it again, and a
 * well-formed read must work. Cases:
 *
 *   oob-addr    a data descriptor 1 TiB up, outside RAM
 *   loop        descriptor 0 -> 1 -> 0
 *   next-range  a next index past the end of the table
 *   zero-len    a zero-length header descriptor
 *   nested-ind  an indirect descriptor inside an indirect table
 *   avail-jump  the avail index moved far more than the queue size ahead
 *
 * Meanwhile the rest of the machine must keep working: after every case the
 * RTC is read and (when there is one) the virtio-rng gives bytes. Last,
 * bogus BAR writes: BAR0 moved onto the MSI-X BAR, then to 0, then back; the
 * device must work again after a reset; then BAR0 is left at 0 and the
 * driver probes again, assigning it from its own window as it would
 * without firmware. The monitor must survive all of it (the integration
 * test checks it ends with status 0).
 *
 * Command line keys (all optional):
 *   hostile_cases=a,b,...  run only these cases (names above, "bars" for
 *                          the BAR writes)
 *   qemu_exit              end through isa-debug-exit (QEMU)
 */
#include "virtio_blkdrv.h"

#define IRQ_WAIT_S 10	/* seconds an interrupt may take (vio_irq_wait) */
#define TIB (1ull << 40)

static struct vio_dev devs[4], rng;
static struct vblk blk;
static bool have_rng;
static uint64_t scratch;	/* header, status, data, tables */

#define HDR (scratch)
#define STATUS (scratch + 0x100)
#define DATA (scratch + 0x1000)
#define TABLE1 (scratch + 0x2000)
#define TABLE2 (scratch + 0x3000)

static void desc_set(struct vring_desc *d, uint64_t addr, uint32_t len, uint16_t flags,
		     uint16_t next)
{
	d->addr = addr;
	d->len = len;
	d->flags = flags;
	d->next = next;
}

static void hdr_read(uint64_t sector)
{
	struct vblk_hdr *h = (struct vblk_hdr *)(uintptr_t)HDR;

	h->type = VBLK_T_IN;
	h->reserved = 0;
	h->sector = sector;
}

static void bad_oob_addr(struct vio_queue *q)
{
	hdr_read(0);
	desc_set(&q->desc[0], HDR, 16, VRING_DESC_F_NEXT, 1);
	desc_set(&q->desc[1], TIB, 512, VRING_DESC_F_NEXT | VRING_DESC_F_WRITE, 2);
	desc_set(&q->desc[2], STATUS, 1, VRING_DESC_F_WRITE, 0);
	vio_publish_raw(q, 0);
}

static void bad_loop(struct vio_queue *q)
{
	hdr_read(0);
	desc_set(&q->desc[0], HDR, 16, VRING_DESC_F_NEXT, 1);
	/* both readable, so the loop is what is wrong with the chain */
	desc_set(&q->desc[1], DATA, 512, VRING_DESC_F_NEXT, 0);
	vio_publish_raw(q, 0);
}

static void bad_next_range(struct vio_queue *q)
{
	hdr_read(0);
	desc_set(&q->desc[0], HDR, 16, VRING_DESC_F_NEXT, (uint16_t)(q->size + 5));
	vio_publish_raw(q, 0);
}

static void bad_zero_len(struct vio_queue *q)
{
	hdr_read(0);
	desc_set(&q->desc[0], HDR, 0, VRING_DESC_F_NEXT, 1);
	desc_set(&q->desc[1], STATUS, 1, VRING_DESC_F_WRITE, 0);
	vio_publish_raw(q, 0);
}

static void bad_nested_ind(struct vio_queue *q)
{
	struct vring_desc *t1 = (struct vring_desc *)(uintptr_t)TABLE1;
	struct vring_desc *t2 = (struct vring_desc *)(uintptr_t)TABLE2;

	hdr_read(0);
	desc_set(&t2[0], HDR, 16, VRING_DESC_F_NEXT, 1);
	desc_set(&t2[1], STATUS, 1, VRING_DESC_F_WRITE, 0);
	desc_set(&t1[0], TABLE2, 32, VRING_DESC_F_INDIRECT, 0);
	desc_set(&q->desc[0], TABLE1, 16, VRING_DESC_F_INDIRECT, 0);
	vio_publish_raw(q, 0);
}

static void bad_avail_jump(struct vio_queue *q)
{
	hdr_read(0);
	desc_set(&q->desc[0], HDR, 16, VRING_DESC_F_NEXT, 1);
	desc_set(&q->desc[1], STATUS, 1, VRING_DESC_F_WRITE, 0);
	q->avail[2] = 0;
	vio_barrier();
	q->avail_idx = (uint16_t)(q->avail_idx + q->size + 10);
	q->avail[1] = q->avail_idx;
}

struct hostile_case {
	const char *name;
	const char *what;
	void (*make)(struct vio_queue *q);
};

static const struct hostile_case cases[] = {
	{ "oob-addr", "data descriptor at 1 TiB, outside RAM", bad_oob_addr },
	{ "loop", "descriptor loop 0 -> 1 -> 0", bad_loop },
	{ "next-range", "next index past the table", bad_next_range },
	{ "zero-len", "zero-length header descriptor", bad_zero_len },
	{ "nested-ind", "indirect descriptor inside an indirect table", bad_nested_ind },
	{ "avail-jump", "avail index size+10 ahead", bad_avail_jump },
};

static bool wanted(const char *name)
{
	return cmdline_list_has("hostile_cases", name);
}

/* Status has NEEDS_RESET within a bounded number of reads. */
static uint8_t wait_needs_reset(struct vio_dev *vd)
{
	uint8_t s = 0;
	unsigned i;

	for (i = 0; i < 20000; i++) {
		s = vio_status(vd);
		if (s & VIO_S_NEEDS_RESET)
			break;
	}
	return s;
}

/* The rest of the machine still answers: UART (this line), RTC, virtio-rng. */
static void others_alive(const char *after)
{
	struct rtc_time t;
	uint64_t buf = scratch + 0x4000;
	bool rng_ok = true, rtc_ok = rtc_read(&t);

	if (have_rng) {
		struct vio_buf b = { .addr = buf, .len = 64, .write = true };
		uint32_t len = 0;

		vio_zero((void *)(uintptr_t)buf, 64);
		rng_ok = vio_add(&rng.q[0], &b, 1, false) >= 0;
		vio_kick(&rng.q[0]);
		rng_ok = rng_ok && vio_wait_used(&rng.q[0], &len, 2000000) >= 0 && len > 0 &&
			 vio_scan64((void *)(uintptr_t)buf, 0, 64) != 8;
	}
	if (!rtc_ok)
		memset(&t, 0, sizeof(t));
	t_expect(rtc_ok && rng_ok, "after %s: UART, RTC (%02u:%02u:%02u)%s still work",
		 after, t.hour, t.min, t.sec, have_rng ? " and virtio-rng" : "");
}

/*
 * Reset, initialise again (MSI-X entries rewritten), and a well-formed
 * read of sector 0 works and interrupts.
 */
static void recover(const char *after)
{
	uint8_t st, vec;

	if (!t_expect(vblk_open(&blk, blk.vd, VBLK_WANT, 0), "after %s: reset and re-init",
		      after))
		return;
	vec = vio_irq_rearm(blk.vd, blk.q);
	st = vblk_do(&blk, VBLK_T_IN, 0, DATA, 4096);
	t_expect(st == VBLK_S_OK, "after %s: a well-formed read answers status %u", after, st);
	if (vec)
		t_expect(vio_irq_wait(vec, IRQ_WAIT_S),
			 "after %s: its interrupt (vector 0x%x) in the LAPIC IRR", after, vec);
}

static void run_case(const struct hostile_case *c)
{
	struct vio_dev *vd = blk.vd;
	uint8_t vec = vio_irq_rearm(vd, NULL), s;

	c->make(blk.q);
	vio_notify(blk.q);
	s = wait_needs_reset(vd);
	t_expect(s & VIO_S_NEEDS_RESET, "%s (%s): status 0x%02x has DEVICE_NEEDS_RESET", c->name,
		 c->what, s);
	if (vec)
		t_expect(vio_irq_wait(vec, IRQ_WAIT_S),
			 "%s: config interrupt (vector 0x%x) in the LAPIC IRR", c->name, vec);
	others_alive(c->name);
	recover(c->name);
}

/*
 * BAR0 left at 0, as if no firmware had assigned it: probing again must
 * place it in the driver's own window (virtio.c) and the device work there.
 */
static void reprobe(unsigned bar0, uint64_t home)
{
	struct vio_dev *vd = blk.vd, again[4];
	unsigned n, i;

	vio_bar_set(vd, bar0, 0);
	n = vio_find(VIRTIO_ID_BLOCK, again, 4);
	for (i = 0; i < n; i++)
		if (again[i].bus == vd->bus && again[i].dev == vd->dev && again[i].fn == vd->fn)
			break;
	if (!t_expect(i < n, "%s found again with BAR%u at 0", vio_name(vd), bar0))
		return;
	memcpy(again[i].ring_set, vd->ring_set, sizeof(vd->ring_set));
	*vd = again[i];
	t_expect(vd->bar[bar0] && vd->bar[bar0] != home,
		 "BAR%u assigned by the guest at 0x%lx (was 0x%lx)", bar0, vd->bar[bar0], home);
	recover("BAR0 reassignment");
	others_alive("BAR0 reassignment");
}

/*
 * The last MSI-X table entry's message address and vector control, ORed:
 * never 0 while the table is served (an entry is either masked or has an
 * address), 0 once nothing answers there (unclaimed MMIO reads as zeros).
 */
static uint32_t msix_signature(const struct vio_dev *vd)
{
	uint64_t e = vd->msix_table + 16ull * (vd->msix_n - 1);

	return vd->msix_cap ? mmio_read32(e + 0) | mmio_read32(e + 12) : 0;
}

/* Move BAR `bar` to bogus places and back; the device must work after. */
static void bogus_bars(void)
{
	struct vio_dev *vd = blk.vd;
	unsigned bar0 = 6, msix_bar = 6, i;
	uint64_t home;
	uint32_t sig = msix_signature(vd), rng_sig = have_rng ? msix_signature(&rng) : 0;
	unsigned rng_msix = have_rng && rng.msix_cap ?
		pci_cfg_read32(rng.bus, rng.dev, rng.fn, rng.msix_cap + 4) & 7 : 6;

	for (i = 0; i < 6; i++)
		if (vd->bar[i] && vd->common >= vd->bar[i] && vd->common < vd->bar[i] + 0x100000)
			bar0 = i;
	if (vd->msix_cap)
		msix_bar = pci_cfg_read32(vd->bus, vd->dev, vd->fn, vd->msix_cap + 4) & 7;
	if (!t_expect(bar0 < 6, "BAR of the common configuration found (%u)", bar0))
		return;
	home = vd->bar[bar0];
	if (msix_bar < 6 && msix_bar != bar0) {
		vio_bar_set(vd, bar0, vd->bar[msix_bar]);
		t_info("BAR%u moved onto the MSI-X BAR%u at 0x%lx", bar0, msix_bar, vd->bar[msix_bar]);
		(void)mmio_read8(vd->bar[msix_bar] + 0x14);
		mmio_write32(vd->bar[msix_bar] + 0x3000, 0);
	}
	if (rng_msix < 6) {	/* onto another function's MSI-X BAR: that one must stay served */
		vio_bar_set(vd, bar0, rng.bar[rng_msix]);
		t_info("BAR%u moved onto %s's MSI-X BAR at 0x%lx", bar0, vio_name(&rng),
		       rng.bar[rng_msix]);
	}
	vio_bar_set(vd, bar0, 0);
	t_info("BAR%u moved to 0", bar0);
	vio_bar_set(vd, bar0, 0xfffffffffffff000ull);
	t_info("BAR%u set to all ones", bar0);
	vio_bar_set(vd, bar0, home);
	t_info("BAR%u back at 0x%lx", bar0, home);
	if (vd->msix_cap)
		t_expect(sig && msix_signature(vd) == sig,
			 "the MSI-X table still answers after BAR0 collided with it (0x%x, was 0x%x)",
			 msix_signature(vd), sig);
	if (rng_msix < 6)
		t_expect(rng_sig && msix_signature(&rng) == rng_sig,
			 "%s's MSI-X table still answers after BAR0 collided with it (0x%x, was 0x%x)",
			 vio_name(&rng), msix_signature(&rng), rng_sig);
	others_alive("bogus BAR writes");
	recover("bogus BAR writes");
	reprobe(bar0, home);
}

int main(const void *zero_page);
int main(const void *zero_page)
{
	unsigned n, i;

	bp_init(zero_page);
	t_begin("virtio_hostile");
	scratch = vio_dma_alloc(0x8000, 4096);
	n = vio_find(VIRTIO_ID_BLOCK, devs, 4);
	for (i = 0; i < n && !blk.vd; i++)
		if (!vblk_open(&blk, &devs[i], VBLK_WANT, 0) || blk.ro)
			blk.vd = NULL;
	if (!t_expect(blk.vd != NULL, "a writable virtio-blk among %u", n))
		vio_end("virtio_hostile");
	t_expect(vio_has(blk.vd, VIO_F_INDIRECT_DESC), "%s: INDIRECT_DESC negotiated",
		 vio_name(blk.vd));
	have_rng = vio_find(VIRTIO_ID_RNG, &rng, 1) == 1 && vio_init(&rng, 0, 1, 0);
	recover("init");
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (wanted(cases[i].name))
			run_case(&cases[i]);
	if (wanted("bars"))
		bogus_bars();
	vio_end("virtio_hostile");
}
