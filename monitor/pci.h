/*
 * The PCI host bridge, kept in the monitor because it owns the bus layout
 * (and, later, BAR placement and MSI routing). Configuration mechanism #1:
 * an address latch at port 0xCF8 and a data window at 0xCFC-0xCFF.
 * Bus 0 holds the host bridge at 00:00.0; other slots read as absent.
 */
#ifndef VMM_MONITOR_PCI_H
#define VMM_MONITOR_PCI_H

#include <pthread.h>
#include <stdint.h>

#include "trapbus.h"

#define PCI_CONFIG_ADDR_PORT 0xcf8
#define PCI_CONFIG_DATA_PORT 0xcfc
#define PCI_SLOTS 32
#define PCI_CFG_SIZE 256

/* One function's configuration space and which bits the guest may write. */
struct pci_func {
	uint8_t cfg[PCI_CFG_SIZE];
	uint8_t wmask[PCI_CFG_SIZE];
};

struct pci_host {
	pthread_mutex_t lock;	/* vCPUs share the address latch */
	uint32_t addr;		/* last value written to 0xCF8 */
	struct pci_func bridge;
	struct pci_func *slot[PCI_SLOTS];	/* function 0 of each slot */
};

/*
 * Set up the host bridge at 00:00.0 and claim ports 0xCF8 and 0xCFC on tb.
 * Returns 0 or -errno. ph must outlive the registration.
 */
int pci_host_init(struct pci_host *ph, struct trapbus *tb)
	__attribute__((warn_unused_result));

/* Release what pci_host_init registered. */
void pci_host_destroy(struct pci_host *ph, struct trapbus *tb);

#endif
