#include "trapbus.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "util.h"

#include "log.h"

static struct trapbus_map *map_alloc(unsigned n)
{
	struct trapbus_map *m = calloc(1, sizeof(*m) + n * sizeof(m->r[0]));

	if (m)
		m->n = n;
	return m;
}

/* The published table (trap_table.h): a sealed memfd, mapped shared. */
static int table_open(struct trapbus *tb)
{
	void *p;

	tb->table_fd = memfd_create(TRAP_TABLE_NAME, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (tb->table_fd < 0 || ftruncate(tb->table_fd, sizeof(*tb->table)) < 0 ||
	    fcntl(tb->table_fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
		return -errno;
	p = mmap(NULL, sizeof(*tb->table), PROT_READ | PROT_WRITE, MAP_SHARED, tb->table_fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	tb->table = p;
	tb->table->magic = TRAP_TABLE_MAGIC;
	tb->table->version = TRAP_TABLE_VERSION;
	return 0;
}

/* Rewrite the table from both buses' maps. Called with tb->lock held. */
static void table_publish(struct trapbus *tb)
{
	struct trap_table *t = tb->table;
	unsigned n = 0;

	if (!t || tb->table_frozen)
		return;
	__atomic_store_n(&t->seq, t->seq + 1, __ATOMIC_RELEASE);
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	for (int b = 0; b < TRAP_NBUS; b++) {
		const struct trapbus_map *m = atomic_load(&tb->map[b]);

		for (unsigned i = 0; m && i < m->n && n < TRAP_TABLE_MAX; i++, n++) {
			const struct trap_region *r = &m->r[i];
			struct trap_table_region *o = &t->r[n];

			*o = (struct trap_table_region){ .bus = r->bus, .region = r->region,
							 .base = r->base, .size = r->size };
			snprintf(o->name, sizeof(o->name), "%s", r->name ? r->name : "?");
			if (r->label)
				snprintf(o->label, sizeof(o->label), "%s", r->label);
			else
				snprintf(o->label, sizeof(o->label), "region%u", r->region);
		}
	}
	t->n = n;
	__atomic_thread_fence(__ATOMIC_SEQ_CST);
	__atomic_store_n(&t->seq, t->seq + 1, __ATOMIC_RELEASE);
}

int trapbus_init(struct trapbus *tb)
{
	memset(tb, 0, sizeof(*tb));
	tb->table_fd = -1;
	if (pthread_mutex_init(&tb->lock, NULL))
		return -ENOMEM;
	if (table_open(tb)) {
		int err = -errno;

		trapbus_destroy(tb);
		return err ? err : -ENOMEM;
	}
	for (int b = 0; b < TRAP_NBUS; b++) {
		struct trapbus_map *m = map_alloc(0);

		if (!m) {
			trapbus_destroy(tb);
			return -ENOMEM;
		}
		atomic_store(&tb->map[b], m);
	}
	return 0;
}

void trapbus_destroy(struct trapbus *tb)
{
	if (tb->record)
		fclose(tb->record);
	tb->record = NULL;
	for (int b = 0; b < TRAP_NBUS; b++)
		free(atomic_exchange(&tb->map[b], NULL));
	while (tb->retired) {
		struct trapbus_map *m = tb->retired;

		tb->retired = m->retired;
		free(m);
	}
	if (tb->table)
		munmap(tb->table, sizeof(*tb->table));
	tb->table = NULL;
	if (tb->table_fd >= 0)
		close(tb->table_fd);
	tb->table_fd = -1;
	pthread_mutex_destroy(&tb->lock);
}

/* Index of the region holding addr, or -1: binary search on base. */
static int map_find(const struct trapbus_map *m, uint64_t addr)
{
	unsigned lo = 0, hi = m->n;

	while (lo < hi) {
		unsigned mid = lo + (hi - lo) / 2;
		const struct trap_region *r = &m->r[mid];

		if (addr < r->base)
			hi = mid;
		else if (addr - r->base >= r->size)
			lo = mid + 1;
		else
			return (int)mid;
	}
	return -1;
}

/*
 * Free the replaced maps no vCPU holds any more; the rest wait for the
 * next call. A vCPU publishes the map it took in its hazard slot and
 * checks it is still current before it reads it, so a map no slot holds
 * is one nobody can read again. Called with tb->lock held.
 */
static void maps_reclaim(struct trapbus *tb)
{
	struct trapbus_map **link = &tb->retired;

	while (*link) {
		struct trapbus_map *m = *link;
		bool held = false;

		for (int v = 0; v < TRAPBUS_MAX_VCPUS && !held; v++)
			held = atomic_load(&tb->hazard[v]) == m;
		if (held) {
			link = &m->retired;
			continue;
		}
		*link = m->retired;
		free(m);
	}
}

/*
 * Publish `next` for `bus`; the array it replaces is freed once no vCPU
 * holds it. Never waits: a handler may change the map of its own bus (a
 * configuration write through ECAM moves a BAR while the MMIO access is
 * being served), and another vCPU may be waiting, inside a handler, for
 * a lock the caller holds. Called with tb->lock held.
 */
static void map_swap(struct trapbus *tb, int bus, struct trapbus_map *next)
{
	struct trapbus_map *old = atomic_exchange(&tb->map[bus], next);

	table_publish(tb);
	old->retired = tb->retired;
	tb->retired = old;
	maps_reclaim(tb);
}

void trapbus_table_freeze(struct trapbus *tb)
{
	pthread_mutex_lock(&tb->lock);
	tb->table_frozen = true;
	pthread_mutex_unlock(&tb->lock);
}

int trapbus_register(struct trapbus *tb, const struct trap_region *r)
{
	struct trapbus_map *cur, *next;
	unsigned i = 0;

	if (r->bus >= TRAP_NBUS || r->size == 0 || r->base + r->size < r->base ||
	    !r->fn)
		return -EINVAL;
	pthread_mutex_lock(&tb->lock);
	cur = atomic_load(&tb->map[r->bus]);
	while (i < cur->n && cur->r[i].base < r->base)
		i++;
	if ((i > 0 && cur->r[i - 1].base + cur->r[i - 1].size > r->base) ||
	    (i < cur->n && r->base + r->size > cur->r[i].base)) {
		pthread_mutex_unlock(&tb->lock);
		return -EBUSY;
	}
	next = map_alloc(cur->n + 1);
	if (!next) {
		pthread_mutex_unlock(&tb->lock);
		return -ENOMEM;
	}
	memcpy(next->r, cur->r, i * sizeof(cur->r[0]));
	next->r[i] = *r;
	memcpy(next->r + i + 1, cur->r + i, (cur->n - i) * sizeof(cur->r[0]));
	map_swap(tb, r->bus, next);
	pthread_mutex_unlock(&tb->lock);
	return 0;
}

int trapbus_unregister(struct trapbus *tb, enum trap_bus bus, uint64_t base)
{
	struct trapbus_map *cur, *next;
	int i;

	if ((unsigned)bus >= TRAP_NBUS)
		return -ENOENT;
	pthread_mutex_lock(&tb->lock);
	cur = atomic_load(&tb->map[bus]);
	i = map_find(cur, base);
	if (i < 0 || cur->r[i].base != base) {
		pthread_mutex_unlock(&tb->lock);
		return -ENOENT;
	}
	next = map_alloc(cur->n - 1);
	if (!next) {
		pthread_mutex_unlock(&tb->lock);
		return -ENOMEM;
	}
	memcpy(next->r, cur->r, (size_t)i * sizeof(cur->r[0]));
	memcpy(next->r + i, cur->r + i + 1, (cur->n - (unsigned)i - 1) * sizeof(cur->r[0]));
	map_swap(tb, bus, next);
	pthread_mutex_unlock(&tb->lock);
	return 0;
}

/* Log an unclaimed address the first time it is seen (bounded set). */
static void log_unclaimed(struct trapbus *tb, const struct trap *t)
{
	bool seen = false;

	pthread_mutex_lock(&tb->lock);
	for (unsigned i = 0; i < tb->nlogged && !seen; i++)
		seen = tb->logged[i].bus == t->bus && tb->logged[i].addr == t->addr;
	if (!seen && tb->nlogged < TRAPBUS_MAX_LOGGED) {
		tb->logged[tb->nlogged].bus = t->bus;
		tb->logged[tb->nlogged++].addr = t->addr;
		log_debug("unclaimed %s %s at 0x%llx (len %u), vCPU %u",
			  t->bus == TRAP_PIO ? "port" : "mmio",
			  t->is_write ? "write" : "read",
			  (unsigned long long)t->addr, t->len, t->vcpu);
	}
	pthread_mutex_unlock(&tb->lock);
}

static void answer_unclaimed(struct trapbus *tb, struct trap *t)
{
	if (t->is_write) {
		atomic_fetch_add(&tb->stats.unclaimed_writes[t->bus], 1);
	} else {
		atomic_fetch_add(&tb->stats.unclaimed_reads[t->bus], 1);
		trap_set_value(t, t->bus == TRAP_PIO ? ~0ULL : 0);
	}
	log_unclaimed(tb, t);
}

int trapbus_record_open(struct trapbus *tb, const char *path)
{
	FILE *f = fopen(path, "ae");

	if (!f)
		return -errno;
	setvbuf(f, NULL, _IOLBF, 0);	/* whole lines, even if the VM is killed */
	tb->record = f;
	return 0;
}

/* One line per served access (stdio locks the FILE: vCPUs do not interleave). */
static void record_trap(FILE *f, const struct trap_region *r, const struct trap *t, int ret)
{
	uint64_t v = 0;

	memcpy(&v, t->data, t->len);
	fprintf(f, "T %s %u %u %llx %llx %llx %u %c %llx %d\n", r->name ? r->name : "-",
		t->bus, t->region, (unsigned long long)r->base, (unsigned long long)r->size,
		(unsigned long long)t->offset, t->len, t->is_write ? 'w' : 'r',
		(unsigned long long)v, ret);
}

int trapbus_dispatch(struct trapbus *tb, struct trap *t)
{
	struct trapbus_map *_Atomic *hz = &tb->hazard[t->vcpu % TRAPBUS_MAX_VCPUS];
	struct trapbus_map *m;
	int i, ret = -ENOENT;

	if (t->bus >= TRAP_NBUS || t->len == 0 || t->len > 8)
		return 1;
	do {
		m = atomic_load(&tb->map[t->bus]);
		atomic_store(hz, m);
	} while (m != atomic_load(&tb->map[t->bus]));

	i = map_find(m, t->addr);
	if (i >= 0 && t->len <= m->r[i].size - (t->addr - m->r[i].base)) {
		const struct trap_region *r = &m->r[i];

		uint64_t t0 = r->lat ? now_ns() : 0;

		t->offset = t->addr - r->base;
		t->region = r->region;
		ret = r->fn(r->opaque, t);
		if (r->lat && ret == 0)
			atomic_fetch_add_explicit(&r->lat[trap_lat_bucket(now_ns() - t0)], 1,
						  memory_order_relaxed);
		if (__builtin_expect(tb->record != NULL, 0))
			record_trap(tb->record, r, t, ret);
	}
	if (ret == 0 && m->r[i].served)
		atomic_fetch_add_explicit(m->r[i].served, 1, memory_order_relaxed);
	atomic_store(hz, NULL);
	if (ret == 0)
		return 0;
	answer_unclaimed(tb, t);
	return 1;
}

/* The first ns past bucket b (trap_lat_bucket's inverse). */
static uint64_t lat_bucket_end(unsigned b)
{
	unsigned l;

	if (b < 4)
		return b + 1;
	l = b / 4 + 1;
	return ((4ull + (b % 4) + 1) << (l - 2));
}

uint64_t trap_lat_quantile(const _Atomic uint64_t *h, double q)
{
	uint64_t total = 0, want, seen = 0;

	for (unsigned b = 0; b < TRAP_LAT_BUCKETS; b++)
		total += atomic_load_explicit(&h[b], memory_order_relaxed);
	if (total == 0)
		return 0;
	want = (uint64_t)(q * (double)total + 0.999999);
	if (want < 1)
		want = 1;
	for (unsigned b = 0; b < TRAP_LAT_BUCKETS; b++) {
		seen += atomic_load_explicit(&h[b], memory_order_relaxed);
		if (seen >= want)
			return lat_bucket_end(b);
	}
	return lat_bucket_end(TRAP_LAT_BUCKETS - 1);
}
