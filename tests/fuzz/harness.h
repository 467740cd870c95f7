/*
 * Shared parts of the libFuzzer targets (tests/fuzz/README.md has the input
 * formats): a byte reader over the input, guest RAM with PROT_NONE guard
 * pages on both sides, and a fake device host that turns a broken
 * invariant into an abort (which libFuzzer reports as a crash).
 */
#ifndef VMM_TESTS_FUZZ_HARNESS_H
#define VMM_TESTS_FUZZ_HARNESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "devproc.h"
#include "gmem.h"

/* Stop the run: an invariant does not hold. Prints why, then abort(). */
void fz_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

#define FZ_CHECK(cond, ...) do { if (!(cond)) fz_fail(__VA_ARGS__); } while (0)

/* The input, consumed front to back; reads past the end give zeros. */
struct fz_in {
	const uint8_t *p;
	size_t n;
};

static inline bool fz_more(const struct fz_in *in)
{
	return in->n > 0;
}

static inline uint8_t fz_u8(struct fz_in *in)
{
	if (!in->n)
		return 0;
	in->n--;
	return *in->p++;
}

/* n (<= 8) bytes, little-endian. */
uint64_t fz_le(struct fz_in *in, unsigned n);

/* Copy up to len bytes into buf; returns how many were there. */
size_t fz_bytes(struct fz_in *in, void *buf, size_t len);

/*
 * Guest RAM: `size` bytes (a multiple of 4096) at gpa 0, mapped between two
 * PROT_NONE pages so that any access just outside it faults. Allocated once
 * per process; fz_ram_clear zeroes it for the next input.
 */
struct fz_ram {
	uint8_t *base;
	uint64_t size;
	struct gmem gm;		/* the devproc's own bounds check (gmem_ptr) */
};

void fz_ram_init(struct fz_ram *r, uint64_t size);
void fz_ram_clear(struct fz_ram *r);

/* Map `size` bytes between two guard pages (for ring memory too). */
void *fz_guarded_alloc(size_t size);

/*
 * The fake host of a device target. mem_ptr is gmem_ptr over the guarded
 * RAM (and checks that what it returns lies inside it); irq_set aborts for
 * a line >= nirqs; event records events; log drops lines (counted).
 */
struct fz_host {
	struct devproc dp;	/* dp.dev is the device; dp.host the callbacks */
	struct fz_ram *ram;
	unsigned nirqs;
	int irq_level[DEVICE_MAX_IRQS];
	unsigned raises[DEVICE_MAX_IRQS];
	unsigned events[4];	/* per enum device_event */
	unsigned logs;
	struct ring_header *ring;	/* one vCPU's ring, the monitor's side */
	uint32_t ring_seq;
	uint8_t poison[8];	/* left in a read's data: random, per read */
};

/*
 * Set h up for one input (RAM cleared, counters zeroed, a fresh ring).
 * The ring memory is allocated once per process.
 */
void fz_host_init(struct fz_host *h, struct fz_ram *ram, unsigned nirqs);

/*
 * One trapped access, the way the monitor sends it and the device process
 * serves it: published on the ring, served by ring_consume ->
 * devproc_serve_trap -> ops->trap. Checks the completion of a read: it
 * arrives, with status 0/-errno/RING_STATUS_STOP, and for status 0 data
 * bytes [len, 8) are zero (trap_set_value) and, for len 8, not the poison
 * left there. Returns the status; *val gets a read's value.
 */
int fz_trap(struct fz_host *h, uint8_t bus, uint8_t region, uint64_t offset, unsigned len,
	    bool is_write, uint64_t value, uint64_t *val);

/* What devproc does when queue q's ioeventfd fires, and fd i gets readable. */
void fz_notify(struct fz_host *h, unsigned q);
void fz_backend(struct fz_host *h, unsigned i);
/*
 * The device's wake fd fired (its worker threads finished requests; never
 * started here, so requests complete at submit and are answered now).
 */
void fz_wake(struct fz_host *h);

#endif
