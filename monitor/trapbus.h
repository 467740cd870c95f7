/*
 * The unified trap bus: one registration and dispatch path for port I/O
 * and MMIO. Regions live in a sorted, immutable array per bus; a change
 * builds a new array and swaps it in, so dispatch takes no lock. Each vCPU
 * publishes the array it is using (a hazard pointer) and a writer frees an
 * old array only when no vCPU still holds it.
 */
#ifndef VMM_MONITOR_TRAPBUS_H
#define VMM_MONITOR_TRAPBUS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "trap.h"
#include "trap_table.h"

#define TRAPBUS_MAX_VCPUS 64
#define TRAPBUS_MAX_LOGGED 64	/* distinct unclaimed addresses logged */

/*
 * A handler serves one access inside its region (t->offset and t->region
 * are filled in). It returns 0, or a negative errno to say "not mine",
 * which the bus answers as an unclaimed access.
 */
typedef int (*trap_fn)(void *opaque, struct trap *t);

struct trap_region {
	uint64_t base;
	uint64_t size;		/* > 0; base + size must not wrap */
	uint8_t bus;		/* enum trap_bus */
	uint8_t region;		/* copied into trap.region */
	const char *name;	/* for logs and stats */
	const char *label;	/* the region's name in the published table; NULL: "regionN" */
	trap_fn fn;
	void *opaque;
	/*
	 * Optional: counts the accesses the handler served. Owned by the
	 * region's owner, so the count survives the array swaps; NULL: none.
	 */
	_Atomic uint64_t *served;
	/*
	 * Optional: TRAP_LAT_BUCKETS counters, how long the handler took to
	 * serve each access (the vCPU's wait), by trap_lat_bucket. Owned as
	 * served is; NULL: not timed.
	 */
	_Atomic uint64_t *lat;
};

/*
 * Latency histograms: 4 buckets per power of two of nanoseconds (within
 * 25%), from 0 ns to 2^41 ns (36 minutes; longer counts as the last).
 */
#define TRAP_LAT_BUCKETS 160

static inline unsigned trap_lat_bucket(uint64_t ns)
{
	unsigned l, b;

	if (ns < 4)
		return (unsigned)ns;
	l = 63u - (unsigned)__builtin_clzll(ns);
	b = 4 * (l - 1) + (unsigned)((ns >> (l - 2)) & 3);
	return b < TRAP_LAT_BUCKETS ? b : TRAP_LAT_BUCKETS - 1;
}

/*
 * The q-quantile (0 < q <= 1) of histogram h as the upper bound of its
 * bucket, in ns; 0 if h counted nothing. q 1: the largest.
 */
uint64_t trap_lat_quantile(const _Atomic uint64_t *h, double q);

struct trapbus_map {
	unsigned n;
	struct trapbus_map *retired;	/* replaced, not yet freed: the next such (maps_reclaim) */
	struct trap_region r[];	/* sorted by base, non-overlapping */
};

struct trapbus_stats {
	_Atomic uint64_t unclaimed_reads[TRAP_NBUS];
	_Atomic uint64_t unclaimed_writes[TRAP_NBUS];
};

struct trapbus {
	pthread_mutex_t lock;	/* serialises writers and the log set */
	struct trapbus_map *_Atomic map[TRAP_NBUS];
	struct trapbus_map *_Atomic hazard[TRAPBUS_MAX_VCPUS];
	struct trapbus_stats stats;
	unsigned nlogged;
	struct { uint8_t bus; uint64_t addr; } logged[TRAPBUS_MAX_LOGGED];
	FILE *record;		/* --record-traps: every served access, or NULL */
	struct trap_table *table;	/* the regions, published for observers (trap_table.h) */
	int table_fd;			/* its memfd */
	bool table_frozen;		/* the VM stopped: teardown is not published */
	struct trapbus_map *retired;	/* replaced maps a vCPU may still hold */
};

/*
 * The VM has stopped: keep the published table as it ran (an observer
 * attributes what it counted with it), whatever teardown unregisters.
 */
void trapbus_table_freeze(struct trapbus *tb);

/* Initialise an empty bus. Returns 0 or -errno. */
int trapbus_init(struct trapbus *tb) __attribute__((warn_unused_result));

/*
 * Free the bus's arrays. No vCPU may be dispatching any more.
 */
void trapbus_destroy(struct trapbus *tb);

/*
 * Add a region (copied; name, opaque and the counters are borrowed and
 * must outlive every vCPU's dispatching: a vCPU that took the map before
 * the region was removed may still call its handler). Returns 0, -EINVAL for a bad bus, size 0 or a range that
 * wraps, -EBUSY if it overlaps a registered region of the same bus,
 * -ENOMEM.
 */
int trapbus_register(struct trapbus *tb, const struct trap_region *r)
	__attribute__((warn_unused_result));

/*
 * Remove the region of `bus` that starts at `base`: accesses dispatched
 * from now on do not reach it (one already dispatched may still be in its
 * handler). Never waits for vCPUs, so a handler may call it. Returns 0,
 * -ENOENT if there is no such region, -ENOMEM; teardown paths may ignore
 * the result.
 */
int trapbus_unregister(struct trapbus *tb, enum trap_bus bus, uint64_t base);

/*
 * Record every access a handler serves from now on (--record-traps),
 * appending one text line per access to the file at path (created if
 * missing), in the format tests/fuzz/seeds.py reads:
 *
 *   T <name> <bus> <region> <base> <size> <offset> <len> <r|w> <value> <ret>
 *
 * name is the region's name (the device id), bus 0 PIO / 1 MMIO, base,
 * size, offset and value in hex (value: the written data, or what the
 * read returned), ret the handler's result. Unclaimed accesses are not
 * recorded. Returns 0 or -errno. trapbus_destroy closes the file.
 */
int trapbus_record_open(struct trapbus *tb, const char *path)
	__attribute__((warn_unused_result));

/*
 * Dispatch one access made by vCPU t->vcpu (< TRAPBUS_MAX_VCPUS): find the
 * region holding [t->addr, t->addr + t->len), fill t->offset and t->region
 * and call its handler. An access nobody claims (no region, a region that
 * does not hold all of it, or a handler that refuses) is counted and logged
 * once per address; a read of it returns all-ones on PIO and zeros on MMIO,
 * a write is dropped. A served access bumps its region's `served` counter.
 * Returns 0 if a handler served it, 1 if unclaimed.
 */
int trapbus_dispatch(struct trapbus *tb, struct trap *t);

#endif
