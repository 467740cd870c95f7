#include "pci.h"

#include <errno.h>
#include <string.h>

/* Host bridge identity: Red Hat's generic PCIe host bridge IDs, class 06/00. */
#define PCI_BRIDGE_VENDOR 0x1b36
#define PCI_BRIDGE_DEVICE 0x0008

static void cfg_put16(uint8_t *cfg, unsigned off, uint16_t v)
{
	cfg[off] = v & 0xff;
	cfg[off + 1] = v >> 8;
}

static void bridge_init(struct pci_func *f)
{
	memset(f, 0, sizeof(*f));
	cfg_put16(f->cfg, 0x00, PCI_BRIDGE_VENDOR);
	cfg_put16(f->cfg, 0x02, PCI_BRIDGE_DEVICE);
	cfg_put16(f->cfg, 0x06, 0x0000);	/* status */
	f->cfg[0x0a] = 0x00;			/* subclass: host bridge */
	f->cfg[0x0b] = 0x06;			/* class: bridge */
	f->cfg[0x0e] = 0x00;			/* header type 0, single function */
	f->wmask[0x04] = 0x06;			/* command: memory, bus master */
	f->wmask[0x0d] = 0xff;			/* latency timer */
}

/* The function the latch selects, or NULL if absent or not enabled. */
static struct pci_func *pci_selected(struct pci_host *ph)
{
	uint32_t a = ph->addr;
	unsigned bus = (a >> 16) & 0xff, dev = (a >> 11) & 0x1f, fn = (a >> 8) & 7;

	if (!(a & 0x80000000u) || bus != 0 || fn != 0)
		return NULL;
	return dev == 0 ? &ph->bridge : ph->slot[dev];
}

static void pci_data_access(struct pci_host *ph, struct trap *t)
{
	struct pci_func *f = pci_selected(ph);
	unsigned reg = (ph->addr & 0xfc) + (unsigned)t->offset;

	if (!t->is_write) {
		trap_set_value(t, ~0ULL);
		if (f && reg + t->len <= PCI_CFG_SIZE)
			memcpy(t->data, &f->cfg[reg], t->len);
		return;
	}
	if (!f || reg + t->len > PCI_CFG_SIZE)
		return;
	for (unsigned i = 0; i < t->len; i++) {
		uint8_t m = f->wmask[reg + i];

		f->cfg[reg + i] = (uint8_t)((f->cfg[reg + i] & ~m) | (t->data[i] & m));
	}
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
	pci_data_access(ph, t);
	pthread_mutex_unlock(&ph->lock);
	return 0;
}

int pci_host_init(struct pci_host *ph, struct trapbus *tb)
{
	struct trap_region addr = { .base = PCI_CONFIG_ADDR_PORT, .size = 4, .bus = TRAP_PIO,
				    .name = "pci-addr", .fn = pci_addr_trap, .opaque = ph };
	struct trap_region data = { .base = PCI_CONFIG_DATA_PORT, .size = 4, .bus = TRAP_PIO,
				    .name = "pci-data", .fn = pci_data_trap, .opaque = ph };
	int err;

	memset(ph, 0, sizeof(*ph));
	if (pthread_mutex_init(&ph->lock, NULL))
		return -ENOMEM;
	bridge_init(&ph->bridge);
	err = trapbus_register(tb, &addr);
	if (err)
		return err;
	err = trapbus_register(tb, &data);
	if (err)
		trapbus_unregister(tb, TRAP_PIO, PCI_CONFIG_ADDR_PORT);
	return err;
}

void pci_host_destroy(struct pci_host *ph, struct trapbus *tb)
{
	trapbus_unregister(tb, TRAP_PIO, PCI_CONFIG_DATA_PORT);
	trapbus_unregister(tb, TRAP_PIO, PCI_CONFIG_ADDR_PORT);
	pthread_mutex_destroy(&ph->lock);
}
