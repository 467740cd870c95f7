/* The trap bus on its own: registration rules, dispatch, unclaimed accesses. */
#include <errno.h>
#include <pthread.h>
#include <sys/mman.h>
#include <unistd.h>
#include <sched.h>
#include <stdatomic.h>

#include "../check.h"
#include "trapbus.h"
#include "util.h"

struct probe {
	int calls;
	struct trap last;
	int ret;		/* what the handler returns */
	uint64_t value;		/* what it reads back */
};

static int probe_fn(void *opaque, struct trap *t)
{
	struct probe *p = opaque;

	p->calls++;
	p->last = *t;
	if (!t->is_write)
		trap_set_value(t, p->value);
	return p->ret;
}

static struct trap_region region(uint8_t bus, uint64_t base, uint64_t size, struct probe *p)
{
	return (struct trap_region){ .base = base, .size = size, .bus = bus, .region = 3,
				     .name = "probe", .fn = probe_fn, .opaque = p };
}

static struct trap trap_at(uint8_t bus, uint64_t addr, uint8_t len, int is_write)
{
	return (struct trap){ .bus = bus, .addr = addr, .len = len, .is_write = (uint8_t)is_write,
			      .vcpu = 1 };
}

static void test_register_rules(struct trapbus *tb, struct probe *p)
{
	struct trap_region r = region(TRAP_PIO, 0x3f8, 8, p);

	CHECK(trapbus_register(tb, &r) == 0, "register 0x3f8+8");
	CHECK(trapbus_register(tb, &r) == -EBUSY, "same range again: -EBUSY");
	r = region(TRAP_PIO, 0x3f0, 9, p);
	CHECK(trapbus_register(tb, &r) == -EBUSY, "overlap from below: -EBUSY");
	r = region(TRAP_PIO, 0x3ff, 1, p);
	CHECK(trapbus_register(tb, &r) == -EBUSY, "overlap last byte: -EBUSY");
	r = region(TRAP_PIO, 0x3f0, 8, p);
	CHECK(trapbus_register(tb, &r) == 0, "adjacent below is fine");
	r = region(TRAP_PIO, 0x400, 1, p);
	CHECK(trapbus_register(tb, &r) == 0, "adjacent above is fine");
	r = region(TRAP_MMIO, 0x3f8, 8, p);
	CHECK(trapbus_register(tb, &r) == 0, "same address on the other bus is fine");
	r = region(TRAP_PIO, 0x1000, 0, p);
	CHECK(trapbus_register(tb, &r) == -EINVAL, "size 0: -EINVAL");
	r = region(TRAP_MMIO, UINT64_MAX - 1, 4, p);
	CHECK(trapbus_register(tb, &r) == -EINVAL, "wrapping range: -EINVAL");
	r = region(7, 0, 4, p);
	CHECK(trapbus_register(tb, &r) == -EINVAL, "bad bus: -EINVAL");
}

static void test_dispatch(struct trapbus *tb, struct probe *p)
{
	struct trap t = trap_at(TRAP_PIO, 0x3fb, 1, 1);

	t.data[0] = 0x83;
	p->calls = 0;
	CHECK(trapbus_dispatch(tb, &t) == 0, "write inside a region is served");
	CHECK(p->calls == 1 && p->last.offset == 3 && p->last.region == 3 &&
	      p->last.vcpu == 1 && p->last.data[0] == 0x83,
	      "handler sees offset 3, region index, vCPU and data");
	p->value = 0x1234;
	t = trap_at(TRAP_PIO, 0x3f8, 2, 0);
	CHECK(trapbus_dispatch(tb, &t) == 0 && trap_value(&t) == 0x1234,
	      "read returns the handler's value");
	t = trap_at(TRAP_PIO, 0x3f7, 1, 0);
	CHECK(trapbus_dispatch(tb, &t) == 0 && p->last.offset == 7,
	      "the region below the first claims 0x3f7");
}

static void test_unclaimed(struct trapbus *tb, struct probe *p)
{
	struct trap t = trap_at(TRAP_PIO, 0x2e0, 4, 0);
	int calls = p->calls;

	CHECK(trapbus_dispatch(tb, &t) == 1 && trap_value(&t) == 0xffffffffu,
	      "unclaimed PIO read: all-ones");
	t = trap_at(TRAP_MMIO, 0xd0000000, 8, 0);
	memset(t.data, 0xaa, 8);
	CHECK(trapbus_dispatch(tb, &t) == 1 && trap_value(&t) == 0,
	      "unclaimed MMIO read: zeros");
	t = trap_at(TRAP_PIO, 0x2e0, 1, 1);
	CHECK(trapbus_dispatch(tb, &t) == 1, "unclaimed write dropped");
	t = trap_at(TRAP_PIO, 0x3ff, 2, 0);	/* 0x3ff is claimed, 0x400 by another */
	CHECK(trapbus_dispatch(tb, &t) == 1 && trap_value(&t) == 0xffff,
	      "access straddling two regions is unclaimed");
	CHECK(p->calls == calls, "no handler ran for unclaimed accesses");
	CHECK(tb->stats.unclaimed_reads[TRAP_PIO] == 2 && tb->stats.unclaimed_reads[TRAP_MMIO] == 1 &&
	      tb->stats.unclaimed_writes[TRAP_PIO] == 1, "unclaimed accesses counted per bus");
	p->ret = -EINVAL;
	t = trap_at(TRAP_MMIO, 0x3f8, 4, 0);
	CHECK(trapbus_dispatch(tb, &t) == 1 && trap_value(&t) == 0,
	      "a handler that refuses gets the unclaimed answer");
	p->ret = 0;
	t = trap_at(TRAP_PIO, 0x3f8, 0, 0);
	CHECK(trapbus_dispatch(tb, &t) == 1, "length 0 refused");
}

static void test_unregister(struct trapbus *tb)
{
	struct trap t = trap_at(TRAP_PIO, 0x3f8, 1, 0);

	CHECK(trapbus_unregister(tb, TRAP_PIO, 0x3f9) == -ENOENT, "unregister by non-base: -ENOENT");
	CHECK(trapbus_unregister(tb, TRAP_PIO, 0x3f8) == 0, "unregister 0x3f8");
	CHECK(trapbus_dispatch(tb, &t) == 1, "its accesses are now unclaimed");
	CHECK(trapbus_unregister(tb, TRAP_PIO, 0x3f8) == -ENOENT, "twice: -ENOENT");
}

/* The bus counts served accesses into the owner's counter, not refused ones. */
static void test_served_counter(void)
{
	static struct probe p;
	_Atomic uint64_t served = 0;
	struct trapbus tb;
	struct trap_region r = region(TRAP_MMIO, 0x1000, 0x100, &p);
	struct trap t;

	if (trapbus_init(&tb))
		return;
	r.served = &served;
	CHECK(trapbus_register(&tb, &r) == 0, "register with a counter");
	for (int i = 0; i < 3; i++) {
		t = trap_at(TRAP_MMIO, 0x1010, 4, i & 1);
		trapbus_dispatch(&tb, &t);
	}
	p.ret = -EINVAL;
	t = trap_at(TRAP_MMIO, 0x1010, 4, 0);
	trapbus_dispatch(&tb, &t);
	t = trap_at(TRAP_MMIO, 0x2000, 4, 0);
	trapbus_dispatch(&tb, &t);
	CHECK(atomic_load(&served) == 3, "3 served, refused and unclaimed not counted (%llu)",
	      (unsigned long long)atomic_load(&served));
	trapbus_destroy(&tb);
}

/* Many regions: the binary search finds each, and the gaps between them. */
static void test_many(void)
{
	static struct probe p[100];
	struct trapbus tb;
	int found = 0, gaps = 0;

	if (trapbus_init(&tb))
		return;
	for (int i = 99; i >= 0; i--) {	/* reverse order: insertion sorts */
		struct trap_region r = region(TRAP_MMIO, 0x10000 + (uint64_t)i * 0x100, 0x80, &p[i]);

		p[i].value = (uint64_t)i;
		if (trapbus_register(&tb, &r))
			break;
	}
	for (int i = 0; i < 100; i++) {
		struct trap t = trap_at(TRAP_MMIO, 0x10000 + (uint64_t)i * 0x100 + 0x7c, 4, 0);
		struct trap g = trap_at(TRAP_MMIO, 0x10000 + (uint64_t)i * 0x100 + 0x80, 4, 0);

		found += trapbus_dispatch(&tb, &t) == 0 && trap_value(&t) == (uint64_t)i;
		gaps += trapbus_dispatch(&tb, &g) == 1;
	}
	CHECK(found == 100, "100 regions each found by binary search (%d)", found);
	CHECK(gaps == 100, "100 gaps unclaimed (%d)", gaps);
	trapbus_destroy(&tb);
}

/* Readers on other threads while a writer keeps swapping the array. */
struct race {
	struct trapbus *tb;
	_Atomic int stop;
	_Atomic long served, bad;
	uint16_t vcpu;
};

static int race_fn(void *opaque, struct trap *t)
{
	trap_set_value(t, 0x5a);
	return 0;
}

static void *race_reader(void *arg)
{
	struct race *r = arg;

	while (!atomic_load(&r->stop)) {
		struct trap t = trap_at(TRAP_PIO, 0x80, 1, 0);

		t.vcpu = r->vcpu;
		if (trapbus_dispatch(r->tb, &t) == 0)
			atomic_fetch_add(&r->served, 1);
		else if (trap_value(&t) != 0xff)
			atomic_fetch_add(&r->bad, 1);
	}
	return NULL;
}

static void test_concurrent(void)
{
	struct trapbus tb;
	struct race r[2] = { { .vcpu = 0 }, { .vcpu = 1 } };
	pthread_t th[2];
	struct trap_region reg = { .base = 0x80, .size = 1, .bus = TRAP_PIO, .fn = race_fn };
	struct trap_region other = { .base = 0x90, .size = 1, .bus = TRAP_PIO, .fn = race_fn };
	int ok = 1;

	if (trapbus_init(&tb))
		return;
	ok &= trapbus_register(&tb, &other) == 0;
	for (int i = 0; i < 2; i++) {
		r[i].tb = &tb;
		pthread_create(&th[i], NULL, race_reader, &r[i]);
	}
	/* At least 20000 rounds, and until the readers were served often. */
	uint64_t end = now_ns() + 5000000000ull;
	long rounds = 0;

	while (ok && now_ns() < end &&
	       (rounds < 20000 || atomic_load(&r[0].served) + atomic_load(&r[1].served) < 10000)) {
		ok &= trapbus_register(&tb, &reg) == 0;
		ok &= trapbus_unregister(&tb, TRAP_PIO, 0x80) == 0;
		rounds++;
		if (rounds % 64 == 0)
			sched_yield();	/* two cores: let the readers in */
	}
	for (int i = 0; i < 2; i++) {
		atomic_store(&r[i].stop, 1);
		pthread_join(th[i], NULL);
	}
	CHECK(ok && rounds >= 20000, "%ld register/unregister rounds under concurrent dispatch",
	      rounds);
	CHECK(r[0].bad == 0 && r[1].bad == 0, "every read saw either the handler or all-ones");
	CHECK(r[0].served + r[1].served > 0, "readers were served (%ld)",
	      (long)(r[0].served + r[1].served));
	trapbus_destroy(&tb);
}

/* The published table (trap_table.h) follows registrations, through its memfd. */
static void test_table(void)
{
	static struct probe p;
	struct trapbus tb;
	struct trap_region a = region(TRAP_PIO, 0x3f8, 8, &p), b = region(TRAP_MMIO, 0xfe000000, 0x1000, &p);
	char link[64], target[128];
	const struct trap_table *t;
	ssize_t n;

	if (trapbus_init(&tb))
		return;
	snprintf(link, sizeof(link), "/proc/self/fd/%d", tb.table_fd);
	n = readlink(link, target, sizeof(target) - 1);
	target[n > 0 ? n : 0] = '\0';
	CHECK(strncmp(target, "/memfd:" TRAP_TABLE_NAME, strlen("/memfd:" TRAP_TABLE_NAME)) == 0,
	      "the table is a memfd named %s (%s)", TRAP_TABLE_NAME, target);
	t = mmap(NULL, sizeof(*t), PROT_READ, MAP_SHARED, tb.table_fd, 0);
	CHECK(t != MAP_FAILED, "an observer maps it read-only");
	if (t == MAP_FAILED) {
		trapbus_destroy(&tb);
		return;
	}
	b.label = "notify";
	CHECK(trapbus_register(&tb, &a) == 0 && trapbus_register(&tb, &b) == 0, "two regions");
	CHECK(t->magic == TRAP_TABLE_MAGIC && t->version == TRAP_TABLE_VERSION && t->n == 2 &&
	      !(t->seq & 1) && t->seq > 0, "magic, version, 2 regions, seq even (%u)", t->seq);
	CHECK(t->r[0].bus == TRAP_PIO && t->r[0].base == 0x3f8 && t->r[0].size == 8 &&
	      strcmp(t->r[0].name, "probe") == 0 && strcmp(t->r[0].label, "region3") == 0,
	      "pio region: base, size, name, default label (%s %s)", t->r[0].name, t->r[0].label);
	CHECK(t->r[1].bus == TRAP_MMIO && t->r[1].base == 0xfe000000 &&
	      strcmp(t->r[1].label, "notify") == 0, "mmio region with its label (%s)", t->r[1].label);
	CHECK(trapbus_unregister(&tb, TRAP_PIO, 0x3f8) == 0 && t->n == 1 &&
	      t->r[0].base == 0xfe000000, "an unregistered region leaves the table");
	munmap((void *)t, sizeof(*t));
	trapbus_destroy(&tb);
}

/* Latency histograms: buckets within 25%, quantiles as bucket bounds. */
static void test_latency(void)
{
	static _Atomic uint64_t h[TRAP_LAT_BUCKETS];
	uint64_t prev = 0;
	bool mono = true, tight = true;

	for (uint64_t ns = 0; ns < 1000000; ns = ns * 5 / 4 + 1) {
		unsigned b = trap_lat_bucket(ns);

		mono &= b >= prev;
		prev = b;
		memset(h, 0, sizeof(h));
		h[b] = 1;
		tight &= trap_lat_quantile(h, 1.0) > ns && trap_lat_quantile(h, 1.0) <= ns + ns / 4 + 1;
	}
	CHECK(mono, "buckets grow with the time");
	CHECK(tight, "a bucket's bound is above its times and within 25%% of them");
	CHECK_EQ(trap_lat_bucket(UINT64_MAX), TRAP_LAT_BUCKETS - 1, "forever: the last bucket");
	memset(h, 0, sizeof(h));
	CHECK_EQ(trap_lat_quantile(h, 0.5), 0, "nothing counted: 0");
	h[trap_lat_bucket(1000)] = 98;
	h[trap_lat_bucket(50000)] = 1;
	h[trap_lat_bucket(2000000)] = 1;
	CHECK(trap_lat_quantile(h, 0.5) > 1000 && trap_lat_quantile(h, 0.5) <= 1250, "p50 ~1 us");
	CHECK(trap_lat_quantile(h, 0.99) > 50000 && trap_lat_quantile(h, 0.99) <= 62500, "p99 ~50 us");
	CHECK(trap_lat_quantile(h, 1.0) > 2000000 && trap_lat_quantile(h, 1.0) <= 2500000, "max ~2 ms");
}

/*
 * A handler that changes the map of its own bus (an ECAM configuration
 * write moving a BAR, on arm64): it holds that map while it replaces it.
 * Moving a region twice from inside the access must neither wait for
 * itself nor free what it is still reading.
 */
static struct trapbus *self_tb;
static struct probe self_moved;

static int self_move_fn(void *opaque, struct trap *t)
{
	struct trap_region r = region(TRAP_MMIO, 0x20000, 0x1000, &self_moved);
	int *moves = opaque;

	if (trapbus_unregister(self_tb, TRAP_MMIO, 0x10000) == 0 &&
	    trapbus_register(self_tb, &r) == 0 &&
	    trapbus_unregister(self_tb, TRAP_MMIO, 0x20000) == 0 &&
	    trapbus_register(self_tb, &r) == 0)
		(*moves)++;
	trap_set_value(t, 0x77);
	return 0;
}

static void test_change_from_handler(void)
{
	struct trapbus tb;
	struct trap_region cfg = { .base = 0x3f000000, .size = 0x100000, .bus = TRAP_MMIO,
				   .name = "ecam", .fn = self_move_fn };
	struct trap_region bar = region(TRAP_MMIO, 0x10000, 0x1000, &self_moved);
	struct trap t = trap_at(TRAP_MMIO, 0x3f000004, 4, 0);
	int moves = 0;

	cfg.opaque = &moves;
	self_tb = &tb;
	CHECK(trapbus_init(&tb) == 0 && trapbus_register(&tb, &cfg) == 0 &&
	      trapbus_register(&tb, &bar) == 0, "a config region and a BAR on one bus");
	CHECK(trapbus_dispatch(&tb, &t) == 0 && trap_value(&t) == 0x77 && moves == 1,
	      "the handler moved the BAR (4 changes of its own map) and returned");
	t = trap_at(TRAP_MMIO, 0x20010, 4, 0);
	self_moved.value = 5;
	CHECK(trapbus_dispatch(&tb, &t) == 0 && self_moved.calls == 1, "the BAR answers at 0x20000");
	t = trap_at(TRAP_MMIO, 0x10010, 4, 0);
	CHECK(trapbus_dispatch(&tb, &t) == 1, "and no longer at 0x10000");
	trapbus_destroy(&tb);
}

int main(void)
{
	struct trapbus tb;
	struct probe p = { 0 };

	CHECK(trapbus_init(&tb) == 0, "init");
	test_register_rules(&tb, &p);
	test_dispatch(&tb, &p);
	test_unclaimed(&tb, &p);
	test_unregister(&tb);
	trapbus_destroy(&tb);
	test_change_from_handler();
	test_served_counter();
	test_many();
	test_concurrent();
	test_table();
	test_latency();
	return check_done();
}
