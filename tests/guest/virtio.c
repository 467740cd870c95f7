/*
 * virtio-pci driver for the test guests (see virtio.h for the sequence and
 * the Linux functions each step mirrors).
 */
#include "virtio.h"

#define PCI_COMMAND		0x04
#define PCI_CMD_MEM		0x0002
#define PCI_CMD_MASTER		0x0004
#define PCI_STATUS_CAPS		0x0010
#define PCI_CAP_PTR		0x34
#define PCI_CAP_ID_VNDR		0x09
#define PCI_CAP_ID_MSIX		0x11
#define MSIX_ENABLE		0x8000
#define MSIX_MASKALL		0x4000

#define BAR_WINDOW_LO		0xe0000000ull	/* where we place unassigned BARs */
#define BAR_WINDOW_HI		0xfec00000ull	/* IOAPIC, LAPIC above */

/* ---- PCI config helpers -------------------------------------------------- */

static uint32_t cfg32(const struct vio_dev *vd, unsigned reg)
{
	return pci_cfg_read32(vd->bus, vd->dev, vd->fn, reg);
}

static uint16_t cfg16(const struct vio_dev *vd, unsigned reg)
{
	return pci_cfg_read16(vd->bus, vd->dev, vd->fn, reg);
}

static uint8_t cfg8(const struct vio_dev *vd, unsigned reg)
{
	return pci_cfg_read8(vd->bus, vd->dev, vd->fn, reg);
}

static void cfg_write32(const struct vio_dev *vd, unsigned reg, uint32_t v)
{
	pci_cfg_write32(vd->bus, vd->dev, vd->fn, reg, v);
}

void vio_pci_write16(const struct vio_dev *vd, unsigned reg, uint16_t v)
{
	outl(0xcf8, 0x80000000u | (vd->bus & 0xff) << 16 | (vd->dev & 0x1f) << 11 |
		     (vd->fn & 7) << 8 | (reg & 0xfc));
	outw((uint16_t)(0xcfc + (reg & 2)), v);
}

const char *vio_name(const struct vio_dev *vd)
{
	static char buf[8];
	static const char hex[] = "0123456789abcdef";

	buf[0] = hex[(vd->bus >> 4) & 15];
	buf[1] = hex[vd->bus & 15];
	buf[2] = ':';
	buf[3] = hex[(vd->dev >> 4) & 15];
	buf[4] = hex[vd->dev & 15];
	buf[5] = '.';
	buf[6] = (char)('0' + (vd->fn & 7));
	buf[7] = 0;
	return buf;
}

/* ---- BARs ------------------------------------------------------------------ */

/*
 * Our window for BARs nobody assigned: [BAR_WINDOW_LO, BAR_WINDOW_HI),
 * minus what is already placed there (noted once, each taken as 1 MiB, as
 * we do not size other functions' BARs).
 */
#define BAR_TAKEN_MAX	64
#define BAR_TAKEN_SPAN	0x100000ull

static uint64_t bar_cursor;
static uint64_t bar_taken[BAR_TAKEN_MAX];
static unsigned bar_ntaken;

static bool bar_is_mem64(uint32_t lo)
{
	return !(lo & 1) && ((lo >> 1) & 3) == 2;
}

/* Address programmed in BAR i (0 for I/O BARs). */
static uint64_t bar_addr(const struct vio_dev *vd, unsigned i)
{
	uint32_t lo = cfg32(vd, 0x10 + 4 * i);
	uint64_t a;

	if (lo & 1)
		return 0;
	a = lo & ~0xfull;
	if (bar_is_mem64(lo) && i < 5)
		a |= (uint64_t)cfg32(vd, 0x14 + 4 * i) << 32;
	return a;
}

/* Note every memory BAR already placed in our window on bus 0. */
static void bar_window_init(void)
{
	struct vio_dev f;
	unsigned i;

	bar_cursor = BAR_WINDOW_LO;
	memset(&f, 0, sizeof(f));
	for (f.dev = 0; f.dev < 32; f.dev++) {
		for (f.fn = 0; f.fn < 8; f.fn++) {
			if ((cfg32(&f, 0) & 0xffff) == 0xffff)
				continue;
			if ((cfg8(&f, 0x0e) & 0x7f) != 0)
				continue;	/* bridges: leave them be */
			for (i = 0; i < 6; i++) {
				uint64_t a = bar_addr(&f, i);

				if (a >= BAR_WINDOW_LO && a < BAR_WINDOW_HI &&
				    bar_ntaken < BAR_TAKEN_MAX)
					bar_taken[bar_ntaken++] = a;
				if (bar_is_mem64(cfg32(&f, 0x10 + 4 * i)))
					i++;
			}
		}
	}
}

/* Lowest aligned address >= the cursor where size bytes collide with nothing. */
static uint64_t bar_window_fit(uint64_t size)
{
	uint64_t a = (bar_cursor + size - 1) & ~(size - 1);
	unsigned i, rounds;

	for (rounds = 0; rounds <= BAR_TAKEN_MAX; rounds++) {
		bool clash = false;

		for (i = 0; i < bar_ntaken && !clash; i++)
			if (bar_taken[i] < a + size && a < bar_taken[i] + BAR_TAKEN_SPAN) {
				a = (bar_taken[i] + BAR_TAKEN_SPAN + size - 1) & ~(size - 1);
				clash = true;
			}
		if (!clash)
			return a + size <= BAR_WINDOW_HI ? a : 0;
	}
	return 0;
}

void vio_bar_set(const struct vio_dev *vd, unsigned bar, uint64_t addr)
{
	uint16_t cmd = cfg16(vd, PCI_COMMAND);
	uint32_t lo = cfg32(vd, 0x10 + 4 * bar);

	vio_pci_write16(vd, PCI_COMMAND, cmd & ~PCI_CMD_MEM);
	cfg_write32(vd, 0x10 + 4 * bar, (uint32_t)addr);
	if (bar_is_mem64(lo) && bar < 5)
		cfg_write32(vd, 0x14 + 4 * bar, (uint32_t)(addr >> 32));
	vio_pci_write16(vd, PCI_COMMAND, cmd | PCI_CMD_MEM);
}

/* Size memory BAR i as Linux's __pci_read_base does (decode off meanwhile). */
static uint64_t bar_size(const struct vio_dev *vd, unsigned i)
{
	uint16_t cmd = cfg16(vd, PCI_COMMAND);
	unsigned reg = 0x10 + 4 * i;
	uint32_t lo = cfg32(vd, reg), hi = 0, mlo, mhi = 0xffffffffu;
	bool is64 = bar_is_mem64(lo) && i < 5;
	uint64_t mask;

	vio_pci_write16(vd, PCI_COMMAND, cmd & ~PCI_CMD_MEM);
	cfg_write32(vd, reg, 0xffffffffu);
	mlo = cfg32(vd, reg);
	cfg_write32(vd, reg, lo);
	if (is64) {
		hi = cfg32(vd, reg + 4);
		cfg_write32(vd, reg + 4, 0xffffffffu);
		mhi = cfg32(vd, reg + 4);
		cfg_write32(vd, reg + 4, hi);
	}
	vio_pci_write16(vd, PCI_COMMAND, cmd);
	mask = (uint64_t)mhi << 32 | (mlo & ~0xfu);
	if (!(mlo & ~0xfu))
		return 0;
	return ~mask + 1;
}

/* Decode BAR i, assigning it from our window if it is 0 or above 4 GiB. */
static bool bar_setup(struct vio_dev *vd, unsigned i)
{
	uint64_t a = bar_addr(vd, i), size;

	if (cfg32(vd, 0x10 + 4 * i) & 1)
		return false;		/* an I/O BAR: not for virtio structures */
	if (a && a + 0x1000 <= 0x100000000ull) {
		vd->bar[i] = a;
		return true;
	}
	size = bar_size(vd, i);
	if (!size || size > 0x10000000ull)
		return false;
	if (!bar_cursor)
		bar_window_init();
	a = bar_window_fit(size);
	if (!a)
		return false;
	bar_cursor = a + size;
	vio_bar_set(vd, i, a);
	t_info("%s: BAR%u unassigned, placed at 0x%lx (%lu KiB)", vio_name(vd), i, a,
	       size >> 10);
	vd->bar[i] = a;
	return true;
}

/* ---- capabilities ----------------------------------------------------------- */

struct vcap {
	bool found;
	uint8_t bar;
	uint32_t off, len;
};

/* Walk the capability list as virtio_pci_find_capability does (first of each type). */
static void caps_walk(struct vio_dev *vd, struct vcap caps[5])
{
	unsigned pos, n;

	if (!(cfg16(vd, 0x06) & PCI_STATUS_CAPS))
		return;
	pos = cfg8(vd, PCI_CAP_PTR) & 0xfc;
	for (n = 0; pos >= 0x40 && n < 48; n++, pos = cfg8(vd, pos + 1) & 0xfc) {
		uint8_t id = cfg8(vd, pos), type, bar;

		if (id == PCI_CAP_ID_MSIX && !vd->msix_cap) {
			vd->msix_cap = pos;
			continue;
		}
		if (id != PCI_CAP_ID_VNDR)
			continue;
		type = cfg8(vd, pos + 3);
		bar = cfg8(vd, pos + 4);
		if (type < VIO_CAP_COMMON || type > VIO_CAP_DEVICE || bar > 5 ||
		    caps[type].found)
			continue;
		caps[type].found = true;
		caps[type].bar = bar;
		caps[type].off = cfg32(vd, pos + 8);
		caps[type].len = cfg32(vd, pos + 12);
		if (type == VIO_CAP_NOTIFY)
			vd->notify_mult = cfg32(vd, pos + 16);
	}
}

static uint64_t cap_addr(struct vio_dev *vd, const struct vcap *c)
{
	if (!vd->bar[c->bar] && !bar_setup(vd, c->bar))
		return 0;
	return vd->bar[c->bar] + c->off;
}

static bool msix_setup_bar(struct vio_dev *vd)
{
	uint32_t tbl = cfg32(vd, vd->msix_cap + 4);
	unsigned bir = tbl & 7;

	vd->msix_n = (cfg16(vd, vd->msix_cap + 2) & 0x7ff) + 1;
	if (bir > 5 || (!vd->bar[bir] && !bar_setup(vd, bir)))
		return false;
	vd->msix_table = vd->bar[bir] + (tbl & ~7u);
	return true;
}

/* Capabilities, BARs, command register of one function. */
static bool vio_probe(struct vio_dev *vd)
{
	struct vcap caps[5];
	unsigned t;

	memset(caps, 0, sizeof(caps));
	caps_walk(vd, caps);
	for (t = VIO_CAP_COMMON; t <= VIO_CAP_DEVICE; t++)
		if (!caps[t].found && t != VIO_CAP_DEVICE) {
			t_fail("%s: no virtio capability of cfg_type %u", vio_name(vd), t);
			return false;
		}
	if (caps[VIO_CAP_COMMON].len < 0x38 || caps[VIO_CAP_NOTIFY].len < 2 ||
	    caps[VIO_CAP_ISR].len < 1) {
		t_fail("%s: virtio capability too short", vio_name(vd));
		return false;
	}
	vd->common = cap_addr(vd, &caps[VIO_CAP_COMMON]);
	vd->notify = cap_addr(vd, &caps[VIO_CAP_NOTIFY]);
	vd->isr = cap_addr(vd, &caps[VIO_CAP_ISR]);
	if (caps[VIO_CAP_DEVICE].found) {
		vd->devcfg = cap_addr(vd, &caps[VIO_CAP_DEVICE]);
		vd->devcfg_len = caps[VIO_CAP_DEVICE].len;
	}
	if (vd->msix_cap && !msix_setup_bar(vd))
		vd->msix_cap = 0;
	if (!vd->common || !vd->notify || !vd->isr) {
		t_fail("%s: a virtio structure's BAR could not be placed", vio_name(vd));
		return false;
	}
	vio_pci_write16(vd, PCI_COMMAND,
			cfg16(vd, PCI_COMMAND) | PCI_CMD_MEM | PCI_CMD_MASTER);
	return true;
}

unsigned vio_find(uint16_t virtio_id, struct vio_dev *out, unsigned max)
{
	struct vio_dev f;
	unsigned found = 0, nfn;

	memset(&f, 0, sizeof(f));
	for (f.dev = 0; f.dev < 32 && found < max; f.dev++) {
		nfn = (cfg8(&f, 0x0e) & 0x80) ? 8 : 1;
		for (f.fn = 0; f.fn < nfn && found < max; f.fn++) {
			uint32_t id = cfg32(&f, 0);
			uint16_t did = (uint16_t)(id >> 16);

			if ((id & 0xffff) != VIO_VENDOR || did < VIO_DEVICE_BASE ||
			    did > VIO_DEVICE_BASE + 0x3f)
				continue;
			if (virtio_id && did != VIO_DEVICE_BASE + virtio_id)
				continue;
			out[found] = f;
			out[found].virtio_id = (uint16_t)(did - VIO_DEVICE_BASE);
			for (unsigned q = 0; q < VIO_MAX_QUEUES; q++)
				out[found].ring_set[q] = -1;
			if (vio_probe(&out[found]))
				found++;
		}
	}
	return found;
}

/* ---- status, features, config ------------------------------------------- */

uint8_t vio_status(struct vio_dev *vd)
{
	return mmio_read8(vd->common + VIO_COMMON_STATUS);
}

void vio_set_status(struct vio_dev *vd, uint8_t s)
{
	mmio_write8(vd->common + VIO_COMMON_STATUS, s);
}

bool vio_reset(struct vio_dev *vd)
{
	unsigned i;

	vio_set_status(vd, 0);
	/* vp_modern_set_status(0) then "while (get_status()) msleep(1)" */
	for (i = 0; i < 100000; i++)
		if (vio_status(vd) == 0)
			return true;
	return false;
}

static uint64_t features_read(struct vio_dev *vd)
{
	uint64_t f;

	mmio_write32(vd->common + VIO_COMMON_DFSELECT, 0);
	f = mmio_read32(vd->common + VIO_COMMON_DF);
	mmio_write32(vd->common + VIO_COMMON_DFSELECT, 1);
	f |= (uint64_t)mmio_read32(vd->common + VIO_COMMON_DF) << 32;
	return f;
}

static void features_write(struct vio_dev *vd, uint64_t f)
{
	mmio_write32(vd->common + VIO_COMMON_GFSELECT, 0);
	mmio_write32(vd->common + VIO_COMMON_GF, (uint32_t)f);
	mmio_write32(vd->common + VIO_COMMON_GFSELECT, 1);
	mmio_write32(vd->common + VIO_COMMON_GF, (uint32_t)(f >> 32));
}

uint8_t vio_cfg8(struct vio_dev *vd, unsigned off)
{
	return mmio_read8(vd->devcfg + off);
}

uint16_t vio_cfg16(struct vio_dev *vd, unsigned off)
{
	return mmio_read16(vd->devcfg + off);
}

uint32_t vio_cfg32(struct vio_dev *vd, unsigned off)
{
	return mmio_read32(vd->devcfg + off);
}

uint64_t vio_cfg64(struct vio_dev *vd, unsigned off)
{
	uint64_t v = 0;
	uint8_t gen;
	unsigned i;

	/* vp_modern's get() for 8-byte fields: retry while the generation moves */
	for (i = 0; i < 10; i++) {
		gen = mmio_read8(vd->common + VIO_COMMON_CFGGEN);
		v = mmio_read32(vd->devcfg + off);
		v |= (uint64_t)mmio_read32(vd->devcfg + off + 4) << 32;
		if (mmio_read8(vd->common + VIO_COMMON_CFGGEN) == gen)
			break;
	}
	return v;
}

/* ---- interrupts ------------------------------------------------------------ */

static uint8_t next_vector;

uint8_t vio_vector_alloc(void)
{
	if (!next_vector) {
		lapic_enable();
		next_vector = 0x40;
	}
	if (next_vector > 0xef)
		next_vector = 0x40;
	return next_vector++;
}

void vio_msix_set(struct vio_dev *vd, unsigned entry, uint8_t apic)
{
	uint64_t e = vd->msix_table + 16ull * entry;

	if (!vd->msix_cap || entry >= vd->msix_n)
		return;
	mmio_write32(e + 12, 1);		/* mask while we change it */
	mmio_write32(e + 0, 0xfee00000u);	/* destination APIC 0, physical */
	mmio_write32(e + 4, 0);
	mmio_write32(e + 8, apic);		/* fixed, edge */
	mmio_write32(e + 12, 0);
}

uint8_t vio_irq_rearm(struct vio_dev *vd, struct vio_queue *q)
{
	uint16_t entry = q ? q->msix : vd->config_msix;
	uint8_t v;
	unsigned i;

	if (entry == VIO_NO_VECTOR)
		return 0;
	v = vio_vector_alloc();
	vio_msix_set(vd, entry, v);
	if (vd->config_msix == entry)
		vd->config_apic = v;
	for (i = 0; i < vd->nq; i++)
		if (vd->q[i].msix == entry)
			vd->q[i].apic = v;
	return v;
}

bool vio_irq_wait(uint8_t vector, unsigned seconds)
{
	uint64_t reads = 0, max_reads = (uint64_t)seconds * 20000000;
	uint8_t sec, last;
	unsigned ticks = 0;

	if (!vector)
		return false;
	last = cmos_read(0);
	while (ticks <= seconds && reads < max_reads) {
		for (unsigned i = 0; i < 1000; i++, reads++)
			if (lapic_irr(vector)) {
				lapic_eoi();
				return true;
			}
		sec = cmos_read(0);
		ticks += sec != last;
		last = sec;
	}
	return false;
}

/* MSI-X on, as msix_capability_init: enable + mask all, entries, unmask all. */
static void msix_enable(struct vio_dev *vd)
{
	uint16_t ctl = cfg16(vd, vd->msix_cap + 2);
	unsigned e;

	if (ctl & MSIX_ENABLE)
		return;
	vio_pci_write16(vd, vd->msix_cap + 2, ctl | MSIX_ENABLE | MSIX_MASKALL);
	for (e = 0; e < vd->msix_n; e++)
		mmio_write32(vd->msix_table + 16ull * e + 12, 1);
	vio_pci_write16(vd, vd->msix_cap + 2, (ctl | MSIX_ENABLE) & ~MSIX_MASKALL);
}

/* ---- rings ------------------------------------------------------------------ */

/* One queue's memory: rings in the first page, indirect tables after. */
struct ring_set {
	struct vring_desc desc[VIO_QSIZE_MAX];			/* 0x000 */
	uint16_t avail[2 + VIO_QSIZE_MAX + 1];			/* 0x800 */
	uint8_t pad[0xa00 - 0x800 - 2 * (3 + VIO_QSIZE_MAX)];
	uint8_t used[4 + 8 * VIO_QSIZE_MAX + 2];		/* 0xa00 */
	uint8_t pad2[0x1000 - 0xa00 - (6 + 8 * VIO_QSIZE_MAX)];
	struct vring_desc ind[VIO_QSIZE_MAX][VIO_IND_MAX];	/* 0x1000 */
};
_Static_assert(sizeof(struct ring_set) == 0x1000 + 16 * VIO_QSIZE_MAX * VIO_IND_MAX,
	       "ring_set layout");

static struct ring_set ring_sets[VIO_RINGS] __attribute__((aligned(4096)));
static unsigned ring_sets_used;

static void ring_init(struct vio_queue *q, struct ring_set *rs, uint16_t size)
{
	uint16_t i;

	vio_zero(rs, 0x1000);
	q->size = size;
	q->desc = rs->desc;
	q->avail = rs->avail;
	q->used = rs->used;
	q->ind = rs->ind;
	q->avail_idx = q->kicked_idx = q->last_used = 0;
	q->free_head = 0;
	q->num_free = size;
	q->irq_off = false;
	for (i = 0; i < size; i++) {
		q->desc[i].next = (uint16_t)(i + 1);
		q->chain_len[i] = 0;
	}
}

static uint16_t pow2_floor(uint16_t n)
{
	uint16_t p = 1;

	while ((uint16_t)(p << 1) && (uint16_t)(p << 1) <= n)
		p = (uint16_t)(p << 1);
	return p;
}

static void write64_halves(uint64_t reg, uint64_t v)
{
	mmio_write32(reg, (uint32_t)v);
	mmio_write32(reg + 4, (uint32_t)(v >> 32));
}

/* setup_vq() of virtio_pci_modern for queue i; FAIL line on error. */
static bool queue_setup(struct vio_dev *vd, unsigned i, unsigned qsize, uint16_t entry)
{
	struct vio_queue *q = &vd->q[i];
	uint64_t c = vd->common;
	uint16_t size, back;

	mmio_write16(c + VIO_COMMON_Q_SELECT, (uint16_t)i);
	size = mmio_read16(c + VIO_COMMON_Q_SIZE);
	if (!size || mmio_read16(c + VIO_COMMON_Q_ENABLE)) {
		t_fail("%s: queue %u: size %u, enable %u", vio_name(vd), i, size,
		       mmio_read16(c + VIO_COMMON_Q_ENABLE));
		return false;
	}
	if (size > qsize)
		size = pow2_floor((uint16_t)qsize);
	if (vd->ring_set[i] < 0) {
		if (ring_sets_used >= VIO_RINGS) {
			t_fail("%s: out of ring memory", vio_name(vd));
			return false;
		}
		vd->ring_set[i] = (int)ring_sets_used++;
	}
	q->vd = vd;
	q->index = (uint16_t)i;
	q->event_idx = vio_has(vd, VIO_F_EVENT_IDX);
	ring_init(q, &ring_sets[vd->ring_set[i]], size);
	mmio_write16(c + VIO_COMMON_Q_SIZE, size);
	write64_halves(c + VIO_COMMON_Q_DESCLO, (uintptr_t)q->desc);
	write64_halves(c + VIO_COMMON_Q_AVAILLO, (uintptr_t)q->avail);
	write64_halves(c + VIO_COMMON_Q_USEDLO, (uintptr_t)q->used);
	q->notify_addr = vd->notify +
		(uint64_t)mmio_read16(c + VIO_COMMON_Q_NOFF) * vd->notify_mult;
	q->msix = entry;
	q->apic = 0;
	if (entry != VIO_NO_VECTOR) {
		q->apic = vio_vector_alloc();
		vio_msix_set(vd, entry, q->apic);
		mmio_write16(c + VIO_COMMON_Q_MSIX, entry);
		back = mmio_read16(c + VIO_COMMON_Q_MSIX);
		if (back != entry) {
			t_fail("%s: queue %u: MSI-X vector %u read back as 0x%x",
			       vio_name(vd), i, entry, back);
			return false;
		}
	}
	return true;
}

static bool init_fail(struct vio_dev *vd, const char *step)
{
	t_fail("%s: init: %s (status 0x%02x)", vio_name(vd), step, vio_status(vd));
	vio_set_status(vd, vio_status(vd) | VIO_S_FAILED);
	return false;
}

/* Config vector, as vp_request_msix_vectors + vp_modern_config_vector. */
static bool config_vector_setup(struct vio_dev *vd)
{
	uint16_t back;

	vd->config_msix = VIO_NO_VECTOR;
	if (!vd->msix_cap)
		return true;
	msix_enable(vd);
	vd->config_msix = 0;
	vd->config_apic = vio_vector_alloc();
	vio_msix_set(vd, 0, vd->config_apic);
	mmio_write16(vd->common + VIO_COMMON_MSIX, 0);
	back = mmio_read16(vd->common + VIO_COMMON_MSIX);
	if (back != 0) {
		t_fail("%s: config MSI-X vector 0 read back as 0x%x", vio_name(vd), back);
		return false;
	}
	return true;
}

bool vio_init(struct vio_dev *vd, uint64_t want, unsigned nq, unsigned qsize)
{
	uint16_t numq;
	unsigned i;

	if (!qsize || qsize > VIO_QSIZE_MAX)
		qsize = VIO_QSIZE_MAX;
	if (nq > VIO_MAX_QUEUES)
		return init_fail(vd, "too many queues asked");
	vd->nq = 0;
	if (!vio_reset(vd))
		return init_fail(vd, "reset: status never read 0");
	vio_set_status(vd, VIO_S_ACKNOWLEDGE);
	vio_set_status(vd, VIO_S_ACKNOWLEDGE | VIO_S_DRIVER);
	vd->dev_features = features_read(vd);
	if (!((vd->dev_features >> VIO_F_VERSION_1) & 1))
		return init_fail(vd, "device does not offer VERSION_1");
	vd->features = vd->dev_features & (want | 1ull << VIO_F_VERSION_1);
	features_write(vd, vd->features);
	vio_set_status(vd, VIO_S_ACKNOWLEDGE | VIO_S_DRIVER | VIO_S_FEATURES_OK);
	if (!(vio_status(vd) & VIO_S_FEATURES_OK))
		return init_fail(vd, "FEATURES_OK not kept");
	if (!config_vector_setup(vd))
		return init_fail(vd, "config vector");
	numq = mmio_read16(vd->common + VIO_COMMON_NUMQ);
	if (numq < nq)
		return init_fail(vd, "fewer queues than needed");
	for (i = 0; i < nq; i++) {
		uint16_t entry = VIO_NO_VECTOR;

		if (vd->msix_cap)
			entry = (uint16_t)(i + 1 < vd->msix_n ? i + 1 : vd->msix_n - 1);
		if (!queue_setup(vd, i, qsize, entry))
			return init_fail(vd, "queue setup");
		vd->nq = i + 1;
	}
	for (i = 0; i < nq; i++) {
		mmio_write16(vd->common + VIO_COMMON_Q_SELECT, (uint16_t)i);
		mmio_write16(vd->common + VIO_COMMON_Q_ENABLE, 1);
	}
	vio_set_status(vd, VIO_S_ACKNOWLEDGE | VIO_S_DRIVER | VIO_S_FEATURES_OK |
			   VIO_S_DRIVER_OK);
	if (vio_status(vd) & (VIO_S_NEEDS_RESET | VIO_S_FAILED))
		return init_fail(vd, "device failed at DRIVER_OK");
	return true;
}

/* ---- virtqueue operations -------------------------------------------------- */

static inline void vio_mb(void)
{
	/* smp_mb() on x86: order the avail index store before reading flags */
	__asm__ volatile("lock; addl $0,-4(%%rsp)" ::: "memory", "cc");
}

static volatile uint16_t *used_idx_ptr(struct vio_queue *q)
{
	return (volatile uint16_t *)(q->used + 2);
}

uint16_t vio_used_idx(struct vio_queue *q)
{
	return *used_idx_ptr(q);
}

static void used_event_set(struct vio_queue *q)
{
	if (q->event_idx)
		q->avail[2 + q->size] =
			(uint16_t)(q->irq_off ? q->last_used + 0x8000 : q->last_used);
}

/*
 * used_event is moved up to what the driver has consumed when it publishes
 * a buffer, not when it consumes one (as Linux does in virtqueue_get_buf):
 * these drivers poll the used ring and then expect the interrupt, and a
 * device that reads used_event after the driver already consumed the entry
 * rightly sends none (virtio 1.x 2.7.10), a race a slow machine shows.
 */
void vio_publish_raw(struct vio_queue *q, uint16_t head)
{
	q->avail[2 + (q->avail_idx & (q->size - 1))] = head;
	used_event_set(q);
	vio_barrier();
	q->avail_idx++;
	q->avail[1] = q->avail_idx;
}

int vio_add(struct vio_queue *q, const struct vio_buf *b, unsigned n, bool indirect)
{
	uint16_t head = q->free_head, i = head;
	unsigned k;

	indirect = indirect && n <= VIO_IND_MAX && vio_has(q->vd, VIO_F_INDIRECT_DESC);
	if (!n || q->num_free < (indirect ? 1 : n))
		return -1;
	if (indirect) {
		struct vring_desc *t = q->ind[head];

		for (k = 0; k < n; k++) {
			t[k].addr = b[k].addr;
			t[k].len = b[k].len;
			t[k].flags = (uint16_t)((b[k].write ? VRING_DESC_F_WRITE : 0) |
						(k + 1 < n ? VRING_DESC_F_NEXT : 0));
			t[k].next = (uint16_t)(k + 1);
		}
		q->desc[head].addr = (uintptr_t)t;
		q->desc[head].len = (uint32_t)(16 * n);
		q->desc[head].flags = VRING_DESC_F_INDIRECT;
		q->free_head = q->desc[head].next;
		q->num_free--;
		q->chain_len[head] = 1;
	} else {
		for (k = 0; k < n; k++) {
			q->desc[i].addr = b[k].addr;
			q->desc[i].len = b[k].len;
			q->desc[i].flags = (uint16_t)((b[k].write ? VRING_DESC_F_WRITE : 0) |
						      (k + 1 < n ? VRING_DESC_F_NEXT : 0));
			i = q->desc[i].next;
		}
		q->free_head = i;
		q->num_free = (uint16_t)(q->num_free - n);
		q->chain_len[head] = (uint16_t)n;
	}
	vio_publish_raw(q, head);
	return head;
}

void vio_notify(struct vio_queue *q)
{
	q->kicks++;
	mmio_write16(q->notify_addr, q->index);
}

void vio_kick(struct vio_queue *q)
{
	uint16_t old = q->kicked_idx, now = q->avail_idx, ev;
	bool need;

	vio_mb();
	if (q->event_idx) {
		ev = *(volatile uint16_t *)(q->used + 4 + 8 * q->size);
		need = (uint16_t)(now - ev - 1) < (uint16_t)(now - old);
	} else {
		need = !(*(volatile uint16_t *)q->used & 1);	/* VRING_USED_F_NO_NOTIFY */
	}
	q->kicked_idx = now;
	if (need)
		vio_notify(q);
}

void vio_irq_suppress(struct vio_queue *q, bool off)
{
	q->irq_off = off;
	q->avail[0] = off ? VRING_AVAIL_F_NO_INTERRUPT : 0;
	used_event_set(q);
}

int vio_get_used(struct vio_queue *q, uint32_t *len)
{
	volatile struct vring_used_elem *e;
	uint32_t id32;
	uint16_t id, last, k, n;

	if (*used_idx_ptr(q) == q->last_used)
		return -1;
	vio_barrier();
	e = (volatile struct vring_used_elem *)(q->used + 4 +
						8 * (q->last_used & (q->size - 1)));
	id32 = e->id;
	id = (uint16_t)id32;
	if (len)
		*len = e->len;
	q->last_used++;
	if (id32 >= q->size || !q->chain_len[id]) {
		t_fail("queue %u: used entry names head %u, not in flight", q->index, id32);
		return -1;
	}
	n = q->chain_len[id];
	for (k = 1, last = id; k < n; k++)
		last = q->desc[last].next;
	q->desc[last].next = q->free_head;
	q->free_head = id;
	q->num_free = (uint16_t)(q->num_free + n);
	q->chain_len[id] = 0;
	return id;
}

int vio_wait_used(struct vio_queue *q, uint32_t *len, unsigned long spins)
{
	unsigned long i, ticks = 0;
	uint8_t sec = cmos_read(0), now;
	int h;

	/* spins polls, and then on until VIO_WAIT_S RTC seconds have passed:
	 * on a slow machine the device process may not run for a while. */
	for (i = 0; i < 100 * spins; i++) {
		h = vio_get_used(q, len);
		if (h >= 0)
			return h;
		if (i % 100000 == 99999) {
			now = cmos_read(0);
			ticks += now != sec;
			sec = now;
			if (i >= spins && ticks > VIO_WAIT_S)
				break;
		}
	}
	return -1;
}

/* ---- memory ----------------------------------------------------------------- */

static uint64_t dma_next;

uint64_t vio_dma_alloc(uint64_t size, uint64_t align)
{
	uint64_t a;

	if (!dma_next) {
		dma_next = ((uintptr_t)__image_end + 0xfff) & ~0xfffull;
		if (dma_next < 0x1000000)
			dma_next = 0x1000000;
	}
	a = (dma_next + align - 1) & ~(align - 1);
	if (bp_e820_count() && !bp_e820_covers(a, size))
		return 0;
	dma_next = a + size;
	return a;
}

void vio_zero(void *p, uint64_t n)
{
	vio_fill64(p, 0, n);
}

void vio_fill64(void *p, uint64_t v, uint64_t n)
{
	uint64_t cnt = n / 8;

	__asm__ volatile("rep stosq" : "+D"(p), "+c"(cnt) : "a"(v) : "memory");
}

uint64_t vio_scan64(const void *p, uint64_t v, uint64_t n)
{
	const void *d = p;
	uint64_t cnt = n / 8;
	bool eq;

	if (!cnt)
		return 0;
	__asm__ volatile("repe scasq" : "+D"(d), "+c"(cnt), "=@ccz"(eq) : "a"(v) : "memory");
	return eq ? n / 8 : ((uintptr_t)d - (uintptr_t)p) / 8 - 1;
}

/* ---- ending and time ---------------------------------------------------------- */

void vio_end(const char *name)
{
	char buf[4];

	if (cmdline_get("qemu_exit", buf, sizeof(buf))) {
		if (t_failures())
			printf("FAIL %s: %u checks failed\n", name, t_failures());
		else
			printf("PASS %s\n", name);
		outb(0xf4, t_failures() ? 1 : 0);
	}
	t_end();
}

void vio_deadline_start(struct vio_deadline *d, unsigned seconds)
{
	d->last = cmos_read(0);
	d->ticks = 0;
	d->calls = 0;
	d->seconds = seconds;
}

bool vio_deadline_passed(struct vio_deadline *d)
{
	uint8_t now;

	if (d->calls++ % 256)
		return false;
	now = cmos_read(0);
	if (now != d->last) {
		d->last = now;
		d->ticks++;
	}
	return d->ticks > d->seconds;
}
