/*
 * The monitor's PCI side against the guest: configuration mechanism #1
 * (monitor/pci.c, ports 0xCF8/0xCFC) and the virtio-pci functions on bus 0
 * (monitor/vpci.c), every access dispatched by the real trap bus as a
 * vCPU's exit hands it over: BAR sizing and moves, the MSI-X table and
 * PBA, MSI-X and INTx switched on and off. KVM is fakekvm.c (ioctl is
 * wrapped at link time); BAR0's regions are served by a stub standing in
 * for the device's host. This is the x86 build's PCI (arch_x86.c's
 * arch_pci): config space through 0xCF8/0xCFC; ECAM, the same accesses
 * by another decoding, is tested by tests/unit/monitor/test_pci.c.
 *
 * Input (see README.md): function count u8 (1 + b % 4), kinds u8 (2 bits
 * per function: blk, rng, console, one with 4 queues and 5 vectors), then
 * ops (& 7):
 *   0 latch  value le32: write 0xCF8 (op bit 3: read it back instead)
 *   1 data   offset u8 (& 7), lenc u8 (bit 2: write), value: port 0xCFC + offset
 *   2 cfg    dev u8, reg u8, lenc u8 (bit 2: write), value: latch, then data
 *   3 size   dev u8, bar u8 (% 6), flags u8 (bit 0: memory decoding off
 *            around it, as Linux does; bit 1: restore the BAR after)
 *   4 move   dev u8, bar u8 (% 6), how u8: bit 0: onto function u8's BAR0
 *            or BAR2 (u8 bit 0) at page u8 of it; else a raw le64 address
 *   5 mmio   where u8 (bits 0-1: raw le64 | BAR0 region u8, offset le16 |
 *            MSI-X entry u8, byte u8 | MSI-X BAR offset le16; bits 2-3: the
 *            function), lenc u8 (bit 2: write), value
 *   6 ctl    dev u8, which u8 (bit 0: MSI-X message control, else command), le16
 *   7 fail   n u8, errno u8: after (n >> 2) & 3 assigning KVM calls, the next n & 3 fail
 * Checks after every access: a read's bytes past len are zero and the rest
 * what the guest must see (config bytes, all-ones where nothing answers,
 * the function's BAR0 stub, the MSI-X entry as written, zeros for the PBA
 * and unclaimed MMIO); BAR sizing reads back the size mask; every MMIO
 * region on the bus is a function's and lies where that function's BAR
 * decodes, BAR0 all four regions or none; a BAR whose address did not
 * change keeps its regions (a move of one BAR never unmaps another's); a
 * BAR that moved is mapped exactly when its new range is free, and one
 * left unmapped (its range taken) is mapped once the range frees; KVM holds
 * the function's ioeventfds exactly at its mapped BAR0's doorbells, its
 * irqfds exactly for the vectors (and INTx) vpci says are live, and for
 * each live vector the MSI route of the message the guest wrote; without
 * injected failures, the live vectors and INTx are what the MSI-X control
 * and command registers ask for. At the end every function is destroyed:
 * KVM and the bus hold nothing, and no fd is left open.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arch.h"
#include "fakekvm.h"
#include "harness.h"
#include "log.h"
#include "machine.h"
#include "pci.h"
#include "virtio_pci.h"
#include "vm.h"
#include "vpci.h"

#define MAX_FUNCS	4
#define MAX_STEPS	4096
#define NONE		PCI_BAR_NONE
#define PCI_COMMAND	0x04
#define PCI_BAR0	0x10
#define CMD_MEMORY	0x0002
#define CMD_INTX_OFF	0x0400
#define MSIX_ENABLE	0x8000
#define MSIX_MASKALL	0x4000
#define LATCH_MASK	0x80fffffcu	/* the bits of 0xCF8 that stick */
#define MAX_SPANS	(MAX_FUNCS * (VIRTIO_PCI_NREGIONS + 1) + 2)

/* One function: the struct is its BAR0 stub's opaque, vp the MSI-X table's. */
struct fzf {
	unsigned idx;
	struct vpci vp;
	uint32_t table[DEVICE_MAX_VECTORS][4];	/* what the guest wrote into the MSI-X table */
};

/* What the MMIO bus holds for one function, and where its BARs decode. */
struct fn_layout {
	uint64_t bar0[VIRTIO_PCI_NREGIONS];	/* base of each BAR0 region, or NONE */
	uint64_t msix;				/* base of the MSI-X BAR's region, or NONE */
	uint64_t decoded[2];			/* pci_bar_addr of BAR0 and BAR2 */
};

struct layout {
	struct fn_layout f[MAX_FUNCS];
};

struct span {
	uint64_t base, size;
};

static const struct vpci_ident kinds[4] = {
	{ VIRTIO_ID_BLOCK, 0x018000, 1, 2 },	/* as devices/virtio_blk.c */
	{ VIRTIO_ID_RNG, 0xff0000, 1, 2 },	/* virtio_rng.c */
	{ VIRTIO_ID_CONSOLE, 0x078000, 2, 3 },	/* virtio_console.c */
	{ VIRTIO_ID_CONSOLE, 0x078000, DEVICE_MAX_QUEUES, DEVICE_MAX_VECTORS },	/* the most allowed */
};
static const unsigned bar_slot[2] = { 0, VPCI_BAR_MSIX };
static const uint64_t bar_size[2] = { VIRTIO_PCI_BAR0_SIZE, VPCI_MSIX_BAR_SIZE };

static struct vm vm;
static struct pci_host ph;
static struct fzf fns[MAX_FUNCS];
static unsigned nfns;
static uint32_t latch;		/* what the guest last wrote to 0xCF8 */
static uint8_t poison;

/* vpci_new's call into monitor/machine.c: only vpci_create is driven here. */
void machine_spec_set_pci(struct machine_spec *ms, uint64_t bar0, const uint32_t *gsis,
			  unsigned n, uint32_t intx_gsi)
{
	fz_fail("machine_spec_set_pci called");
}

static uint64_t ones(unsigned len)
{
	return len >= 8 ? ~0ull : (1ull << (8 * len)) - 1;
}

static uint64_t bar0_value(const struct fzf *f, uint64_t addr)
{
	return 0x0101010101010101ull * (f->idx + 1) ^ addr;
}

/* BAR0's regions, as the device's host serves them: only the function's own. */
static int bar0_trap(void *opaque, struct trap *t)
{
	struct fzf *f = opaque;
	uint64_t b = f->vp.bar0;

	FZ_CHECK(t->region < VIRTIO_PCI_NREGIONS && t->offset + t->len <= VIRTIO_PCI_REGION_SIZE &&
		 b != NONE && t->addr == b + t->region * VIRTIO_PCI_REGION_SIZE + t->offset,
		 "access at 0x%llx reached function %u (BAR0 at 0x%llx) as region %u +0x%llx",
		 (unsigned long long)t->addr, f->idx, (unsigned long long)b, t->region,
		 (unsigned long long)t->offset);
	if (!t->is_write)
		trap_set_value(t, bar0_value(f, t->addr));
	return 0;
}

static struct pci_func *func_at(unsigned dev)
{
	dev &= 31;
	return dev == 0 ? &ph.bridge : ph.slot[dev];
}

static struct fzf *fzf_at(unsigned dev)
{
	struct pci_func *pf = func_at(dev);

	for (unsigned i = 0; i < nfns; i++)
		if (pf == &fns[i].vp.func)
			return &fns[i];
	return NULL;
}

/* The address the guest programmed into BAR0 or BAR2 (decoding or not). */
static uint64_t bar_reg(const struct fzf *f, unsigned b)
{
	unsigned off = PCI_BAR0 + 4 * bar_slot[b];
	uint64_t a = pci_cfg_get32(&f->vp.func, off) & ~0xfull;

	if (b == 0)
		a |= (uint64_t)pci_cfg_get32(&f->vp.func, off + 4) << 32;
	return a;
}

/*
 * The bus as it is, and the invariants. Not coverage-instrumented: a
 * check's branches are no new behaviour of the code under test, and
 * tracing their comparisons cost most of the time per input.
 */
#pragma clang attribute push(__attribute__((no_sanitize("coverage"))), apply_to = function)

static void layout_add(struct layout *l, const struct trap_region *r)
{
	for (unsigned i = 0; i < nfns; i++) {
		struct fn_layout *fl = &l->f[i];

		if (r->fn == bar0_trap && r->opaque == &fns[i]) {
			FZ_CHECK(r->region < VIRTIO_PCI_NREGIONS && r->size == VIRTIO_PCI_REGION_SIZE &&
				 fl->bar0[r->region] == NONE,
				 "function %u: BAR0 region %u at 0x%llx size 0x%llx", i, r->region,
				 (unsigned long long)r->base, (unsigned long long)r->size);
			fl->bar0[r->region] = r->base;
			return;
		}
		if (r->opaque == &fns[i].vp) {
			FZ_CHECK(r->size == VPCI_MSIX_BAR_SIZE && fl->msix == NONE,
				 "function %u: a second MSI-X region at 0x%llx", i,
				 (unsigned long long)r->base);
			fl->msix = r->base;
			return;
		}
	}
	fz_fail("MMIO region at 0x%llx (%s) belongs to no function", (unsigned long long)r->base,
		r->name ? r->name : "-");
}

static void layout_read(struct layout *l)
{
	const struct trapbus_map *m = atomic_load(&vm.bus.map[TRAP_MMIO]);

	memset(l, 0, sizeof(*l));
	for (unsigned i = 0; i < nfns; i++) {
		struct fn_layout *fl = &l->f[i];

		for (unsigned r = 0; r < VIRTIO_PCI_NREGIONS; r++)
			fl->bar0[r] = NONE;
		fl->msix = NONE;
		for (unsigned b = 0; b < 2; b++)
			fl->decoded[b] = pci_bar_addr(&fns[i].vp.func, bar_slot[b]);
	}
	for (unsigned k = 0; k < m->n; k++)
		layout_add(l, &m->r[k]);
}

/* BAR b's regions: (base, size) if mapped, else size 0. */
static struct span mapped(const struct fn_layout *fl, unsigned b)
{
	if (b == 1)
		return fl->msix == NONE ? (struct span){ 0, 0 } : (struct span){ fl->msix, VPCI_MSIX_BAR_SIZE };
	return fl->bar0[0] == NONE ? (struct span){ 0, 0 } : (struct span){ fl->bar0[0], VIRTIO_PCI_BAR0_SIZE };
}

/* ---- Invariants ---- */

/* The bus agrees with what vpci thinks it mapped, and that is where the BARs decode. */
static void check_mapped(const struct fzf *f, const struct fn_layout *fl)
{
	const struct vpci *vp = &f->vp;

	for (unsigned r = 0; r < VIRTIO_PCI_NREGIONS; r++)
		FZ_CHECK(fl->bar0[r] == (vp->bar0 == NONE ? NONE : vp->bar0 + r * VIRTIO_PCI_REGION_SIZE),
			 "function %u: BAR0 region %u at 0x%llx, vpci has BAR0 at 0x%llx", f->idx, r,
			 (unsigned long long)fl->bar0[r], (unsigned long long)vp->bar0);
	FZ_CHECK(vp->bar0 == NONE || vp->bar0 == fl->decoded[0],
		 "function %u: BAR0 mapped at 0x%llx but decodes at 0x%llx", f->idx,
		 (unsigned long long)vp->bar0, (unsigned long long)fl->decoded[0]);
	FZ_CHECK(fl->msix == vp->bar_msix && (fl->msix == NONE || fl->msix == fl->decoded[1]),
		 "function %u: MSI-X region at 0x%llx, vpci has 0x%llx, BAR2 decodes at 0x%llx",
		 f->idx, (unsigned long long)fl->msix, (unsigned long long)vp->bar_msix,
		 (unsigned long long)fl->decoded[1]);
}

/* KVM holds the function's doorbells, irqfds and routes as vpci says. */
static void check_kvm(const struct fzf *f, unsigned *nioev, unsigned *nirqfd)
{
	const struct vpci *vp = &f->vp;
	const struct fakekvm_irqfd *e;

	for (unsigned q = 0; q < vp->nqueues; q++) {
		const struct fakekvm_ioeventfd *io = vp->bar0 == NONE ? NULL :
			fakekvm_ioeventfd_find(VIRTIO_PCI_NOTIFY_ADDR(vp->bar0, q));

		FZ_CHECK(vp->bar0 == NONE || (io && io->fd == vp->ioeventfd[q] && io->len == 0),
			 "function %u: no ioeventfd for queue %u at BAR0 0x%llx", f->idx, q,
			 (unsigned long long)vp->bar0);
		*nioev += vp->bar0 != NONE;
	}
	for (unsigned v = 0; v < vp->nvectors; v++) {
		const struct fakekvm_route *rt = fakekvm_msi_route(vp->gsi[v]);
		const uint32_t *w = f->table[v];

		e = fakekvm_irqfd_find(vp->irqfd[v]);
		FZ_CHECK(!!e == vp->irqfd_on[v] && (!e || (e->gsi == vp->gsi[v] && e->resamplefd < 0)),
			 "function %u vector %u: KVM irqfd %s, vpci says %s", f->idx, v,
			 e ? "assigned" : "not assigned", vp->irqfd_on[v] ? "on" : "off");
		FZ_CHECK(!e || !fakekvm.routes_set ||
			 (rt && rt->addr == ((uint64_t)w[1] << 32 | w[0]) && rt->data == w[2]),
			 "function %u vector %u is live on GSI %u without the route of its message",
			 f->idx, v, vp->gsi[v]);
		*nirqfd += !!e;
	}
	e = fakekvm_irqfd_find(vp->intx_fd);
	FZ_CHECK(!!e == vp->intx_on && (!e || (e->gsi == vp->intx_gsi &&
					      e->resamplefd == vp->intx_resample_fd)),
		 "function %u: KVM INTx irqfd %s, vpci says %s", f->idx, e ? "assigned" : "not",
		 vp->intx_on ? "on" : "off");
	*nirqfd += !!e;
}

/* Without injected failures, what is live is what the registers ask for. */
static void check_wanted(const struct fzf *f)
{
	const struct vpci *vp = &f->vp;
	uint16_t ctl = pci_cfg_get16(&vp->func, vp->msix_cap + 2);
	uint16_t cmd = pci_cfg_get16(&vp->func, PCI_COMMAND);
	bool on = (ctl & MSIX_ENABLE) && !(ctl & MSIX_MASKALL);

	for (unsigned v = 0; v < vp->nvectors; v++)
		FZ_CHECK(vp->irqfd_on[v] == (on && !(f->table[v][3] & 1)),
			 "function %u vector %u: %s with MSI-X control 0x%04x and vector control 0x%x",
			 f->idx, v, vp->irqfd_on[v] ? "live" : "not live", ctl, f->table[v][3]);
	FZ_CHECK(vp->intx_on == (!(ctl & MSIX_ENABLE) && !(cmd & CMD_INTX_OFF)),
		 "function %u: INTx %s with command 0x%04x and MSI-X control 0x%04x", f->idx,
		 vp->intx_on ? "on" : "off", cmd, ctl);
}

static bool overlaps(const struct span *s, unsigned n, uint64_t base, uint64_t size)
{
	for (unsigned i = 0; i < n; i++)
		if (s[i].size && base < s[i].base + s[i].size && s[i].base < base + size)
			return true;
	return false;
}

/*
 * What pci.c does after a BAR change, simulated on the layout before it:
 * first the BARs whose decoded address changed, in the order pci.c
 * reports them: each loses its old regions and is mapped at its new
 * address exactly when the range does not wrap and nothing mapped
 * overlaps it by then; then, if any moved, every BAR that decodes but is
 * not mapped (its range was taken), slot by slot, BAR by BAR, is mapped
 * if its range is free by then (bars_retry). The result must be the
 * layout after.
 */
static void check_moves(const struct layout *a, const struct layout *b)
{
	struct span occ[MAX_SPANS];
	unsigned n = 0;
	bool moved = false;

	for (unsigned i = 0; i < nfns; i++)
		for (unsigned k = 0; k < 2; k++)
			occ[n++] = mapped(&a->f[i], k);
	for (unsigned i = 0; i < nfns; i++) {
		for (unsigned k = 0; k < 2; k++) {
			uint64_t at = b->f[i].decoded[k], size = bar_size[k];

			if (at == a->f[i].decoded[k])
				continue;
			moved = true;
			occ[2 * i + k].size = 0;
			if (at != NONE && at + size > at && !overlaps(occ, n, at, size))
				occ[2 * i + k] = (struct span){ at, size };
		}
	}
	for (unsigned i = 0; moved && i < nfns; i++) {
		for (unsigned k = 0; k < 2; k++) {
			uint64_t at = b->f[i].decoded[k], size = bar_size[k];

			if (at != NONE && !occ[2 * i + k].size && at + size > at &&
			    !overlaps(occ, n, at, size))
				occ[2 * i + k] = (struct span){ at, size };
		}
	}
	for (unsigned i = 0; i < nfns; i++) {
		for (unsigned k = 0; k < 2; k++) {
			struct span now = mapped(&b->f[i], k), want = occ[2 * i + k];

			FZ_CHECK(now.size == want.size && (!want.size || now.base == want.base),
				 "function %u: BAR%u decodes at 0x%llx (was 0x%llx): %s 0x%llx, "
				 "should be %s", i, bar_slot[k],
				 (unsigned long long)b->f[i].decoded[k],
				 (unsigned long long)a->f[i].decoded[k],
				 now.size ? "mapped at" : "not mapped; was at",
				 (unsigned long long)(now.size ? now.base : mapped(&a->f[i], k).base),
				 want.size ? "mapped" : "not mapped (its range is taken)");
		}
	}
}

/*
 * After one access (before: the bus just before it). failed: a KVM call
 * failed on purpose during it, so a BAR that moved may stay unmapped.
 */
static void check_step(const struct layout *before, bool failed)
{
	struct layout after;
	unsigned nioev = 0, nirqfd = 0;

	layout_read(&after);
	for (unsigned i = 0; i < nfns; i++) {
		check_mapped(&fns[i], &after.f[i]);
		check_kvm(&fns[i], &nioev, &nirqfd);
		if (!fakekvm.failed)
			check_wanted(&fns[i]);
		for (unsigned k = 0; before && k < 2; k++) {
			struct span s0 = mapped(&before->f[i], k), s1 = mapped(&after.f[i], k);

			/* Unchanged, or mapped now that its range is free (bars_retry). */
			FZ_CHECK(before->f[i].decoded[k] != after.f[i].decoded[k] ||
				 (s0.size == s1.size && s0.base == s1.base) ||
				 (!s0.size && s1.size && s1.base == after.f[i].decoded[k]),
				 "function %u: BAR%u still decodes at 0x%llx but its regions went from 0x%llx (%s) to 0x%llx (%s)",
				 i, bar_slot[k], (unsigned long long)after.f[i].decoded[k],
				 (unsigned long long)s0.base, s0.size ? "mapped" : "none",
				 (unsigned long long)s1.base, s1.size ? "mapped" : "none");
		}
	}
	FZ_CHECK(nioev == fakekvm.nioeventfd && nirqfd == fakekvm.nirqfd,
		 "KVM holds %u ioeventfds and %u irqfds, the functions account for %u and %u",
		 fakekvm.nioeventfd, fakekvm.nirqfd, nioev, nirqfd);
	if (before && !failed)
		check_moves(before, &after);
}

/*
 * A read, or a write of the 0xCF8 latch, changes nothing else: the same
 * bus maps (any change swaps them), no KVM call, the functions' state as
 * it was (cheap enough for every such access; the full checks are for
 * the writes that may change things).
 */
static void check_quiet(const struct trap *t, struct trapbus_map *const *maps, unsigned calls,
			const struct vpci *vps)
{
	FZ_CHECK(atomic_load(&vm.bus.map[TRAP_PIO]) == maps[TRAP_PIO] &&
		 atomic_load(&vm.bus.map[TRAP_MMIO]) == maps[TRAP_MMIO] && fakekvm.calls == calls,
		 "%s at %s 0x%llx changed the bus or called KVM", t->is_write ? "write" : "read",
		 t->bus == TRAP_PIO ? "port" : "mmio", (unsigned long long)t->addr);
	for (unsigned i = 0; i < nfns; i++)
		FZ_CHECK(memcmp(&vps[i], &fns[i].vp, sizeof(vps[i])) == 0,
			 "%s at %s 0x%llx changed function %u", t->is_write ? "write" : "read",
			 t->bus == TRAP_PIO ? "port" : "mmio", (unsigned long long)t->addr, i);
}

#pragma clang attribute pop

/* ---- Accesses ---- */

/*
 * One access as a vCPU exit hands it to the bus; returns a read's value,
 * whose bytes past len must be zero. Checks the invariants after it.
 */
static uint64_t bus_access(uint8_t bus, uint64_t addr, unsigned len, bool write, uint64_t value)
{
	struct trap t = { .bus = bus, .len = (uint8_t)len, .is_write = write, .addr = addr };
	bool quiet = !write || (bus == TRAP_PIO && addr == PCI_CONFIG_ADDR_PORT);
	struct trapbus_map *maps[TRAP_NBUS] = { atomic_load(&vm.bus.map[TRAP_PIO]),
						atomic_load(&vm.bus.map[TRAP_MMIO]) };
	static struct vpci vps[MAX_FUNCS];
	unsigned failed = fakekvm.failed, calls = fakekvm.calls;
	struct layout before;
	uint64_t v = 0;

	if (quiet)
		for (unsigned i = 0; i < nfns; i++)
			vps[i] = fns[i].vp;
	else
		layout_read(&before);
	if (write)
		memcpy(t.data, &value, 8);
	else
		memset(t.data, 0xa5 ^ ++poison, 8);
	trapbus_dispatch(&vm.bus, &t);
	if (!write) {
		for (unsigned i = len; i < 8; i++)
			FZ_CHECK(t.data[i] == 0, "%u-byte read at %s 0x%llx: byte %u is 0x%02x", len,
				 bus == TRAP_PIO ? "port" : "mmio", (unsigned long long)addr, i, t.data[i]);
		memcpy(&v, t.data, len);
	}
	if (quiet)
		check_quiet(&t, maps, calls, vps);
	else
		check_step(&before, fakekvm.failed != failed);
	return v;
}

/* What a read of len bytes at 0xCFC + off returns (before it). */
static uint64_t cfg_expect(unsigned off, unsigned len)
{
	unsigned bus = (latch >> 16) & 0xff, fn = (latch >> 8) & 7, reg = latch & 0xfc;
	struct pci_func *f = func_at(latch >> 11);
	uint64_t v = 0;

	if (off + len > 4 || !(latch & 0x80000000u) || bus || fn || !f)
		return ones(len);	/* unclaimed port, or no function: all-ones */
	memcpy(&v, &f->cfg[reg + off], len);
	return v;
}

static uint64_t data_access(unsigned off, unsigned len, bool write, uint64_t value)
{
	uint64_t want = cfg_expect(off, len), got;

	got = bus_access(TRAP_PIO, PCI_CONFIG_DATA_PORT + off, len, write, value);
	FZ_CHECK(write || got == want, "config read of %u bytes at 0x%x (latch 0x%08x): 0x%llx, want 0x%llx",
		 len, off, latch, (unsigned long long)got, (unsigned long long)want);
	return got;
}

static void latch_write(uint32_t v)
{
	bus_access(TRAP_PIO, PCI_CONFIG_ADDR_PORT, 4, true, v);
	latch = v & LATCH_MASK;
}

static uint32_t cfg_rd(unsigned dev, unsigned reg, unsigned len)
{
	latch_write(0x80000000u | (dev & 31) << 11 | (reg & 0xfc));
	return (uint32_t)data_access(reg & 3, len, false, 0);
}

static void cfg_wr(unsigned dev, unsigned reg, unsigned len, uint32_t v)
{
	latch_write(0x80000000u | (dev & 31) << 11 | (reg & 0xfc));
	data_access(reg & 3, len, true, v);
}

/* What a BAR register reads after all-ones was written to it. */
static uint32_t size_mask(unsigned dev, unsigned bar)
{
	if (!func_at(dev))
		return 0xffffffffu;
	if (!fzf_at(dev))
		return 0;	/* the host bridge has no BARs */
	if (bar == 0)
		return (uint32_t)~((uint64_t)VIRTIO_PCI_BAR0_SIZE - 1) | 0x4;	/* 64-bit memory BAR */
	if (bar == 1)
		return (uint32_t)(~((uint64_t)VIRTIO_PCI_BAR0_SIZE - 1) >> 32);
	return bar == VPCI_BAR_MSIX ? (uint32_t)~(VPCI_MSIX_BAR_SIZE - 1) : 0;
}

static void op_size(struct fz_in *in)
{
	unsigned dev = fz_u8(in) & 31, bar = fz_u8(in) % 6, flags = fz_u8(in);
	unsigned reg = PCI_BAR0 + 4 * bar;
	uint32_t cmd = cfg_rd(dev, PCI_COMMAND, 2), old = cfg_rd(dev, reg, 4), got;

	if (flags & 1)
		cfg_wr(dev, PCI_COMMAND, 2, cmd & ~CMD_MEMORY);
	cfg_wr(dev, reg, 4, 0xffffffffu);
	got = cfg_rd(dev, reg, 4);
	FZ_CHECK(got == size_mask(dev, bar), "00:%02x.0 BAR%u sized: 0x%08x, want 0x%08x", dev, bar,
		 got, size_mask(dev, bar));
	if (flags & 2)
		cfg_wr(dev, reg, 4, old);
	if (flags & 1)
		cfg_wr(dev, PCI_COMMAND, 2, cmd);
}

static void op_move(struct fz_in *in)
{
	unsigned dev = fz_u8(in) & 31, bar = fz_u8(in) % 6, how = fz_u8(in);
	uint64_t addr;

	if (how & 1) {
		const struct fzf *o = &fns[fz_u8(in) % nfns];
		unsigned k = fz_u8(in) & 1, page = fz_u8(in);

		addr = bar_reg(o, k) + (page % (bar_size[k] / 4096)) * 4096;
	} else {
		addr = fz_le(in, 8);
	}
	cfg_wr(dev, PCI_BAR0 + 4 * bar, 4, (uint32_t)addr);
	if (bar == 0)	/* BAR0 is 64-bit: the high half next, as Linux writes it */
		cfg_wr(dev, PCI_BAR0 + 4, 4, (uint32_t)(addr >> 32));
}

static bool inside(uint64_t addr, unsigned len, uint64_t base, uint64_t size)
{
	return base != NONE && addr >= base && addr - base < size && len <= size - (addr - base);
}

/*
 * What an MMIO read returns (*mask: the bits to compare), and for a write,
 * the MSI-X table word it lands in (or NULL), from the bus before it.
 */
static uint64_t mmio_expect(const struct layout *l, uint64_t addr, unsigned len, uint64_t *mask,
			    uint32_t **word)
{
	*mask = ones(len);
	*word = NULL;
	for (unsigned i = 0; i < nfns; i++) {
		const struct fn_layout *fl = &l->f[i];
		uint64_t off = addr - fl->msix, v = off / 16;

		for (unsigned r = 0; r < VIRTIO_PCI_NREGIONS; r++)
			if (inside(addr, len, fl->bar0[r], VIRTIO_PCI_REGION_SIZE))
				return bar0_value(&fns[i], addr) & ones(len);
		if (!inside(addr, len, fl->msix, VPCI_MSIX_BAR_SIZE))
			continue;
		if (off >= VPCI_MSIX_PBA_OFF || v >= fns[i].vp.nvectors || len != 4 || off % 4)
			return 0;	/* the PBA (nothing pending), or not a table dword */
		*word = &fns[i].table[v][off % 16 / 4];
		if (off % 16 == 12)
			*mask = 1;	/* vector control: only the mask bit is the guest's */
		return **word;
	}
	return 0;	/* unclaimed MMIO reads as zeros */
}

static void op_mmio(struct fz_in *in)
{
	uint8_t where = fz_u8(in), lenc;
	const struct fzf *f = &fns[(where >> 2) % nfns];
	struct layout l;
	uint64_t addr, want, mask, value = 0, got;
	uint32_t *word;
	unsigned len;

	switch (where & 3) {
	case 0:
		addr = fz_le(in, 8);
		break;
	case 1:
		addr = bar_reg(f, 0) + (fz_u8(in) % VIRTIO_PCI_NREGIONS) * VIRTIO_PCI_REGION_SIZE;
		addr += fz_le(in, 2) % VIRTIO_PCI_REGION_SIZE;
		break;
	case 2:
		addr = bar_reg(f, 1) + 16ull * (fz_u8(in) % (DEVICE_MAX_VECTORS + 2));
		addr += fz_u8(in) % 16;
		break;
	default:
		addr = bar_reg(f, 1) + fz_le(in, 2) % VPCI_MSIX_BAR_SIZE;
		break;
	}
	lenc = fz_u8(in);
	len = 1u << (lenc & 3);
	if (lenc & 4)
		value = fz_le(in, len);
	layout_read(&l);
	want = mmio_expect(&l, addr, len, &mask, &word);
	if ((lenc & 4) && word)
		*word = (uint32_t)value;	/* before: the checks after the access use it */
	got = bus_access(TRAP_MMIO, addr, len, lenc & 4, value);
	if (lenc & 4)
		return;
	FZ_CHECK((got & mask) == (want & mask), "%u-byte MMIO read at 0x%llx: 0x%llx, want 0x%llx",
		 len, (unsigned long long)addr, (unsigned long long)got, (unsigned long long)want);
}

static void op_latch(struct fz_in *in, uint8_t op)
{
	uint32_t v = (uint32_t)fz_le(in, 4), got;

	if (!(op & 8)) {
		latch_write(v);
		return;
	}
	got = (uint32_t)bus_access(TRAP_PIO, PCI_CONFIG_ADDR_PORT, 4, false, 0);
	FZ_CHECK(got == latch, "0xCF8 reads 0x%08x, 0x%08x was written", got, latch);
}

static void op_data(struct fz_in *in, bool cfg)
{
	unsigned dev = cfg ? fz_u8(in) : 0, reg = cfg ? fz_u8(in) : fz_u8(in) & 7;
	uint8_t lenc = fz_u8(in);
	unsigned len = 1u << (lenc & 3);
	uint64_t value = (lenc & 4) ? fz_le(in, len) : 0;

	if (cfg) {
		latch_write(0x80000000u | (dev & 31) << 11 | (reg & 0xfc));
		reg &= 3;
	}
	data_access(reg, len, lenc & 4, value);
}

static void op_ctl(struct fz_in *in)
{
	unsigned dev = fz_u8(in) & 31, which = fz_u8(in) & 1;
	uint16_t v = (uint16_t)fz_le(in, 2);
	const struct fzf *f = fzf_at(dev);

	cfg_wr(dev, which ? (f ? f->vp.msix_cap : fns[0].vp.msix_cap) + 2 : PCI_COMMAND, 2, v);
}

static void op_fail(struct fz_in *in)
{
	static const int errs[4] = { ENOMEM, ENOSPC, EINVAL, EBUSY };

	uint8_t n = fz_u8(in);

	fakekvm.fail_next = n & 3;
	fakekvm.fail_skip = (n >> 2) & 3;
	fakekvm.fail_errno = errs[fz_u8(in) & 3];
}

/* ---- One machine per input ---- */

static void world_create(uint8_t n, uint8_t k)
{
	fakekvm_reset();
	if (trapbus_init(&vm.bus) || irq_routes_init(&vm.irq, fakekvm.vm_fd) ||
	    pci_host_init(&ph, &vm.bus, &arch_pci.host))
		fz_fail("setting up the bus");
	vm.vm_fd = fakekvm.vm_fd;
	vm.pci = &ph;
	latch = 0;
	nfns = 1 + n % MAX_FUNCS;
	for (unsigned i = 0; i < nfns; i++) {
		struct fzf *f = &fns[i];
		char id[16];

		memset(f, 0, sizeof(*f));
		f->idx = i;
		for (unsigned v = 0; v < DEVICE_MAX_VECTORS; v++)
			f->table[v][3] = 1;	/* masked at reset */
		snprintf(id, sizeof(id), "fn%u", i);
		if (vpci_create(&f->vp, &vm, &ph, id, &kinds[(k >> (2 * i)) & 3], bar0_trap, f, NULL))
			fz_fail("vpci_create of function %u", i);
		FZ_CHECK(f->vp.bar0 != NONE && f->vp.bar_msix != NONE,
			 "function %u: a BAR is not mapped where pci_func_add put it", i);
	}
	check_step(NULL, false);
}

static void world_destroy(void)
{
	for (unsigned i = 0; i < nfns; i++)
		vpci_destroy(&fns[i].vp, &ph);
	FZ_CHECK(fakekvm.nirqfd == 0 && fakekvm.nioeventfd == 0,
		 "after vpci_destroy KVM still holds %u irqfds and %u ioeventfds", fakekvm.nirqfd,
		 fakekvm.nioeventfd);
	FZ_CHECK(atomic_load(&vm.bus.map[TRAP_MMIO])->n == 0,
		 "after vpci_destroy %u MMIO regions are left", atomic_load(&vm.bus.map[TRAP_MMIO])->n);
	pci_host_destroy(&ph, &vm.bus);
	FZ_CHECK(atomic_load(&vm.bus.map[TRAP_PIO])->n == 0, "after pci_host_destroy ports are left");
	irq_routes_destroy(&vm.irq);
	trapbus_destroy(&vm.bus);
	nfns = 0;
}

/* The lowest free fd number: the same after an input as before it, or an fd leaked. */
static int lowest_free_fd(void)
{
	int fd = dup(0);

	if (fd < 0)
		fz_fail("dup");
	close(fd);
	return fd;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	/* The guest's mistakes are logged (vpci_warn): below LOG_ERR, nothing. */
	if (!getenv("FUZZ_VERBOSE"))
		log_set_level((enum log_level)-1);
	fakekvm_reset();	/* opens the VM fd once, before the fd count is taken */
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct fz_in in = { data, size };
	int fd0 = lowest_free_fd();
	uint8_t n = fz_u8(&in), k = fz_u8(&in);

	world_create(n, k);
	for (unsigned step = 0; step < MAX_STEPS && fz_more(&in); step++) {
		uint8_t op = fz_u8(&in);

		switch (op & 7) {
		case 0: op_latch(&in, op); break;
		case 1: op_data(&in, false); break;
		case 2: op_data(&in, true); break;
		case 3: op_size(&in); break;
		case 4: op_move(&in); break;
		case 5: op_mmio(&in); break;
		case 6: op_ctl(&in); break;
		default: op_fail(&in); break;
		}
	}
	world_destroy();
	FZ_CHECK(lowest_free_fd() == fd0, "an fd was left open (lowest free %d, was %d)",
		 lowest_free_fd(), fd0);
	return 0;
}
