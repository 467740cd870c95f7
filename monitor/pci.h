/*
 * The PCI host bridge and bus 0, kept in the monitor because it owns the
 * bus layout, BAR placement and MSI routing. Configuration space through
 * mechanism #1 (an address latch at port 0xCF8 and a data window at
 * 0xCFC-0xCFF: x86) or ECAM (bus 0's 1 MiB of memory: arm64's generic
 * host bridge). Slot 0 is the host bridge; functions added with
 * pci_func_add take other slots.
 *
 * BARs are memory BARs (32- or 64-bit) of a power-of-two size, pre-assigned
 * by the monitor and movable by the guest: it sizes them by writing
 * all-ones and moves them by writing an address; whenever the decoded
 * address of a BAR changes (a move, or memory decoding switched on or off
 * in the command register) the function's bar_update callback is told.
 */
#ifndef VMM_MONITOR_PCI_H
#define VMM_MONITOR_PCI_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "trapbus.h"

#define PCI_CONFIG_ADDR_PORT 0xcf8
#define PCI_CONFIG_DATA_PORT 0xcfc
#define PCI_SLOTS 32
#define PCI_CFG_SIZE 256
#define PCI_BARS 6
#define PCI_BAR_NONE UINT64_MAX	/* bar_update: not decoded */
#define PCI_ECAM_BUS_SIZE (1u << 20)	/* 32 devices x 8 functions x 4 KiB */

/* How the host bridge is reached and where BARs go. */
struct pci_host_cfg {
	bool ecam;		/* ECAM at ecam_base; else ports 0xCF8/0xCFC */
	uint64_t ecam_base;
	uint64_t mmio_start;	/* the window BARs are pre-assigned from */
	uint64_t mmio_end;	/* exclusive */
};

struct pci_bar {
	uint64_t size;		/* power of two >= 16; 0: unused */
	bool mem64;		/* takes this slot and the next */
	uint64_t decoded;	/* last address told to bar_update, or PCI_BAR_NONE */
	bool pending;		/* decoded, but bar_update could not map it: offered again */
};

struct pci_func_ops {
	/*
	 * BAR `bar` now decodes at addr (PCI_BAR_NONE: not at all). Returns
	 * 0, or -errno if it could not be mapped there (the range is taken):
	 * then it is offered the same address again after every later BAR
	 * move on the bus, until it maps or moves itself. Called with the PCI lock
	 * held, from a vCPU thread; must not take that lock.
	 */
	int (*bar_update)(void *opaque, unsigned bar, uint64_t addr);
	/* The guest wrote [off, off + len) of config space (after the write). */
	void (*cfg_written)(void *opaque, unsigned off, unsigned len);
};

/* One function's configuration space and which bits the guest may write. */
struct pci_func {
	uint8_t cfg[PCI_CFG_SIZE];
	uint8_t wmask[PCI_CFG_SIZE];
	struct pci_bar bar[PCI_BARS];
	const struct pci_func_ops *ops;	/* NULL for the host bridge */
	void *opaque;
};

struct pci_host {
	pthread_mutex_t lock;	/* vCPUs share the address latch and config */
	struct pci_host_cfg cfg;
	uint32_t addr;		/* last value written to 0xCF8 */
	struct pci_func bridge;
	struct pci_func *slot[PCI_SLOTS];	/* function 0 of each slot */
	uint64_t mmio_next;	/* next free address for pre-assigned BARs */
	uint64_t mmio_end;
};

/*
 * Set up the host bridge at 00:00.0 and claim its configuration access on
 * tb (cfg: ports 0xCF8 and 0xCFC, or the ECAM region). Returns 0 or
 * -errno. ph must outlive the registration.
 */
int pci_host_init(struct pci_host *ph, struct trapbus *tb, const struct pci_host_cfg *cfg)
	__attribute__((warn_unused_result));

/* Release what pci_host_init registered. */
void pci_host_destroy(struct pci_host *ph, struct trapbus *tb);

/* Little-endian config-space accessors for building a function. */
void pci_cfg_put16(struct pci_func *f, unsigned off, uint16_t v);
void pci_cfg_put32(struct pci_func *f, unsigned off, uint32_t v);
uint16_t pci_cfg_get16(const struct pci_func *f, unsigned off);
uint32_t pci_cfg_get32(const struct pci_func *f, unsigned off);

/*
 * Declare BAR `bar` of f as a memory BAR of `size` bytes (a power of two,
 * at least 16; mem64 uses slots bar and bar + 1). Call before pci_func_add.
 */
void pci_func_set_bar(struct pci_func *f, unsigned bar, uint64_t size, bool mem64);

/*
 * Put f (whose cfg, wmask, BARs and ops the caller filled) in the first
 * free slot: assign every BAR an address from the MMIO window (naturally
 * aligned), enable memory decoding and bus mastering as firmware would,
 * and report each BAR's address through bar_update. Returns the slot, or
 * -ENOSPC (no slot or no window left).
 */
int pci_func_add(struct pci_host *ph, struct pci_func *f) __attribute__((warn_unused_result));

/* Take f off the bus (its BARs stop decoding first). */
void pci_func_remove(struct pci_host *ph, struct pci_func *f);

/* The address BAR `bar` of f decodes at, or PCI_BAR_NONE. */
uint64_t pci_bar_addr(const struct pci_func *f, unsigned bar);

#endif
