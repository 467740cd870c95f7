/*
 * Trap rings: how trapped accesses travel from the monitor's vCPU threads to
 * a device process and back. One shared memfd per device process holds a
 * header and, per vCPU, a single-producer/single-consumer request ring plus
 * a completion slot, each on its own cache line. Layout is fixed, versioned
 * and size-asserted: both sides map the same bytes.
 *
 * Ordering: every request carries a global sequence number (gseq) taken from
 * the header when it is posted. The device serves requests across all rings
 * in gseq order, so a read is served only after every write posted before
 * it by any vCPU has been applied.
 *
 * Writes are posted (the vCPU goes straight back to the guest) unless the
 * region asks for synchronous writes; reads wait for their completion.
 *
 * Waiting is adaptive on both sides: spin for a bounded time, then sleep. A
 * sleeping vCPU waits on a futex on its completion slot's seq word; a
 * sleeping device waits on its doorbell eventfd. Each side sets its
 * "sleeping" word before sleeping and re-checks for work after; the other
 * side rings only when it sees that word set.
 *
 * Trust: the monitor formats the memory and trusts nothing it reads back
 * (indexes are range-checked, a completion is only taken if its seq is the
 * one expected); the device checks the header before use and every entry's
 * fields before serving it.
 */
#ifndef VMM_IPC_RING_H
#define VMM_IPC_RING_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "spin.h"
#include "trap.h"

#define RING_MAGIC     0x524d4d56u	/* "VMMR" */
#define RING_VERSION   2u
#define RING_ENTRIES   64u		/* per vCPU; a power of two */
#define RING_MAX_VCPUS 64u
#define RING_CACHELINE 64

/*
 * Completion status beyond 0/-errno: the access was served and the device
 * asked the monitor to stop the VM (reset, poweroff) while serving it. The
 * vCPU must not run the guest on until the monitor has acted.
 */
#define RING_STATUS_STOP 1

/*
 * How the device waits (the header's dev_sleeping). AWAKE: it looks at the
 * rings by itself. ASLEEP: it sleeps until its doorbell rings; every
 * request rings it. DOZING: it sleeps at most RING_DOZE_NS and then looks:
 * a posted write does not ring (a store is all it costs the vCPU; it is
 * applied within RING_DOZE_NS), a waited request does, and so does a
 * posted write that finds its ring half full.
 */
#define RING_DEV_AWAKE  0u
#define RING_DEV_ASLEEP 1u
#define RING_DEV_DOZING 2u
#define RING_DOZE_NS    1000000ull

/* Request flags. */
#define RING_F_WAIT 1u			/* the vCPU waits for a completion */

struct ring_entry {
	uint64_t gseq;			/* global posting order, from 1 */
	uint32_t flags;			/* RING_F_* */
	uint32_t seq;			/* per-vCPU request number (completion match) */
	struct trap trap;
	uint8_t _pad[16];
};
_Static_assert(sizeof(struct ring_entry) == RING_CACHELINE, "one entry per cache line");

struct ring_completion {
	_Atomic uint32_t seq;		/* seq of the last completed waited request */
	int32_t status;			/* 0, or -errno: the device did not serve it */
	uint8_t data[8];		/* read result */
	uint8_t _pad[RING_CACHELINE - 16];
};
_Static_assert(sizeof(struct ring_completion) == RING_CACHELINE, "own cache line");

struct ring_vcpu {
	_Atomic uint32_t head;		/* next slot the vCPU fills */
	uint8_t _pad0[RING_CACHELINE - 4];
	_Atomic uint32_t tail;		/* next slot the device reads */
	uint8_t _pad1[RING_CACHELINE - 4];
	struct ring_completion done;
	_Atomic uint32_t vcpu_sleeping;	/* 1: the vCPU sleeps on done.seq */
	uint8_t _pad2[RING_CACHELINE - 4];
	struct ring_entry e[RING_ENTRIES];
};
_Static_assert(sizeof(struct ring_vcpu) == (4 + RING_ENTRIES) * RING_CACHELINE, "layout");

struct ring_header {
	uint32_t magic;
	uint32_t version;
	uint32_t nvcpus;
	uint32_t entries;		/* RING_ENTRIES */
	uint32_t entry_size;		/* sizeof(struct ring_entry) */
	uint32_t _pad0[RING_CACHELINE / 4 - 5];
	_Atomic uint64_t gseq;		/* last global sequence number taken */
	uint8_t _pad1[RING_CACHELINE - 8];
	_Atomic uint32_t dev_sleeping;	/* RING_DEV_*: how the device waits */
	uint8_t _pad2[RING_CACHELINE - 4];
	struct ring_vcpu vcpu[];	/* nvcpus of them */
};
_Static_assert(sizeof(struct ring_header) == 3 * RING_CACHELINE, "layout");

/*
 * The device's shadowed registers (common/trap.h), after the rings: a
 * seqlock (seq odd while the device rewrites them) around a trap_shadow.
 * The device makes seq odd before it serves a request (ring_consume) and
 * publishes a new image, seq even, once it has served what it found; the
 * monitor answers a read from the image only if seq was even and the same
 * before and after it looked, and if every request still in a ring in
 * between is a write the image declares neutral: every access posted
 * before the read has then been served and is in the image, or changes
 * nothing the read can see.
 * A device can only make its own registers lie, which it can anyway.
 */
struct ring_shadow {
	_Atomic uint32_t seq;
	uint8_t _pad[RING_CACHELINE - 4];
	struct trap_shadow s;
};
_Static_assert(sizeof(struct ring_shadow) == RING_CACHELINE + sizeof(struct trap_shadow), "layout");

/* The shadow of the rings at h, of nvcpus vCPUs (the caller's own count). */
struct ring_shadow *ring_shadow_of(struct ring_header *h, unsigned nvcpus);

/*
 * Answer read t from sh (monitor side, any vCPU thread): true with t->data
 * filled, false if it must be sent to the device. h, if not NULL, holds
 * the rings the device serves (its first nvcpus, the caller's count): any
 * request still in one but a neutral write means false.
 */
bool ring_shadow_read(struct ring_shadow *sh, struct ring_header *h, unsigned nvcpus,
		      struct trap *t);

/*
 * Device side (the one thread that serves the device): ring_shadow_begin
 * marks the image as being rewritten (ring_consume calls it before it
 * serves anything); ring_shadow_publish replaces the image with s and marks
 * it current.
 */
void ring_shadow_begin(struct ring_shadow *sh);
void ring_shadow_publish(struct ring_shadow *sh, const struct trap_shadow *s);

/* Bytes of shared memory for nvcpus rings and their shadow (page-rounded). */
size_t ring_shm_size(unsigned nvcpus);

/*
 * Format len bytes at mem as an empty set of nvcpus rings (monitor side).
 * Returns 0, or -EINVAL if nvcpus is 0 or above RING_MAX_VCPUS or len is
 * smaller than ring_shm_size(nvcpus).
 */
int ring_shm_init(void *mem, size_t len, unsigned nvcpus)
	__attribute__((warn_unused_result));

/*
 * Check a mapped ring memory before use (device side): magic, version,
 * geometry and that nvcpus rings fit in len. Returns 0 or -EPROTO.
 */
int ring_shm_check(const void *mem, size_t len, unsigned nvcpus)
	__attribute__((warn_unused_result));

/* ---- Producer side: one per vCPU, in the monitor ---- */

struct ring_wait_cfg {
	uint64_t spin_ns;		/* spin at most this long before sleeping (spin.h) */
	uint64_t deadline_ns;		/* give up after this long in all */
};

struct ring_producer {
	struct ring_header *h;
	struct ring_vcpu *r;
	unsigned vcpu;
	uint32_t seq;			/* last request number used */
	uint32_t head;			/* our copy of r->head (the device can write r's) */
	int doorbell_fd;		/* the device's eventfd (borrowed) */
	const _Atomic bool *dead;	/* set by the supervisor: stop waiting */
	bool timed_out;			/* the last ring_send gave up waiting... */
	bool published;			/* ...after publishing its request */
	struct spin_gov spin;		/* how long it spins for a completion now */
	uint64_t posted, rung;		/* posted writes; doorbells rung (any request) */
};

/* Bind producer p to vCPU vcpu's ring of h. dead may be NULL. */
void ring_producer_init(struct ring_producer *p, struct ring_header *h, unsigned vcpu,
			int doorbell_fd, const _Atomic bool *dead);

/*
 * Send one access. Writes without `sync` are posted and return at once;
 * reads and sync writes wait for the completion and reads copy its data
 * into t->data. Waiting for ring space or a completion follows cfg and
 * stops early when *dead becomes true. Returns 0; -ETIMEDOUT when the
 * deadline passed; -EPIPE when the device was declared dead; -EPROTO when
 * the ring memory holds impossible values (the device broke it); the
 * device's own negative status for the access; or RING_STATUS_STOP (served,
 * and the device posted a VM stop event while serving it). On any error, a read's
 * t->data is left untouched for the caller to fill.
 */
int ring_send(struct ring_producer *p, struct trap *t, bool sync, const struct ring_wait_cfg *cfg)
	__attribute__((warn_unused_result));

/*
 * After ring_send (or this) returned -ETIMEDOUT: keep waiting for the same
 * access, another cfg->deadline_ns at most. A request already published is
 * not published again (the device serves it once); one that found no room
 * is sent now. Same returns as ring_send; -EINVAL if nothing timed out.
 */
int ring_send_resume(struct ring_producer *p, struct trap *t, bool sync,
		     const struct ring_wait_cfg *cfg) __attribute__((warn_unused_result));

/*
 * Wake every vCPU sleeping in ring_send on the first nvcpus rings of h (the
 * supervisor calls this after setting *dead; nvcpus is the monitor's own
 * count, never the header's, which the device can write).
 */
void ring_wake_all(struct ring_header *h, unsigned nvcpus);

/* ---- Consumer side: the device process ---- */

/*
 * Serve one request: `serve` gets the access (checked: bus, len 1..8;
 * the region index is serve's to check) and returns 0, -errno, or
 * RING_STATUS_STOP; for a read it fills t->data.
 */
typedef int (*ring_serve_fn)(void *opaque, struct trap *t);

/*
 * Serve every request currently posted on any ring of h, in gseq order,
 * completing waited ones (and waking their vCPU if it sleeps). Entries
 * with impossible fields are completed with -EINVAL without calling serve.
 * Before it serves the first, it marks h's shadow as being rewritten
 * (ring_shadow_begin): the caller publishes a new image after it, or no
 * read is answered from the shadow from then on.
 * Returns the number served, or -EPROTO if a ring's indexes are impossible.
 */
int ring_consume(struct ring_header *h, ring_serve_fn serve, void *opaque)
	__attribute__((warn_unused_result));

/*
 * Where a device's rings stand, as the device's committed state records it
 * for a restart: each ring's tail and the last waited request it completed.
 * Its own process wrote it: a new process checks it against the rings.
 */
struct ring_done {
	uint32_t seq;
	int32_t status;
	uint8_t data[8];
};
struct ring_resume {
	uint32_t tail[RING_MAX_VCPUS];
	struct ring_done done[RING_MAX_VCPUS];
};

/*
 * Called once per served batch, after the last request was served and
 * before any tail or completion of the batch is visible: rs says where the
 * rings will stand. A device saves its state with rs here, so that a kill
 * at any instant leaves either the state before the batch with every
 * request of the batch still in its ring, or the state after it with rs.
 */
typedef void (*ring_commit_fn)(void *opaque, const struct ring_resume *rs);

/*
 * ring_consume, committing each batch (commit may be NULL). rs holds the
 * rings' position across calls (ring_resume_init first; NULL: a local copy).
 * *waited (if not NULL) gets how many of the served requests a vCPU waits
 * for (reads, sync writes): the rest were posted writes.
 */
int ring_consume_commit(struct ring_header *h, ring_serve_fn serve, ring_commit_fn commit,
			void *opaque, struct ring_resume *rs, unsigned *waited)
	__attribute__((warn_unused_result));

/* Requests posted after rs's tails (a resumed device serves them): for logs. */
unsigned ring_resume_pending(struct ring_header *h, const struct ring_resume *rs);

/* rs as h's rings stand now (device side, before its first ring_consume_commit). */
void ring_resume_init(struct ring_header *h, struct ring_resume *rs);

/*
 * A new device process resumes from committed rs: every tail set back to
 * rs's (the requests after it are served again) and every completion the
 * old process committed but had not published, published. Returns 0, or
 * -EPROTO if a tail in rs is impossible for its ring's head (nothing then changed).
 */
int ring_resume_apply(struct ring_header *h, const struct ring_resume *rs)
	__attribute__((warn_unused_result));

/*
 * The device is about to sleep on its doorbell: mark it ASLEEP, or DOZING
 * if doze (it then sleeps RING_DOZE_NS at most), and re-check. Returns true
 * if it may sleep (no request is pending), false if work arrived (the mark
 * is cleared again).
 */
bool ring_dev_sleep_begin(struct ring_header *h, bool doze);

/* The device woke up: clear the sleeping mark. */
void ring_dev_sleep_end(struct ring_header *h);

/* True if any ring of h has a request posted. */
bool ring_pending(struct ring_header *h);


#endif
