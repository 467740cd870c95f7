/*
 * A fake device host for unit tests: records interrupt levels per line,
 * posted events and log lines, and offers a small buffer as guest RAM.
 * Also helpers to build a DeviceSpec and to drive a device through trap.
 */
#ifndef VMM_TESTS_FAKEHOST_H
#define VMM_TESTS_FAKEHOST_H

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>

#include "device.h"

#define FAKEHOST_MEM	4096
#define FAKEHOST_EVENTS	16
#define FAKEHOST_LOGS	64

struct fakehost {
	struct device_host host;
	int irq[DEVICE_MAX_IRQS];	/* current level per line */
	unsigned irq_calls;		/* irq_set calls, all lines */
	unsigned irq_bad_calls;		/* calls for a line out of range, or no change */
	enum device_event events[FAKEHOST_EVENTS];
	unsigned nevents;
	char logs[FAKEHOST_LOGS][256];
	unsigned nlogs;
	uint8_t mem[FAKEHOST_MEM];	/* guest RAM at gpa 0 */
	/* Added for virtio: */
	unsigned irq_raises[DEVICE_MAX_IRQS];	/* irq_set(line, 1) calls (MSI edges) */
	uint8_t *bigmem;		/* if set, guest RAM at gpa 0 instead of mem */
	uint64_t bigmem_size;
};

/* A device spec, built up by the fakespec_* calls. */
struct fakespec {
	struct device_spec spec;
};

/* Reset fh to no irqs raised, no events, no logs, zeroed memory. */
void fakehost_init(struct fakehost *fh);

/* Events of kind ev posted so far. */
unsigned fakehost_count_events(const struct fakehost *fh, enum device_event ev);

/* Whether some log line contains `needle`. */
bool fakehost_logged(const struct fakehost *fh, const char *needle);

/*
 * Use buf[size] as guest RAM at gpa 0 instead of fh->mem (caller owns it;
 * fakehost_init forgets it).
 */
void fakehost_set_mem(struct fakehost *fh, uint8_t *buf, uint64_t size);

/* A spec of class klass with no regions, irqs or params. */
void fakespec_init(struct fakespec *fs, const char *klass);
/* Append a PIO region of size ports at addr. */
void fakespec_add_pio(struct fakespec *fs, uint64_t addr, uint64_t size);
/* Append an MMIO region of size bytes at addr. */
void fakespec_add_mmio(struct fakespec *fs, uint64_t addr, uint64_t size);
/* Append an irq line wired to gsi. */
void fakespec_add_irq(struct fakespec *fs, uint32_t gsi);
/* Append a "key=value" param (not copied: keep it alive). */
void fakespec_add_param(struct fakespec *fs, char *param);

/*
 * A virtio-pci function's spec as the monitor builds it: class klass, its
 * four BAR0 regions (MMIO at 0xfe000000, 0x1000 each) and nirqs lines on
 * GSIs 40, 41, ... (MSI-X vectors; an INTx line among them is the caller's
 * "intx=N" param).
 */
void fakespec_init_virtio(struct fakespec *fs, const char *klass, unsigned nirqs);

/*
 * Set up dev on fh (id "<class>0", fds fd0/fd1, -1 for none) and create it
 * with device_create. Returns what that returns.
 */
int fakehost_create(struct fakehost *fh, struct device *dev,
		    const struct device_class *cls, const struct device_spec *spec,
		    int fd0, int fd1);

/*
 * If the device has a wake fd: wait up to timeout_ms for it to be readable
 * and call ops->wake. Returns whether it did.
 */
bool fakehost_wake(struct device *dev, int timeout_ms);

/*
 * Reads dev_in also found in the device's shadow, and writes dev_out found
 * declared neutral there (both checked: a mismatch, a shadowed read or a
 * neutral write that changes the shadow, aborts).
 */
extern unsigned long fake_shadow_reads, fake_shadow_writes;

/* A guest write / read of len bytes at region/offset through ops->trap. */
int dev_out(struct device *dev, unsigned region, uint64_t offset,
	    unsigned len, uint64_t val);
uint64_t dev_in(struct device *dev, unsigned region, uint64_t offset, unsigned len);

/* One-byte shorthands for region 0. */
void dev_out8(struct device *dev, uint64_t offset, uint8_t val);
uint8_t dev_in8(struct device *dev, uint64_t offset);

#endif
