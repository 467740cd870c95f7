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
static int ring_scan(struct ring_header *h, unsigned n, const uint32_t *tail, uint32_t *head)
{
	for (unsigned i = 0; i < n; i++) {
		head[i] = atomic_load_explicit(&h->vcpu[i].head, memory_order_acquire);
		if (head[i] - tail[i] > RING_ENTRIES)
			return -EPROTO;
	}
	return 0;
}

/* The ring whose oldest pending entry (per head[]) has the smallest gseq, or -1. */
static int ring_pick(struct ring_header *h, unsigned n, const uint32_t *tail,
		     const uint32_t *head)
{
	uint64_t best_gseq = UINT64_MAX;
	int best = -1;

	for (unsigned i = 0; i < n; i++) {
		uint64_t gseq;

		if (head[i] == tail[i])
			continue;
		gseq = h->vcpu[i].e[tail[i] % RING_ENTRIES].gseq;
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
static void ring_complete(struct ring_vcpu *r, const struct ring_done *d)
{
	memcpy(r->done.data, d->data, sizeof(r->done.data));
	r->done.status = d->status;
	atomic_store_explicit(&r->done.seq, d->seq, memory_order_release);
	atomic_thread_fence(memory_order_seq_cst);
	if (atomic_load_explicit(&r->vcpu_sleeping, memory_order_relaxed))
		ring_futex(&r->done.seq, FUTEX_WAKE, INT_MAX, NULL);
}

/* Copy out, check and serve the entry at ring i's tail (rs's), then retire it in rs. */
static bool ring_serve_one(struct ring_header *h, unsigned i, struct ring_resume *rs,
			   ring_serve_fn serve, void *opaque)
{
	struct ring_entry e;
	int status = -EINVAL;

	memcpy(&e, &h->vcpu[i].e[rs->tail[i] % RING_ENTRIES], sizeof(e));
	atomic_signal_fence(memory_order_seq_cst);	/* only the copy from here on */
	if (ring_entry_ok(&e))
		status = serve(opaque, &e.trap);
	rs->tail[i]++;
	if (!(e.flags & RING_F_WAIT))
		return false;
	rs->done[i].seq = e.seq;
	rs->done[i].status = status;
	memcpy(rs->done[i].data, e.trap.data, sizeof(rs->done[i].data));
	return true;
}

/* Make what rs says visible to the vCPUs: tails, and the completions in `complete`. */
static void ring_retire(struct ring_header *h, unsigned n, const struct ring_resume *rs,
			const bool *complete)
{
	for (unsigned i = 0; i < n; i++) {
		atomic_store_explicit(&h->vcpu[i].tail, rs->tail[i], memory_order_release);
		if (complete[i])
			ring_complete(&h->vcpu[i], &rs->done[i]);
	}
}

void ring_resume_init(struct ring_header *h, struct ring_resume *rs)
{
	unsigned n = ring_count(h);

	memset(rs, 0, sizeof(*rs));
	for (unsigned i = 0; i < n; i++) {
		rs->tail[i] = atomic_load_explicit(&h->vcpu[i].tail, memory_order_relaxed);
		rs->done[i].seq = atomic_load_explicit(&h->vcpu[i].done.seq, memory_order_relaxed);
		rs->done[i].status = h->vcpu[i].done.status;
		memcpy(rs->done[i].data, h->vcpu[i].done.data, sizeof(rs->done[i].data));
	}
}

unsigned ring_resume_pending(struct ring_header *h, const struct ring_resume *rs)
{
	unsigned n = ring_count(h), pending = 0;

	for (unsigned i = 0; i < n; i++) {
		uint32_t d = atomic_load_explicit(&h->vcpu[i].head, memory_order_acquire) - rs->tail[i];

		pending += d <= RING_ENTRIES ? d : 0;
	}
	return pending;
}

int ring_resume_apply(struct ring_header *h, const struct ring_resume *rs)
{
	unsigned n = ring_count(h);
	bool complete[RING_MAX_VCPUS];

	for (unsigned i = 0; i < n; i++) {
		uint32_t head = atomic_load_explicit(&h->vcpu[i].head, memory_order_acquire);

		if (head - rs->tail[i] > RING_ENTRIES)
			return -EPROTO;
		complete[i] = atomic_load_explicit(&h->vcpu[i].done.seq, memory_order_relaxed) !=
			      rs->done[i].seq;
	}
	ring_retire(h, n, rs, complete);
	return 0;
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
 *
 * Tails and completions move in rs while the batch is served and reach the
 * rings only after commit: a device killed before commit returns leaves
 * every request of the batch in its ring, to be served again.
 */
int ring_consume_commit(struct ring_header *h, ring_serve_fn serve, ring_commit_fn commit,
			void *opaque, struct ring_resume *rs, unsigned *waited)
{
	uint32_t prev[RING_MAX_VCPUS], cur[RING_MAX_VCPUS];
	bool complete[RING_MAX_VCPUS] = { false };
	unsigned n = ring_count(h);
	struct ring_shadow *sh = ring_shadow_of(h, n);
	struct ring_resume local;
	int served = 0, err;
	unsigned nwaited = 0;

	if (!rs) {
		ring_resume_init(h, &local);
		rs = &local;
	}
	err = ring_scan(h, n, rs->tail, prev);
	while (!err && served < (int)(n * RING_ENTRIES)) {
		int m;

		err = ring_scan(h, n, rs->tail, cur);
		m = err ? -1 : ring_pick(h, n, rs->tail, cur);
		if (m < 0)
			break;
		if (prev[m] != rs->tail[m]) {
			if (served == 0)
				ring_shadow_begin(sh);	/* before any tail moves */
			if (ring_serve_one(h, (unsigned)m, rs, serve, opaque)) {
				complete[m] = true;
				nwaited++;
			}
			served++;
		}
		memcpy(prev, cur, n * sizeof(cur[0]));
	}
	if (served && commit)
		commit(opaque, rs);
	if (served)
		ring_retire(h, n, rs, complete);
	if (waited)
		*waited = nwaited;
	return err ? err : served;
}

int ring_consume(struct ring_header *h, ring_serve_fn serve, void *opaque)
{
	return ring_consume_commit(h, serve, NULL, opaque, NULL, NULL);
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
