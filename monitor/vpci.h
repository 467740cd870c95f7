/*
 * A virtio-pci function as the monitor sees it: PCI config space with the
 * virtio vendor capabilities and MSI-X, BAR0 (the virtio structures, served
 * by the device through whatever host runs it) and BAR2 (the MSI-X table
 * and PBA, served here, because routing an MSI needs the VM fd). The
 * monitor also owns the fast path: one KVM ioeventfd per queue doorbell and
 * one irqfd per MSI-X vector, whose eventfds it hands to the device. When
 * the guest moves BAR0, the regions and ioeventfds follow it.
 */
#ifndef VMM_MONITOR_VPCI_H
#define VMM_MONITOR_VPCI_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "device_abi.h"
#include "log.h"
#include "pci.h"
#include "trapbus.h"

#define VPCI_BAR_MSIX 2	/* BAR0 is 64-bit and takes slots 0 and 1 */
#define VPCI_MSIX_BAR_SIZE 0x1000
#define VPCI_MSIX_PBA_OFF 0x800

struct vm;

struct vpci_msix_entry {
	uint32_t addr_lo, addr_hi, data, ctrl;	/* ctrl bit 0: masked */
};

struct vpci {
	struct pci_func func;
	struct vm *vm;
	char id[32];
	unsigned nqueues;
	unsigned nvectors;
	pthread_mutex_t lock;		/* MSI-X state */
	struct log_budget warn_budget;	/* guest-driven warnings (vpci_warn) */
	struct vpci_msix_entry msix[DEVICE_MAX_VECTORS];
	uint32_t gsi[DEVICE_MAX_VECTORS];
	int irqfd[DEVICE_MAX_VECTORS];	/* the device's interrupt lines */
	bool irqfd_on[DEVICE_MAX_VECTORS];	/* assigned to its GSI */
	int ioeventfd[DEVICE_MAX_QUEUES];	/* the device's queue doorbells */
	int intx_fd;			/* INTA: level-triggered irqfd ... */
	int intx_resample_fd;		/* ... and its resample fd (the device's) */
	uint32_t intx_gsi;		/* 0 where there is no INTx (!arch_pci.intx) */
	bool intx_on;			/* assigned: MSI-X off and INTx not disabled */
	uint64_t bar0, bar_msix;	/* decoded addresses or PCI_BAR_NONE */
	bool msix_enabled, msix_masked;	/* the capability's control bits */
	trap_fn bar0_fn;		/* the device's host serves BAR0 */
	void *bar0_opaque;
	_Atomic uint64_t *bar0_served;	/* per BAR0 region counters, or NULL */
	_Atomic uint64_t *bar0_lat;	/* per BAR0 region TRAP_LAT_BUCKETS histograms, or NULL */
	unsigned msix_cap;		/* config offset of the MSI-X capability */
	uint32_t devfn;			/* its requester id on bus 0: slot << 3 */
};

struct vpci_ident {
	uint16_t virtio_id;		/* VIRTIO_ID_* */
	uint32_t class_code;		/* PCI class << 16 | subclass << 8 | prog-if */
	unsigned nqueues;
	unsigned nvectors;
};

/*
 * Build the function for ident, create its eventfds and GSIs, and put it on
 * the bus (BARs assigned and decoded). bar0_fn/opaque serve the device's
 * four BAR0 regions (see devices/virtio_pci.h); bar0_served, if not NULL,
 * holds four counters the trap bus bumps for them. Returns 0 or -errno
 * (logged); on error nothing stays allocated.
 */
int vpci_create(struct vpci *vp, struct vm *vm, struct pci_host *ph, const char *id,
		const struct vpci_ident *ident, trap_fn bar0_fn, void *bar0_opaque,
		_Atomic uint64_t *bar0_served)
	__attribute__((warn_unused_result));

/* Take the function off the bus and release its eventfds and regions. */
void vpci_destroy(struct vpci *vp, struct pci_host *ph);

/* BAR0 region r's name ("common", "isr", "device", "notify"), NULL past them. */
const char *vpci_region_name(unsigned r);

struct machine_spec;
struct virtio_pci_ident;

/*
 * For a host starting the virtio device of class ident `pi`: allocate and
 * create its function on vm->pci with BAR0 served by bar0_fn/opaque, and
 * point spec's regions and interrupt lines at it. Returns the function
 * (free with vpci_free), or NULL after logging why.
 */
struct vpci *vpci_new(struct vm *vm, const char *id, const struct virtio_pci_ident *pi,
		      trap_fn bar0_fn, void *bar0_opaque, _Atomic uint64_t *bar0_served,
		      struct machine_spec *spec);

/* vpci_destroy and free; NULL is fine. */
void vpci_free(struct vpci *vp, struct pci_host *ph);

/*
 * The function's interrupt lines as its spec lists them: MSI-X
 * vectors 0..nvectors-1 (GSIs in gsi[]), then INTA at line nvectors.
 */
#define VPCI_INTX_LINE(vp) ((vp)->nvectors)

/* BAR0's current base address (PCI_BAR_NONE if not decoded). */
uint64_t vpci_bar0(const struct vpci *vp);

#endif
