/*
 * Trap rings, one or two threads at a time: formatting and checking the
 * memory, what the device is handed, completions, gseq order across rings,
 * and every way a broken or hostile peer shows up (full ring, dead device,
 * forged completion, impossible indexes, bad entries), plus the doorbell.
 */
#include <errno.h>
#include <linux/futex.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "ring_test.h"
#include "util.h"

static const struct ring_wait_cfg cfg_fast = { .spin_ns = 10000, .deadline_ns = 2000000000 };
static const struct ring_wait_cfg cfg_short = { .spin_ns = 1000, .deadline_ns = 20000000 };
static const struct ring_wait_cfg cfg_forge = { .spin_ns = 1000, .deadline_ns = 300000000 };

/* ---- A recording device ---- */

#define LOG_MAX 16

struct rec_dev {
	struct trap seen[LOG_MAX];
	_Atomic int n;
	uint64_t read_value;		/* what reads return */
	int status;			/* what serve returns */
};

static int rec_serve(void *opaque, struct trap *t)
{
	struct rec_dev *d = opaque;
	int i = atomic_load(&d->n);

	if (i < LOG_MAX)
		d->seen[i] = *t;
	atomic_store(&d->n, i + 1);
	if (!t->is_write)
		memcpy(t->data, &d->read_value, 8);
	return d->status;
}

static struct trap mk_trap(uint8_t is_write, uint8_t len, uint64_t addr, uint64_t value)
{
	struct trap t = { .bus = TRAP_MMIO, .len = len, .is_write = is_write, .region = 2,
			  .addr = addr, .offset = addr - 0x1000 };

	memcpy(t.data, &value, 8);
	return t;
}

/* ---- Memory ---- */

static void test_shm(void)
{
	uint8_t *buf = aligned_alloc(4096, ring_shm_size(4));
	struct ring_header *h = (void *)buf;
	size_t len = ring_shm_size(4);

	CHECK(len % 4096 == 0 && len >= sizeof(*h) + 4 * sizeof(struct ring_vcpu),
	      "ring_shm_size(4) = %zu is page-rounded and big enough", len);
	CHECK_EQ(ring_shm_init(buf, len, 0), -EINVAL, "init nvcpus 0");
	CHECK_EQ(ring_shm_init(buf, len, RING_MAX_VCPUS + 1), -EINVAL, "init nvcpus too big");
	CHECK_EQ(ring_shm_init(buf, len - 1, 4), -EINVAL, "init len too short");
	CHECK_EQ(ring_shm_init(buf, len, 4), 0, "init");
	CHECK_EQ(ring_shm_check(buf, len, 4), 0, "check good memory");
	CHECK_EQ(ring_shm_check(buf, len, 3), -EPROTO, "check wrong nvcpus");
	CHECK_EQ(ring_shm_check(buf, sizeof(*h) + 3 * sizeof(struct ring_vcpu), 4), -EPROTO,
		 "check len too short for the rings");
	CHECK_EQ(ring_shm_check(buf, 16, 4), -EPROTO, "check len too short for the header");
	h->magic ^= 1;
	CHECK_EQ(ring_shm_check(buf, len, 4), -EPROTO, "check bad magic");
	h->magic ^= 1;
	h->version = RING_VERSION + 1;
	CHECK_EQ(ring_shm_check(buf, len, 4), -EPROTO, "check bad version");
	h->version = RING_VERSION;
	h->entries = RING_ENTRIES * 2;
	CHECK_EQ(ring_shm_check(buf, len, 4), -EPROTO, "check bad geometry");
	h->entries = RING_ENTRIES;
	h->nvcpus = 1000;
	CHECK_EQ(ring_shm_check(buf, len, 1000), -EPROTO, "check absurd nvcpus");
	free(buf);
}

/* ---- Posted writes and reads ---- */

static void test_post_write(void)
{
	struct rt_mem m;
	struct ring_producer p;
	struct rec_dev d = { 0 };
	struct trap t = mk_trap(1, 4, 0x1010, 0xdeadbeef);

	if (rt_mem_open(&m, 1))
		{ CHECK(0, "rt_mem_open"); return; }
	ring_producer_init(&p, m.h, 0, m.efd, NULL);
	unsigned waited = 99;

	CHECK_EQ(ring_send(&p, &t, false, &cfg_fast), 0, "posted write returns at once");
	CHECK(ring_pending(m.h), "a request is pending");
	CHECK_EQ(p.posted, 1, "counted as posted");
	CHECK_EQ(p.rung, 0, "no doorbell for a device awake");
	CHECK_EQ(ring_consume_commit(m.h, rec_serve, NULL, &d, NULL, &waited), 1,
		 "consume serves one");
	CHECK_EQ(waited, 0, "nobody waits for a posted write");
	CHECK_EQ(atomic_load(&d.n), 1, "serve called once");
	CHECK(memcmp(&d.seen[0], &t, sizeof(t)) == 0, "serve sees the trap exactly");
	CHECK(!ring_pending(m.h), "nothing pending after");
	CHECK_EQ(ring_consume(m.h, rec_serve, &d), 0, "consume on empty rings");
	CHECK_EQ(m.h->vcpu[0].done.seq, 0, "no completion for a posted write");
	rt_mem_close(&m);
}

static void test_read(void)
{
	struct rt_mem m;
	struct ring_producer p;
	struct rec_dev d = { .read_value = 0x8877665544332211ull };
	struct rt_consumer c;
	struct trap t = mk_trap(0, 2, 0x1004, 0xaaaaaaaaaaaaaaaaull);
	uint64_t got;

	if (rt_mem_open(&m, 1) || rt_consumer_start(&c, m.h, rec_serve, &d))
		{ CHECK(0, "setup"); return; }
	ring_producer_init(&p, m.h, 0, m.efd, NULL);
	CHECK_EQ(ring_send(&p, &t, false, &cfg_fast), 0, "read");
	memcpy(&got, t.data, 8);
	CHECK_EQ(got, 0xaaaaaaaaaaaa2211ull, "read copies exactly len bytes");
	t = mk_trap(0, 8, 0x1008, 0);
	CHECK_EQ(ring_send(&p, &t, false, &cfg_fast), 0, "second read");
	CHECK_EQ(trap_value(&t), 0x8877665544332211ull, "8-byte read");
	d.status = -ENODEV;
	t = mk_trap(0, 4, 0x1008, 0x5a5a5a5a5a5a5a5aull);
	CHECK_EQ(ring_send(&p, &t, false, &cfg_fast), -ENODEV, "device status comes back");
	CHECK_EQ(trap_value(&t), 0x5a5a5a5a, "failed read leaves data alone");
	t = mk_trap(1, 4, 0x1008, 7);
	CHECK_EQ(ring_send(&p, &t, true, &cfg_fast), -ENODEV, "sync write waits for status");
	d.status = 7;
	t = mk_trap(0, 4, 0x1008, 0);
	CHECK_EQ(ring_send(&p, &t, false, &cfg_fast), -EPROTO, "positive status is -EPROTO");
	d.status = -5000;
	CHECK_EQ(ring_send(&p, &t, false, &cfg_fast), -EPROTO, "absurd errno is -EPROTO");
	rt_consumer_stop(&c);
	CHECK_EQ(c.err, 0, "consumer saw no error");
	CHECK_EQ(atomic_load(&c.served), 6, "six served");
	CHECK_EQ(atomic_load(&c.waited), 6, "each read and sync write counted as waited");
	CHECK_EQ(p.posted, 0, "none posted");
	rt_mem_close(&m);
}

/* ---- Order ---- */

static void test_gseq_order(void)
{
	static const unsigned vcpus[] = { 1, 0, 1, 1, 0, 2, 0 };
	struct rt_mem m;
	struct ring_producer p[3];
	struct rec_dev d = { 0 };
	bool ordered = true;

	if (rt_mem_open(&m, 3))
		{ CHECK(0, "rt_mem_open"); return; }
	for (unsigned i = 0; i < 3; i++)
		ring_producer_init(&p[i], m.h, i, m.efd, NULL);
	for (unsigned i = 0; i < ARRAY_SIZE(vcpus); i++) {
		struct trap t = mk_trap(1, 1, 0x1000 + i, i);

		if (ring_send(&p[vcpus[i]], &t, false, &cfg_fast))
			ordered = false;
	}
	CHECK_EQ(ring_consume(m.h, rec_serve, &d), ARRAY_SIZE(vcpus), "all served");
	for (unsigned i = 0; i < ARRAY_SIZE(vcpus); i++)
		ordered = ordered && d.seen[i].addr == 0x1000 + i;
	CHECK(ordered, "served in posting order across rings (vCPU 1 first)");
	rt_mem_close(&m);
}

/* ---- Waiting that must end ---- */

static void test_full(void)
{
	struct rt_mem m;
	struct ring_producer p;
	struct trap t = mk_trap(1, 1, 0x1000, 1);
	int err = 0;
	uint64_t t0;

	if (rt_mem_open(&m, 1))
		{ CHECK(0, "rt_mem_open"); return; }
	ring_producer_init(&p, m.h, 0, m.efd, NULL);
	for (unsigned i = 0; i < RING_ENTRIES && !err; i++)
		err = ring_send(&p, &t, false, &cfg_short);
	CHECK_EQ(err, 0, "RING_ENTRIES posted writes fit");
	t0 = now_ns();
	CHECK_EQ(ring_send(&p, &t, false, &cfg_short), -ETIMEDOUT, "full ring times out");
	t0 = now_ns() - t0;
	CHECK(t0 >= cfg_short.deadline_ns && t0 < 1000000000,
	      "after the deadline (%llu us)", (unsigned long long)t0 / 1000);
	CHECK_EQ(m.h->vcpu[0].head, RING_ENTRIES, "nothing published when full");
	rt_mem_close(&m);
}

/*
 * A slow device: the read outlives its deadline, is served late, and the
 * resumed wait takes that completion without publishing the read again. A
 * send that found the ring full is published by its resume.
 */
static void test_resume(void)
{
	struct rt_mem m;
	struct ring_producer p;
	struct rec_dev d = { .read_value = 0x42 };
	struct trap t = mk_trap(0, 1, 0x1000, 0), w = mk_trap(1, 1, 0x1000, 1);
	struct rt_consumer c;
	int err = 0;

	if (rt_mem_open(&m, 1))
		{ CHECK(0, "rt_mem_open"); return; }
	ring_producer_init(&p, m.h, 0, m.efd, NULL);
	CHECK_EQ(ring_send_resume(&p, &t, false, &cfg_short), -EINVAL, "nothing to resume");
	CHECK_EQ(ring_send(&p, &t, false, &cfg_short), -ETIMEDOUT, "unserved read times out");
	CHECK_EQ(ring_send_resume(&p, &t, false, &cfg_short), -ETIMEDOUT, "still unserved");
	CHECK_EQ(m.h->vcpu[0].head, 1, "published once");
	if (rt_consumer_start(&c, m.h, rec_serve, &d))
		{ CHECK(0, "rt_consumer_start"); rt_mem_close(&m); return; }
	CHECK_EQ(ring_send_resume(&p, &t, false, &cfg_fast), 0, "served late: resume takes it");
	CHECK_EQ(trap_value(&t), 0x42, "the late read's data");
	CHECK_EQ(atomic_load(&d.n), 1, "served once");
	rt_consumer_stop(&c);
	CHECK_EQ(ring_send_resume(&p, &t, false, &cfg_short), -EINVAL, "nothing left to resume");

	for (unsigned i = 0; i < RING_ENTRIES && !err; i++)
		err = ring_send(&p, &w, false, &cfg_short);
	CHECK_EQ(err, 0, "fill the ring with posted writes");
	CHECK_EQ(ring_send(&p, &t, false, &cfg_short), -ETIMEDOUT, "full ring times out");
	if (rt_consumer_start(&c, m.h, rec_serve, &d))
		{ CHECK(0, "rt_consumer_start"); rt_mem_close(&m); return; }
	CHECK_EQ(ring_send_resume(&p, &t, false, &cfg_fast), 0, "room came: resume sends it");
	rt_consumer_stop(&c);
	CHECK_EQ(atomic_load(&d.n), 2 + RING_ENTRIES, "every access served once");
	rt_mem_close(&m);
}

struct killer {
	struct ring_header *h;
	_Atomic bool dead;
};

static void *killer_main(void *arg)
{
	struct killer *k = arg;
	struct timespec ts = { 0, 20000000 };

	nanosleep(&ts, NULL);
	atomic_store(&k->dead, true);
	ring_wake_all(k->h, k->h->nvcpus);
	return NULL;
}

static void test_dead(void)
{
	static const struct ring_wait_cfg cfg_long = { .spin_ns = 0, .deadline_ns = 5000000000ull };
	struct rt_mem m;
	struct ring_producer p;
	struct killer k;
	pthread_t th;
	struct trap t = mk_trap(0, 4, 0x1000, 0);
	uint64_t t0;

	if (rt_mem_open(&m, 2))
		{ CHECK(0, "rt_mem_open"); return; }
	k.h = m.h;
	atomic_store(&k.dead, false);
	ring_producer_init(&p, m.h, 1, m.efd, &k.dead);
	t0 = now_ns();
	if (pthread_create(&th, NULL, killer_main, &k))
		{ CHECK(0, "pthread_create"); return; }
	CHECK_EQ(ring_send(&p, &t, false, &cfg_long), -EPIPE, "sleeping read ends with -EPIPE");
	pthread_join(th, NULL);
	t0 = now_ns() - t0;
	CHECK(t0 < 1000000000, "promptly, well before the deadline (%llu us)", (unsigned long long)t0 / 1000);
	CHECK_EQ(m.h->vcpu[1].vcpu_sleeping, 0, "vcpu_sleeping cleared");
	t0 = now_ns();
	CHECK_EQ(ring_send(&p, &t, false, &cfg_long), -EPIPE, "read on a dead device");
	atomic_store(&m.h->vcpu[1].tail, atomic_load(&m.h->vcpu[1].head) - RING_ENTRIES);
	t.is_write = 1;
	CHECK_EQ(ring_send(&p, &t, false, &cfg_long), -EPIPE, "full ring on a dead device");
	CHECK(now_ns() - t0 < 1000000000, "both at once, well before the deadline");
	rt_mem_close(&m);
}

/* ---- A hostile device ---- */

struct forger {
	struct ring_vcpu *r;
	uint32_t seen;			/* head already answered */
	_Atomic bool stop;
	_Atomic int forged;
};

/* Answer every waited request with the wrong seq (and a tempting payload). */
static void *forger_main(void *arg)
{
	struct forger *f = arg;
	uint32_t seen = f->seen;

	while (!atomic_load(&f->stop)) {
		uint32_t head = atomic_load(&f->r->head);

		if (head == seen) {
			__builtin_ia32_pause();
			continue;
		}
		uint32_t seq = f->r->e[seen % RING_ENTRIES].seq;
		memset(f->r->done.data, 0x66, 8);
		f->r->done.status = 0;
		atomic_store(&f->r->done.seq, seq ^ 0x80000000u);
		syscall(SYS_futex, &f->r->done.seq, FUTEX_WAKE, 1, NULL, NULL, 0);
		atomic_fetch_add(&f->forged, 1);
		seen = head;
	}
	return NULL;
}

static void test_forged_seq(void)
{
	struct rt_mem m;
	struct ring_producer p;
	struct forger f;
	pthread_t th;
	struct trap t = mk_trap(0, 8, 0x1000, 0x1111111111111111ull);

	if (rt_mem_open(&m, 1))
		{ CHECK(0, "rt_mem_open"); return; }
	ring_producer_init(&p, m.h, 0, m.efd, NULL);
	f.r = &m.h->vcpu[0];
	f.seen = atomic_load(&f.r->head);
	atomic_store(&f.stop, false);
	atomic_store(&f.forged, 0);
	if (pthread_create(&th, NULL, forger_main, &f))
		{ CHECK(0, "pthread_create"); return; }
	/* Long enough for the forger to answer on a loaded machine. */
	CHECK_EQ(ring_send(&p, &t, false, &cfg_forge), -ETIMEDOUT, "forged seq is not taken");
	CHECK_EQ(trap_value(&t), 0x1111111111111111ull, "data untouched");
	CHECK_EQ(ring_send(&p, &t, true, &cfg_forge), -ETIMEDOUT, "again, after a timeout");
	atomic_store(&f.stop, true);
	pthread_join(th, NULL);
	CHECK(atomic_load(&f.forged) == 2, "the forger did answer (%d)", atomic_load(&f.forged));
	rt_mem_close(&m);
}

static void test_bad_tail(void)
{
	struct rt_mem m;
	struct ring_producer p;
	struct rec_dev d = { 0 };
	struct trap t = mk_trap(1, 1, 0x1000, 1);
	struct ring_vcpu *r;

	if (rt_mem_open(&m, 2))
		{ CHECK(0, "rt_mem_open"); return; }
	r = &m.h->vcpu[1];
	ring_producer_init(&p, m.h, 1, m.efd, NULL);
	CHECK_EQ(ring_send(&p, &t, false, &cfg_short), 0, "post");
	atomic_store(&r->tail, atomic_load(&r->head) - RING_ENTRIES - 1);
	CHECK_EQ(ring_send(&p, &t, false, &cfg_short), -EPROTO, "producer: tail far behind");
	CHECK_EQ(ring_consume(m.h, rec_serve, &d), -EPROTO, "consumer: tail far behind");
	atomic_store(&r->tail, atomic_load(&r->head) + 1);
	CHECK_EQ(ring_send(&p, &t, false, &cfg_short), -EPROTO, "producer: tail ahead of head");
	CHECK_EQ(ring_consume(m.h, rec_serve, &d), -EPROTO, "consumer: tail ahead of head");
	CHECK_EQ(atomic_load(&d.n), 0, "nothing served");
	atomic_store(&r->tail, atomic_load(&r->head) - RING_ENTRIES);
	CHECK_EQ(ring_consume(m.h, rec_serve, &d), RING_ENTRIES, "exactly full is fine");
	rt_mem_close(&m);
}

static void test_bad_entry(void)
{
	struct rt_mem m;
	struct ring_producer p;
	struct rec_dev d = { .read_value = 42 };
	struct rt_consumer c;
	struct trap t = mk_trap(0, 0, 0x1000, 0x77);

	if (rt_mem_open(&m, 1) || rt_consumer_start(&c, m.h, rec_serve, &d))
		{ CHECK(0, "setup"); return; }
	ring_producer_init(&p, m.h, 0, m.efd, NULL);
	CHECK_EQ(ring_send(&p, &t, false, &cfg_fast), -EINVAL, "len 0 read: -EINVAL");
	CHECK(t.data[0] == 0x77, "len 0: data untouched");
	t = mk_trap(0, 9, 0x1000, 0x77);
	CHECK_EQ(ring_send(&p, &t, false, &cfg_fast), -EINVAL, "len 9 read: -EINVAL");
	t = mk_trap(1, 4, 0x1000, 0x77);
	t.bus = TRAP_NBUS;
	CHECK_EQ(ring_send(&p, &t, true, &cfg_fast), -EINVAL, "bad bus: -EINVAL");
	t = mk_trap(1, 4, 0x1000, 0x77);
	t.is_write = 2;
	CHECK_EQ(ring_send(&p, &t, true, &cfg_fast), -EINVAL, "is_write 2: -EINVAL");
	CHECK_EQ(atomic_load(&d.n), 0, "serve never called");
	t = mk_trap(0, 4, 0x1000, 0);
	CHECK_EQ(ring_send(&p, &t, false, &cfg_fast), 0, "a good read after them");
	CHECK_EQ(trap_value(&t), 42, "is served");
	rt_consumer_stop(&c);
	rt_mem_close(&m);
}

/* ---- Sleeping ---- */

static uint64_t doorbell_count(int efd)
{
	uint64_t v = 0;

	if (read(efd, &v, sizeof(v)) != sizeof(v))
		return 0;
	return v;
}

static void test_doorbell(void)
{
	struct rt_mem m;
	struct ring_producer p;
	struct rec_dev d = { 0 };
	struct trap t = mk_trap(1, 1, 0x1000, 1);
	unsigned fails = 0;

	if (rt_mem_open(&m, 1))
		{ CHECK(0, "rt_mem_open"); return; }
	ring_producer_init(&p, m.h, 0, m.efd, NULL);
	CHECK(ring_dev_sleep_begin(m.h, false), "may sleep with nothing pending");
	CHECK_EQ(m.h->dev_sleeping, RING_DEV_ASLEEP, "marked sleeping");
	CHECK_EQ(ring_send(&p, &t, false, &cfg_fast), 0, "post to a sleeping device");
	CHECK_EQ(doorbell_count(m.efd), 1, "the doorbell rang");
	ring_dev_sleep_end(m.h);
	CHECK_EQ(m.h->dev_sleeping, 0, "mark cleared");
	CHECK(!ring_dev_sleep_begin(m.h, false), "may not sleep with a request pending");
	CHECK_EQ(m.h->dev_sleeping, 0, "and the mark is cleared again");
	CHECK_EQ(ring_send(&p, &t, false, &cfg_fast), 0, "post to an awake device");
	CHECK_EQ(doorbell_count(m.efd), 0, "no doorbell");
	CHECK_EQ(ring_consume(m.h, rec_serve, &d), 2, "both served");
	CHECK(ring_dev_sleep_begin(m.h, true), "may doze with nothing pending");
	CHECK_EQ(m.h->dev_sleeping, RING_DEV_DOZING, "marked dozing");
	for (unsigned i = 0; i < RING_ENTRIES / 2 - 1; i++)
		fails += ring_send(&p, &t, false, &cfg_fast) != 0;
	CHECK_EQ(fails, 0, "posts to a dozing device");
	CHECK_EQ(doorbell_count(m.efd), 0, "no doorbell while the ring is less than half full");
	CHECK_EQ(ring_send(&p, &t, false, &cfg_fast), 0, "one more post");
	CHECK_EQ(doorbell_count(m.efd), 1, "the ring half full: the doorbell rang");
	CHECK(ring_consume(m.h, rec_serve, &d) > 0, "served");
	ring_dev_sleep_end(m.h);
	CHECK(ring_dev_sleep_begin(m.h, true), "dozing again");
	t = mk_trap(0, 1, 0x1000, 0);
	CHECK_EQ(ring_send(&p, &t, false, &cfg_short), -ETIMEDOUT, "a read nobody serves times out");
	CHECK_EQ(doorbell_count(m.efd), 1, "a read to a dozing device rang the doorbell");
	rt_mem_close(&m);
}

/*
 * The shadow: a read is answered from it only at the size published, while
 * seq is even and no request waits in any ring; serving (ring_consume)
 * takes it away until the device publishes again.
 */
/* ring_shadow_read on a copy of t: true with the value in *v if answered. */
static bool shadow_read(struct ring_shadow *sh, struct ring_header *h, unsigned n, struct trap t,
			uint64_t *v)
{
	bool answered = ring_shadow_read(sh, h, n, &t);

	*v = trap_value(&t);
	return answered;
}

static void test_shadow(void)
{
	struct rt_mem m;
	struct ring_producer p;
	struct rec_dev d = { 0 };
	struct trap_shadow img = { 0 };
	struct ring_shadow *sh;
	struct trap r4 = mk_trap(0, 4, 0x1008, 0), r2 = mk_trap(0, 2, 0x1008, 0), t = r4;
	struct trap w = mk_trap(1, 4, 0x1010, 7);
	uint64_t v = 0;

	if (rt_mem_open(&m, 2))
		{ CHECK(0, "rt_mem_open"); return; }
	sh = ring_shadow_of(m.h, 2);
	CHECK((uint8_t *)(sh + 1) <= (uint8_t *)m.mem + m.len, "the shadow fits the ring memory");
	CHECK(!shadow_read(sh, m.h, 2, r4, &v), "a fresh shadow answers nothing");
	trap_shadow_put(&img, 2, 8, 4, 0x11223344);
	ring_shadow_publish(sh, &img);
	CHECK(shadow_read(sh, m.h, 2, r4, &v) && v == 0x11223344,
	      "published: a 4-byte read there is answered (0x%llx)", (unsigned long long)v);
	CHECK(!shadow_read(sh, m.h, 2, r2, &v), "another size is not");
	t.region = 1;
	CHECK(!shadow_read(sh, m.h, 2, t, &v), "nor another region");
	t = r4;
	t.is_write = 1;
	CHECK(!shadow_read(sh, m.h, 2, t, &v), "nor a write");
	ring_producer_init(&p, m.h, 1, m.efd, NULL);
	CHECK_EQ(ring_send(&p, &w, false, &cfg_fast), 0, "vCPU 1 posts a write");
	CHECK(!shadow_read(sh, m.h, 2, r4, &v), "a request in vCPU 1's ring: vCPU 0 is not answered");
	CHECK(shadow_read(sh, m.h, 1, r4, &v), "(a caller that says it has one vCPU only looks at ring 0)");
	CHECK_EQ(ring_consume(m.h, rec_serve, &d), 1, "the device serves it");
	CHECK(!shadow_read(sh, m.h, 2, r4, &v), "served but not yet published: not answered");
	trap_shadow_put(&img, 2, 8, 4, 0x55667788);
	ring_shadow_publish(sh, &img);
	CHECK(shadow_read(sh, m.h, 2, r4, &v) && v == 0x55667788, "published again: the new value");
	trap_shadow_neutral(&img, 2, 0x10, 4);
	ring_shadow_publish(sh, &img);
	CHECK_EQ(ring_send(&p, &w, false, &cfg_fast), 0, "vCPU 1 posts a write the image declares neutral");
	CHECK(shadow_read(sh, m.h, 2, r4, &v) && v == 0x55667788, "a neutral write pending: answered");
	w.len = 2;
	CHECK_EQ(ring_send(&p, &w, false, &cfg_fast), 0, "and one of another size");
	CHECK(!shadow_read(sh, m.h, 2, r4, &v), "a write not declared neutral pending: not answered");
	CHECK_EQ(ring_consume(m.h, rec_serve, &d), 2, "the device serves both");
	ring_shadow_publish(sh, &img);
	ring_shadow_begin(sh);
	CHECK(!shadow_read(sh, m.h, 2, r4, &v), "while the device rewrites it: not answered");
	ring_shadow_publish(sh, &img);
	atomic_store(&m.h->vcpu[0].tail, 5);	/* a device that broke its ring */
	CHECK(!shadow_read(sh, m.h, 2, r4, &v), "impossible indexes: not answered");
	rt_mem_close(&m);
}

int main(void)
{
	test_shm();
	test_post_write();
	test_read();
	test_gseq_order();
	test_full();
	test_resume();
	test_dead();
	test_forged_seq();
	test_bad_tail();
	test_bad_entry();
	test_doorbell();
	test_shadow();
	return check_done();
}
