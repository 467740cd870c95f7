/*
 * One trapped guest access. Port I/O and MMIO are the same thing with a bus
 * tag; every handler sees the vCPU that made the access and the offset
 * inside its region. The layout is fixed: it also travels in ring entries
 * between the monitor and a device process.
 */
#ifndef VMM_DEVICES_TRAP_H
#define VMM_DEVICES_TRAP_H

#include <stdint.h>
#include <string.h>

enum trap_bus { TRAP_PIO = 0, TRAP_MMIO = 1, TRAP_NBUS };

struct trap {
	uint8_t bus;		/* enum trap_bus */
	uint8_t len;		/* 1, 2, 4 or 8 */
	uint8_t is_write;	/* 1 = guest write, data holds the value */
	uint8_t region;		/* index of the region within its device */
	uint16_t vcpu;		/* vCPU index that made the access */
	uint16_t _pad;
	uint64_t addr;		/* guest port or physical address */
	uint64_t offset;	/* addr - region base */
	uint8_t data[8];	/* little-endian value, len bytes used */
};
_Static_assert(sizeof(struct trap) == 32, "struct trap is a fixed ring layout");

/* Value of a write (or the value to return for a read), len bytes, LE. */
static inline uint64_t trap_value(const struct trap *t)
{
	uint64_t v = 0;

	memcpy(&v, t->data, t->len <= 8 ? t->len : 8);
	return v;
}

/* Set the read result: the low len bytes of v; other bytes are zeroed. */
static inline void trap_set_value(struct trap *t, uint64_t v)
{
	memset(t->data, 0, sizeof(t->data));
	memcpy(t->data, &v, t->len <= 8 ? t->len : 8);
}

#endif
