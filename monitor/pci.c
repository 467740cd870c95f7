#include "pci.h"

#include <errno.h>
#include <string.h>

/* Host bridge identity: Red Hat's generic PCIe host bridge IDs, class 06/00. */
#define PCI_BRIDGE_VENDOR 0x1b36
#define PCI_BRIDGE_DEVICE 0x0008

#define PCI_COMMAND        0x04
#define PCI_COMMAND_MEMORY 0x02
#define PCI_COMMAND_MASTER 0x04
#define PCI_BAR0           0x10
#define PCI_BAR_MEM64      0x04

void pci_cfg_put16(struct pci_func *f, unsigned off, uint16_t v)
{
	f->cfg[off] = v & 0xff;
	f->cfg[off + 1] = v >> 8;
}

void pci_cfg_put32(struct pci_func *f, unsigned off, uint32_t v)
{
	pci_cfg_put16(f, off, v & 0xffff);
	pci_cfg_put16(f, off + 2, v >> 16);
}

uint16_t pci_cfg_get16(const struct pci_func *f, unsigned off)
{
	return (uint16_t)(f->cfg[off] | f->cfg[off + 1] << 8);
}

uint32_t pci_cfg_get32(const struct pci_func *f, unsigned off)
{
	return pci_cfg_get16(f, off) | (uint32_t)pci_cfg_get16(f, off + 2) << 16;
}

static void bridge_init(struct pci_func *f)
{
	memset(f, 0, sizeof(*f));
	pci_cfg_put16(f, 0x00, PCI_BRIDGE_VENDOR);
	pci_cfg_put16(f, 0x02, PCI_BRIDGE_DEVICE);
	f->cfg[0x0b] = 0x06;			/* class: bridge, subclass 0: host */
	f->wmask[PCI_COMMAND] = PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
	f->wmask[0x0d] = 0xff;			/* latency timer */
}

void pci_func_set_bar(struct pci_func *f, unsigned bar, uint64_t size, bool mem64)
{
	unsigned off = PCI_BAR0 + 4 * bar;
	uint64_t mask = ~(size - 1);

	f->bar[bar] = (struct pci_bar){ .size = size, .mem64 = mem64, .decoded = PCI_BAR_NONE };
	pci_cfg_put32(f, off, mem64 ? PCI_BAR_MEM64 : 0);
	for (unsigned i = 0; i < 4; i++)
		f->wmask[off + i] = (uint8_t)((mask & 0xfffffff0u) >> (8 * i));
	if (mem64)
		for (unsigned i = 0; i < 4; i++)
			f->wmask[off + 4 + i] = (uint8_t)(mask >> (32 + 8 * i));
}

uint64_t pci_bar_addr(const struct pci_func *f, unsigned bar)
{
	uint64_t addr;

	if (bar >= PCI_BARS || !f->bar[bar].size ||
	    !(f->cfg[PCI_COMMAND] & PCI_COMMAND_MEMORY))
		return PCI_BAR_NONE;
	addr = pci_cfg_get32(f, PCI_BAR0 + 4 * bar) & ~0xfull;
	if (f->bar[bar].mem64)
		addr |= (uint64_t)pci_cfg_get32(f, PCI_BAR0 + 4 * bar + 4) << 32;
	return addr;
}

static void bar_tell(struct pci_func *f, unsigned b, uint64_t addr)
{
	int err = f->ops && f->ops->bar_update ? f->ops->bar_update(f->opaque, b, addr) : 0;

	f->bar[b].decoded = addr;
	f->bar[b].pending = addr != PCI_BAR_NONE && err;
}

/* Tell the function about every BAR whose decoded address changed; true if one did. */
static bool bars_update(struct pci_func *f)
{
	bool changed = false;

	for (unsigned b = 0; b < PCI_BARS; b++) {
		uint64_t addr = pci_bar_addr(f, b);

		if (f->bar[b].size && addr != f->bar[b].decoded) {
			bar_tell(f, b, addr);
			changed = true;
		}
	}
	return changed;
}

/*
 * After a BAR moved: every BAR that decodes where its function could not
 * map it (the range was taken) is offered its address again, slot by
 * slot, BAR by BAR: the function in the way may have moved. An OS that reassigns every BAR at
 * boot (Linux on arm64) passes through such overlaps.
 */
static void bars_retry(struct pci_host *ph)
{
	for (unsigned s = 1; s < PCI_SLOTS; s++)
		for (unsigned b = 0; ph->slot[s] && b < PCI_BARS; b++)
			if (ph->slot[s]->bar[b].pending)
				bar_tell(ph->slot[s], b, ph->slot[s]->bar[b].decoded);
}


static void pci_cfg_write(struct pci_host *ph, struct pci_func *f, unsigned reg,
			  const struct trap *t)
{
	for (unsigned i = 0; i < t->len; i++) {
		uint8_t m = f->wmask[reg + i];

		f->cfg[reg + i] = (uint8_t)((f->cfg[reg + i] & ~m) | (t->data[i] & m));
	}
	if (reg < PCI_BAR0 + 4 * PCI_BARS && reg + t->len > PCI_COMMAND && bars_update(f))
		bars_retry(ph);
	if (f->ops && f->ops->cfg_written)
		f->ops->cfg_written(f->opaque, reg, t->len);
}

/* A configuration access to register `reg` of f (NULL: no function there). */
static void pci_cfg_access(struct pci_host *ph, struct pci_func *f, unsigned reg, struct trap *t)
{
	if (!t->is_write) {
		trap_set_value(t, ~0ULL);
		if (f && reg + t->len <= PCI_CFG_SIZE)
			memcpy(t->data, &f->cfg[reg], t->len);
		return;
	}
	if (f && reg + t->len <= PCI_CFG_SIZE)
		pci_cfg_write(ph, f, reg, t);
}

/* Function 0 of slot `dev` on bus 0, or NULL. */
static struct pci_func *pci_func_at(struct pci_host *ph, unsigned bus, unsigned dev, unsigned fn)
{
	if (bus != 0 || fn != 0 || dev >= PCI_SLOTS)
		return NULL;
	return dev == 0 ? &ph->bridge : ph->slot[dev];
}

static int pci_addr_trap(void *opaque, struct trap *t)
{
	struct pci_host *ph = opaque;

	if (t->len != 4 || t->offset != 0)
		return -EINVAL;	/* only dword accesses reach the latch */
	pthread_mutex_lock(&ph->lock);
	if (t->is_write)
		ph->addr = (uint32_t)trap_value(t) & 0x80fffffcu;
	else
		trap_set_value(t, ph->addr);
	pthread_mutex_unlock(&ph->lock);
	return 0;
}

static int pci_data_trap(void *opaque, struct trap *t)
{
	struct pci_host *ph = opaque;

	if (t->offset + t->len > 4)
		return -EINVAL;
	pthread_mutex_lock(&ph->lock);
	uint32_t a = ph->addr;
	struct pci_func *f = a & 0x80000000u ?
		pci_func_at(ph, (a >> 16) & 0xff, (a >> 11) & 0x1f, (a >> 8) & 7) : NULL;

	pci_cfg_access(ph, f, (a & 0xfc) + (unsigned)t->offset, t);
	pthread_mutex_unlock(&ph->lock);
	return 0;
}

/*
 * ECAM: bus 0's configuration space as memory, 4 KiB per function
 * (offset = device << 15 | function << 12 | register). Accesses of 1, 2 or
 * 4 bytes, naturally aligned, as PCI allows; past the 256 bytes of
 * conventional space reads are all-ones and writes are dropped.
 */
static int pci_ecam_trap(void *opaque, struct trap *t)
{
	struct pci_host *ph = opaque;
	unsigned reg = (unsigned)(t->offset & 0xfff);

	if ((t->len != 1 && t->len != 2 && t->len != 4) || (reg & (t->len - 1u)))
		return -EINVAL;
	pthread_mutex_lock(&ph->lock);
	pci_cfg_access(ph, pci_func_at(ph, (unsigned)(t->offset >> 20), (t->offset >> 15) & 0x1f,
				   (t->offset >> 12) & 7), reg, t);
	pthread_mutex_unlock(&ph->lock);
	return 0;
}

int pci_host_init(struct pci_host *ph, struct trapbus *tb, const struct pci_host_cfg *cfg)
{
	struct trap_region addr = { .base = PCI_CONFIG_ADDR_PORT, .size = 4, .bus = TRAP_PIO,
				    .name = "pci-addr", .label = "port", .fn = pci_addr_trap, .opaque = ph };
	struct trap_region data = { .base = PCI_CONFIG_DATA_PORT, .size = 4, .bus = TRAP_PIO,
				    .name = "pci-data", .label = "port", .fn = pci_data_trap, .opaque = ph };
	struct trap_region ecam = { .base = cfg->ecam_base, .size = PCI_ECAM_BUS_SIZE,
				    .bus = TRAP_MMIO, .name = "pci-ecam", .label = "config",
				    .fn = pci_ecam_trap, .opaque = ph };
	int err;

	memset(ph, 0, sizeof(*ph));
	if (pthread_mutex_init(&ph->lock, NULL))
		return -ENOMEM;
	bridge_init(&ph->bridge);
	ph->cfg = *cfg;
	ph->mmio_next = cfg->mmio_start;
	ph->mmio_end = cfg->mmio_end;
	if (cfg->ecam) {
		err = trapbus_register(tb, &ecam);
	} else {
		err = trapbus_register(tb, &addr);
		if (!err && (err = trapbus_register(tb, &data)))
			trapbus_unregister(tb, TRAP_PIO, PCI_CONFIG_ADDR_PORT);
	}
	if (err)
		pthread_mutex_destroy(&ph->lock);
	return err;
}

void pci_host_destroy(struct pci_host *ph, struct trapbus *tb)
{
	if (ph->cfg.ecam) {
		trapbus_unregister(tb, TRAP_MMIO, ph->cfg.ecam_base);
	} else {
		trapbus_unregister(tb, TRAP_PIO, PCI_CONFIG_DATA_PORT);
		trapbus_unregister(tb, TRAP_PIO, PCI_CONFIG_ADDR_PORT);
	}
	pthread_mutex_destroy(&ph->lock);
}

/* Give every BAR of f a naturally aligned address from the window. */
static int bars_assign(struct pci_host *ph, struct pci_func *f)
{
	for (unsigned b = 0; b < PCI_BARS; b++) {
		uint64_t size = f->bar[b].size, addr;

		if (!size)
			continue;
		addr = (ph->mmio_next + size - 1) & ~(size - 1);
		if (addr + size > ph->mmio_end || addr + size < addr)
			return -ENOSPC;
		ph->mmio_next = addr + size;
		pci_cfg_put32(f, PCI_BAR0 + 4 * b,
			      (uint32_t)addr | (f->bar[b].mem64 ? PCI_BAR_MEM64 : 0));
		if (f->bar[b].mem64)
			pci_cfg_put32(f, PCI_BAR0 + 4 * b + 4, (uint32_t)(addr >> 32));
	}
	return 0;
}

int pci_func_add(struct pci_host *ph, struct pci_func *f)
{
	int slot = -ENOSPC;

	pthread_mutex_lock(&ph->lock);
	for (int s = 1; s < PCI_SLOTS && slot < 0; s++)
		if (!ph->slot[s])
			slot = s;
	if (slot > 0 && bars_assign(ph, f) == 0) {
		f->cfg[PCI_COMMAND] |= PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
		f->wmask[PCI_COMMAND] |= PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER;
		ph->slot[slot] = f;
		bars_update(f);
	} else {
		slot = -ENOSPC;
	}
	pthread_mutex_unlock(&ph->lock);
	return slot;
}

void pci_func_remove(struct pci_host *ph, struct pci_func *f)
{
	pthread_mutex_lock(&ph->lock);
	for (int s = 1; s < PCI_SLOTS; s++)
		if (ph->slot[s] == f)
			ph->slot[s] = NULL;
	f->cfg[PCI_COMMAND] &= (uint8_t)~PCI_COMMAND_MEMORY;
	if (bars_update(f))
		bars_retry(ph);
	pthread_mutex_unlock(&ph->lock);
}
