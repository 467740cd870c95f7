/*
 * Trap rings, the shared memory and the producer (vCPU) side; the consumer
 * (device) side is ring_consume.c. Layout and contracts: ring.h.
 *
 * Memory ordering in one place:
 *
 * - Requests: the vCPU fills the entry at head, then release-stores head+1;
 *   the device acquire-loads head before copying the entry. The device
 *   release-stores tail after it has copied (and served) an entry; the vCPU
 *   acquire-loads tail before it reuses a slot.
 * - Completions: the device writes data and status, then release-stores
 *   done.seq; the vCPU acquire-loads done.seq and only then reads them.
 * - Sleeping (both directions, Dekker): the sleeper stores its "sleeping"
 *   word, issues a seq_cst fence, then re-checks for work; the waker stores
 *   the work (head or done.seq), issues a seq_cst fence, then loads the
 *   sleeper's word. The fences order each side's store before its load, so
 *   the two loads cannot both miss the other side's store: either the
 *   sleeper sees the work and does not sleep, or the waker sees the word
 *   and rings. The doorbell is an eventfd counter and FUTEX_WAIT compares
 *   the word inside the kernel, so a ring that lands before the sleeper
 *   actually blocks is not lost either.
 * - gseq order: see ring_consume for why a request is only served once an
 *   earlier scan of the heads already showed it.
 * - The shadow (a seqlock): the device stores an odd seq before it serves
 *   (its release store of tail orders that before the tail moves), and
 *   publishes with an odd seq, a release fence, the image, then an even seq
 *   (release). The reader loads seq (acquire), every ring's head and tail
 *   (acquire) and the requests between them, the bytes, an acquire fence,
 *   seq again: had the device served or rewritten anything in between, the
 *   second load sees the change.
 */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "ring_int.h"
#include "spin.h"
#include "util.h"

#define RING_PAGE        4096u
#define RING_POLL_NS     30000u		/* nap while waiting for ring space */
#define RING_SLICE_NS    1000000u	/* longest futex sleep between *dead checks */
#define RING_MAX_ERRNO   4095

static size_t ring_bytes(unsigned nvcpus)
{
	return sizeof(struct ring_header) + (size_t)nvcpus * sizeof(struct ring_vcpu) +
	       sizeof(struct ring_shadow);
}

struct ring_shadow *ring_shadow_of(struct ring_header *h, unsigned nvcpus)
{
	return (struct ring_shadow *)&h->vcpu[nvcpus];
}

size_t ring_shm_size(unsigned nvcpus)
{
	return ALIGN_UP(ring_bytes(nvcpus), (size_t)RING_PAGE);
}

int ring_shm_init(void *mem, size_t len, unsigned nvcpus)
{
	struct ring_header *h = mem;

	if (!mem || nvcpus == 0 || nvcpus > RING_MAX_VCPUS || len < ring_shm_size(nvcpus))
		return -EINVAL;
	memset(mem, 0, ring_shm_size(nvcpus));
	h->magic = RING_MAGIC;
	h->version = RING_VERSION;
	h->nvcpus = nvcpus;
	h->entries = RING_ENTRIES;
	h->entry_size = sizeof(struct ring_entry);
	return 0;
}

int ring_shm_check(const void *mem, size_t len, unsigned nvcpus)
{
	const struct ring_header *h = mem;

	if (!mem || len < sizeof(*h) || nvcpus == 0 || nvcpus > RING_MAX_VCPUS)
		return -EPROTO;
	if (h->magic != RING_MAGIC || h->version != RING_VERSION)
		return -EPROTO;
	if (h->nvcpus != nvcpus || h->entries != RING_ENTRIES ||
	    h->entry_size != sizeof(struct ring_entry))
		return -EPROTO;
	return len < ring_bytes(nvcpus) ? -EPROTO : 0;
}


static struct timespec ring_ts(uint64_t ns)
{
	return (struct timespec){ .tv_sec = (time_t)(ns / 1000000000u),
				  .tv_nsec = (long)(ns % 1000000000u) };
}

/* ---- Producer ---- */

void ring_producer_init(struct ring_producer *p, struct ring_header *h, unsigned vcpu,
			int doorbell_fd, const _Atomic bool *dead)
{
	*p = (struct ring_producer){ .h = h, .r = &h->vcpu[vcpu], .vcpu = vcpu,
				     .doorbell_fd = doorbell_fd, .dead = dead };
	/* Start past whatever completion is there, so a reused ring never matches early. */
	p->seq = atomic_load_explicit(&p->r->done.seq, memory_order_relaxed);
	p->head = atomic_load_explicit(&p->r->head, memory_order_relaxed);
	spin_gov_init(&p->spin);
}

static bool ring_is_dead(const struct ring_producer *p)
{
	return p->dead && atomic_load(p->dead);
}

/*
 * Free slots: >0 there is room, 0 full, -EPROTO if the device moved tail
 * somewhere impossible.
 */
static int ring_room(const struct ring_producer *p)
{
	uint32_t tail = atomic_load_explicit(&p->r->tail, memory_order_acquire);
	uint32_t used = p->head - tail;

	if (used > RING_ENTRIES)
		return -EPROTO;
	return (int)(RING_ENTRIES - used);
}

/*
 * Wait for a free slot: spin for spin_ns, then nap, until the deadline
 * (from *start, read from the clock only once there is no room: a clock
 * read is not free on every host).
 */
static int ring_wait_room(struct ring_producer *p, const struct ring_wait_cfg *cfg,
			  uint64_t *startp)
{
	for (unsigned i = 0;; i++) {
		int room = ring_room(p);
		uint64_t now, start;

		if (room != 0)
			return room < 0 ? room : 0;
		if (ring_is_dead(p))
			return -EPIPE;
		now = now_ns();
		if (!*startp)
			*startp = now;
		start = *startp;
		if (now - start >= cfg->deadline_ns)
			return -ETIMEDOUT;
		if (now - start < cfg->spin_ns) {
			spin_relax();
			continue;
		}
		struct timespec ts = ring_ts(RING_POLL_NS);
		nanosleep(&ts, NULL);	/* woken early (EINTR): just look again */
	}
}

static void ring_publish(struct ring_producer *p, const struct trap *t, uint32_t flags,
			 uint32_t seq)
{
	struct ring_vcpu *r = p->r;
	struct ring_entry *e = &r->e[p->head % RING_ENTRIES];

	/* head is our own copy: the device can write the shared one. */
	e->gseq = atomic_fetch_add(&p->h->gseq, 1) + 1;
	e->flags = flags;
	e->seq = seq;
	e->trap = *t;
	atomic_store_explicit(&r->head, ++p->head, memory_order_release);
}

/*
 * Ring the device's doorbell if it said it sleeps - for a posted write to a
 * dozing device only once its ring is half full (ring.h). The fence pairs
 * with the one in ring_dev_sleep_begin (see the top of this file). A failed
 * write is not the access's failure: the request is published and is
 * served when the device next looks; a waited one is bounded by its
 * deadline anyway.
 */
static void ring_doorbell(struct ring_producer *p, bool waited)
{
	uint64_t one = 1;
	uint32_t how;

	atomic_thread_fence(memory_order_seq_cst);
	how = atomic_load_explicit(&p->h->dev_sleeping, memory_order_relaxed);
	if (how == RING_DEV_AWAKE)
		return;
	if (how == RING_DEV_DOZING && !waited && ring_room(p) > (int)RING_ENTRIES / 2)
		return;
	if (p->doorbell_fd < 0)
		return;
	p->rung++;
	while (write(p->doorbell_fd, &one, sizeof(one)) < 0 && errno == EINTR)
		;
}

/* Is the completion for seq there? Only an exact match counts. */
static bool ring_done(const struct ring_vcpu *r, uint32_t seq, uint32_t *seen)
{
	*seen = atomic_load_explicit(&r->done.seq, memory_order_acquire);
	return *seen == seq;
}

/*
 * Spin until seq completes or until spin_end: 0, -EPIPE or -EAGAIN, the
 * spin's outcome told to p->spin (spin.h).
 */
static int ring_spin_done(struct ring_producer *p, uint32_t seq, uint64_t spin_end,
			  uint64_t cap_ns)
{
	uint64_t prev = now_ns(), now;
	uint32_t seen;

	if (prev >= spin_end)
		return -EAGAIN;		/* no spin at all */
	for (unsigned i = 1;; i++) {
		if (ring_done(p->r, seq, &seen)) {
			spin_gov_paid(&p->spin);
			return 0;
		}
		if (ring_is_dead(p))
			return -EPIPE;
		spin_relax();
		if (i % SPIN_CLOCK_EVERY)
			continue;
		now = now_ns();
		if (spin_gap(prev, now)) {
			spin_gov_preempted(&p->spin, now);
			return -EAGAIN;
		}
		if (now >= spin_end) {
			spin_gov_wasted(&p->spin, cap_ns);
			return -EAGAIN;
		}
		prev = now;
	}
}

/*
 * Sleep on done.seq until seq completes. The futex sleeps at most
 * RING_SLICE_NS at a time: ring_wake_all cannot change the word (it does
 * not know how many rings really are mapped), so a wake that slips in
 * between the *dead check and FUTEX_WAIT is caught by the next slice.
 */
static int ring_sleep_done(struct ring_producer *p, uint32_t seq, uint64_t end)
{
	struct ring_vcpu *r = p->r;
	uint32_t seen;

	atomic_store(&r->vcpu_sleeping, 1);
	atomic_thread_fence(memory_order_seq_cst);
	for (;;) {
		if (ring_done(r, seq, &seen))
			break;
		if (ring_is_dead(p))
			break;
		uint64_t now = now_ns();
		if (now >= end)
			break;
		struct timespec ts = ring_ts(end - now < RING_SLICE_NS ? end - now : RING_SLICE_NS);
		/* EAGAIN (word changed), EINTR, ETIMEDOUT: all mean look again. */
		ring_futex(&r->done.seq, FUTEX_WAIT, seen, &ts);
	}
	atomic_store_explicit(&r->vcpu_sleeping, 0, memory_order_relaxed);
	if (seen == seq)
		return 0;
	return ring_is_dead(p) ? -EPIPE : -ETIMEDOUT;
}

/*
 * Take the completion: copy it once, then judge the copy. The compiler
 * barrier keeps the compiler from reading the shared bytes again in place
 * of the copy (the device may be changing them).
 */
static int ring_take(const struct ring_vcpu *r, struct trap *t)
{
	uint8_t data[8];
	int32_t status;

	memcpy(data, r->done.data, sizeof(data));
	status = r->done.status;
	atomic_signal_fence(memory_order_seq_cst);
	if (status < 0 && status >= -RING_MAX_ERRNO)
		return status;
	if (status != 0 && status != RING_STATUS_STOP)
		return -EPROTO;
	if (!t->is_write)
		memcpy(t->data, data, t->len <= 8 ? t->len : 8);
	return status;
}

static int ring_wait_done(struct ring_producer *p, struct trap *t, uint32_t seq,
			  const struct ring_wait_cfg *cfg, uint64_t start)
{
	uint64_t now = now_ns(), end = start + cfg->deadline_ns;
	uint64_t spin_end = now + spin_gov_budget(&p->spin, cfg->spin_ns, now);
	int err = ring_spin_done(p, seq, spin_end < end ? spin_end : end, cfg->spin_ns);

	if (err == -EAGAIN) {
		err = ring_sleep_done(p, seq, end);
		now = now_ns();
		if (!err)	/* a spin as long as this wait would have caught it */
			spin_gov_slept(&p->spin, now - start, cfg->spin_ns, now);
	}
	return err ? err : ring_take(p->r, t);
}

int ring_send(struct ring_producer *p, struct trap *t, bool sync, const struct ring_wait_cfg *cfg)
{
	bool waited = !t->is_write || sync;
	uint64_t start = 0;
	int err = ring_wait_room(p, cfg, &start);
	uint32_t seq = 0;

	p->timed_out = err == -ETIMEDOUT;
	p->published = false;
	if (err)
		return err;
	/* Only waited requests use a seq, so done.seq is always the previous one. */
	if (waited)
		seq = ++p->seq;
	ring_publish(p, t, waited ? RING_F_WAIT : 0, seq);
	ring_doorbell(p, waited);
	if (!waited) {
		p->posted++;
		return 0;
	}
	err = ring_wait_done(p, t, seq, cfg, start ? start : now_ns());
	p->timed_out = err == -ETIMEDOUT;
	p->published = true;
	return err;
}

int ring_send_resume(struct ring_producer *p, struct trap *t, bool sync,
		     const struct ring_wait_cfg *cfg)
{
	int err;

	if (!p->timed_out)
		return -EINVAL;
	if (!p->published)
		return ring_send(p, t, sync, cfg);
	err = ring_wait_done(p, t, p->seq, cfg, now_ns());
	p->timed_out = err == -ETIMEDOUT;
	return err;
}

void ring_wake_all(struct ring_header *h, unsigned nvcpus)
{
	unsigned n = nvcpus < RING_MAX_VCPUS ? nvcpus : RING_MAX_VCPUS;

	for (unsigned i = 0; i < n; i++)
		ring_futex(&h->vcpu[i].done.seq, FUTEX_WAKE, INT_MAX, NULL);
}

/* ---- Shadowed registers ---- */

void ring_shadow_begin(struct ring_shadow *sh)
{
	uint32_t seq = atomic_load_explicit(&sh->seq, memory_order_relaxed);

	if (seq % 2 == 0) {
		atomic_store_explicit(&sh->seq, seq + 1, memory_order_relaxed);
		atomic_thread_fence(memory_order_release);
	}
}

void ring_shadow_publish(struct ring_shadow *sh, const struct trap_shadow *s)
{
	ring_shadow_begin(sh);
	memcpy(&sh->s, s, sizeof(*s));
	atomic_store_explicit(&sh->seq, atomic_load_explicit(&sh->seq, memory_order_relaxed) + 1,
			      memory_order_release);
}

/*
 * Every request still in the first nvcpus rings of h is a write s declares
 * neutral (most often: every ring is empty). Each entry is copied before it
 * is judged; one the device rewrote meanwhile is caught by the seqlock.
 */
static bool ring_only_neutral(struct ring_header *h, unsigned nvcpus,
			      const struct trap_shadow *s)
{
	for (unsigned i = 0; i < nvcpus && i < RING_MAX_VCPUS; i++) {
		struct ring_vcpu *r = &h->vcpu[i];
		uint32_t head = atomic_load_explicit(&r->head, memory_order_acquire);
		uint32_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);

		if (head - tail > RING_ENTRIES)
			return false;
		for (uint32_t k = tail; k != head; k++) {
			struct trap t;

			memcpy(&t, &r->e[k % RING_ENTRIES].trap, sizeof(t));
			atomic_signal_fence(memory_order_seq_cst);
			if (!trap_shadow_is_neutral(s, &t))
				return false;
		}
	}
	return true;
}

bool ring_shadow_read(struct ring_shadow *sh, struct ring_header *h, unsigned nvcpus,
		      struct trap *t)
{
	unsigned bit = trap_shadow_bit(t);
	uint32_t seq;
	uint8_t lens, data[8];

	if (!bit)
		return false;
	seq = atomic_load_explicit(&sh->seq, memory_order_acquire);
	if (seq % 2 || (h && !ring_only_neutral(h, nvcpus, &sh->s)))
		return false;
	lens = sh->s.lens[t->region][t->offset];
	memcpy(data, &sh->s.bytes[t->region][t->offset], t->len);
	atomic_thread_fence(memory_order_acquire);
	if (atomic_load_explicit(&sh->seq, memory_order_relaxed) != seq || !(lens & bit))
		return false;
	memset(t->data, 0, sizeof(t->data));
	memcpy(t->data, data, t->len);
	return true;
}
