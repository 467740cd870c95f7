/*
 * Trap rings, the consumer (device) side: serve every vCPU's ring in gseq
 * order, complete, and the device's sleep protocol. The memory-ordering
 * argument is at the top of ring.c; layout and contracts: ring.h.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <string.h>

#include "ring_int.h"

/* Acquire every ring's head into head[]; -EPROTO if one is impossible. */
static int ring_scan(struct ring_header *h, unsigned n, uint32_t *head)
{
	for (unsigned i = 0; i < n; i++) {
		struct ring_vcpu *r = &h->vcpu[i];
		uint32_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);

		head[i] = atomic_load_explicit(&r->head, memory_order_acquire);
		if (head[i] - tail > RING_ENTRIES)
			return -EPROTO;
	}
	return 0;
}

/* The ring whose oldest pending entry (per head[]) has the smallest gseq, or -1. */
static int ring_pick(struct ring_header *h, unsigned n, const uint32_t *head)
{
	uint64_t best_gseq = UINT64_MAX;
	int best = -1;

	for (unsigned i = 0; i < n; i++) {
		struct ring_vcpu *r = &h->vcpu[i];
		uint32_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
		uint64_t gseq;

		if (head[i] == tail)
			continue;
		gseq = r->e[tail % RING_ENTRIES].gseq;
		if (best < 0 || gseq < best_gseq) {
			best_gseq = gseq;
			best = (int)i;
		}
	}
	return best;
}

static bool ring_entry_ok(const struct ring_entry *e)
{
	return (e->flags & ~RING_F_WAIT) == 0 && e->trap.bus < TRAP_NBUS &&
	       e->trap.len >= 1 && e->trap.len <= 8 && e->trap.is_write <= 1;
}

/*
 * Complete a waited request: data and status first, then publish seq with
 * a release store; wake the vCPU if it said it sleeps (the fence pairs with
 * the one in ring_sleep_done).
 */
static void ring_complete(struct ring_vcpu *r, uint32_t seq, int status, const uint8_t *data)
{
	memcpy(r->done.data, data, sizeof(r->done.data));
	r->done.status = status;
	atomic_store_explicit(&r->done.seq, seq, memory_order_release);
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&r->vcpu_sleeping, memory_order_relaxed))
		ring_futex(&r->done.seq, FUTEX_WAKE, INT_MAX, NULL);
}

/* Copy out, check and serve the entry at r's tail, then retire it. */
static void ring_serve_one(struct ring_vcpu *r, ring_serve_fn serve, void *opaque)
{
	uint32_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
	struct ring_entry e;
	int status = -EINVAL;

	memcpy(&e, &r->e[tail % RING_ENTRIES], sizeof(e));
	atomic_signal_fence(memory_order_seq_cst);	/* only the copy from here on */
	if (ring_entry_ok(&e))
		status = serve(opaque, &e.trap);
	atomic_store_explicit(&r->tail, tail + 1, memory_order_release);
	if (e.flags & RING_F_WAIT)
		ring_complete(r, e.seq, status, e.trap.data);
}

/*
 * Why two scans: a producer takes its gseq before it publishes, so a ring
 * can look empty in a scan and still get an older entry right after. An
 * entry is served only if the previous scan (not just the current one)
 * already saw it. Everything that happened before that entry was published
 * is then visible to the current scan (the earlier acquire of its head
 * synchronised with its publication) and, holding a smaller gseq, would
 * have been picked first. Each producer has at most one gseq taken but not
 * yet published, so the re-scans end. At most n * RING_ENTRIES requests
 * (more than can be posted at once) are served per call, so a steady
 * stream does not keep the caller from its other fds.
 */
int ring_consume(struct ring_header *h, ring_serve_fn serve, void *opaque)
{
	uint32_t prev[RING_MAX_VCPUS], cur[RING_MAX_VCPUS];
	unsigned n = ring_count(h);
	struct ring_shadow *sh = ring_shadow_of(h, n);
	int served = 0, err = ring_scan(h, n, prev);

	while (!err && served < (int)(n * RING_ENTRIES)) {
		int m;

		err = ring_scan(h, n, cur);
		m = err ? -1 : ring_pick(h, n, cur);
		if (m < 0)
			break;
		if (prev[m] != atomic_load_explicit(&h->vcpu[m].tail, memory_order_relaxed)) {
			if (served == 0)
				ring_shadow_begin(sh);	/* before any tail moves */
			ring_serve_one(&h->vcpu[m], serve, opaque);
			served++;
		}
		memcpy(prev, cur, n * sizeof(cur[0]));
	}
	return err ? err : served;
}

bool ring_pending(struct ring_header *h)
{
	unsigned n = ring_count(h);

	for (unsigned i = 0; i < n; i++) {
		struct ring_vcpu *r = &h->vcpu[i];

		if (atomic_load_explicit(&r->head, memory_order_acquire) !=
		    atomic_load_explicit(&r->tail, memory_order_relaxed))
			return true;
	}
	return false;
}

bool ring_dev_sleep_begin(struct ring_header *h, bool doze)
{
	atomic_store(&h->dev_sleeping, doze ? RING_DEV_DOZING : RING_DEV_ASLEEP);
	atomic_thread_fence(memory_order_seq_cst);	/* pairs with ring_doorbell's */
	if (!ring_pending(h))
		return true;
	atomic_store(&h->dev_sleeping, RING_DEV_AWAKE);
	return false;
}

void ring_dev_sleep_end(struct ring_header *h)
{
	atomic_store_explicit(&h->dev_sleeping, RING_DEV_AWAKE, memory_order_relaxed);
}
