#include "harness.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096u

void fz_fail(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "fuzz invariant broken: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n");
	abort();
}

uint64_t fz_le(struct fz_in *in, unsigned n)
{
	uint64_t v = 0;

	for (unsigned i = 0; i < n && i < 8; i++)
		v |= (uint64_t)fz_u8(in) << (8 * i);
	return v;
}

size_t fz_bytes(struct fz_in *in, void *buf, size_t len)
{
	size_t n = len < in->n ? len : in->n;

	memcpy(buf, in->p, n);
	in->p += n;
	in->n -= n;
	return n;
}

void *fz_guarded_alloc(size_t size)
{
	size_t inner = (size + PAGE - 1) / PAGE * PAGE;
	uint8_t *p = mmap(NULL, inner + 2 * PAGE, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

	if (p == MAP_FAILED || mprotect(p + PAGE, inner, PROT_READ | PROT_WRITE) < 0) {
		perror("fuzz: guarded mapping");
		abort();
	}
	/* The object ends exactly at the upper guard page. */
	return p + PAGE + (inner - size);
}

void fz_ram_init(struct fz_ram *r, uint64_t size)
{
	r->base = fz_guarded_alloc(size);
	r->size = size;
	memset(&r->gm, 0, sizeof(r->gm));
	r->gm.fd = -1;
	r->gm.total = size;
	r->gm.nranges = 1;
	r->gm.r[0] = (struct gmem_range){ .gpa = 0, .size = size, .fd_offset = 0, .hva = r->base };
}

void fz_ram_clear(struct fz_ram *r)
{
	memset(r->base, 0, r->size);
}

/* --- the fake host --- */

static struct fz_host *fh(struct device_host *dh)
{
	return dh->opaque;
}

static void *fz_mem_ptr(struct device_host *dh, uint64_t gpa, uint64_t len)
{
	struct fz_ram *r = fh(dh)->ram;
	uint8_t *p = gmem_ptr(&r->gm, gpa, len);

	FZ_CHECK(!p || (p >= r->base && len <= r->size && (uint64_t)(p - r->base) <= r->size - len),
		 "mem_ptr(0x%llx, %llu) returned memory outside guest RAM",
		 (unsigned long long)gpa, (unsigned long long)len);
	return p;
}

static int fz_irq_set(struct device_host *dh, unsigned line, int level)
{
	struct fz_host *h = fh(dh);

	FZ_CHECK(line < h->nirqs, "irq_set(%u, %d): the device owns %u lines", line, level,
		 h->nirqs);
	FZ_CHECK(level == 0 || level == 1, "irq_set(%u, %d): level not 0/1", line, level);
	h->irq_level[line] = level;
	h->raises[line] += level;
	return 0;
}

static int fz_event(struct device_host *dh, enum device_event ev)
{
	struct fz_host *h = fh(dh);

	FZ_CHECK(ev >= DEV_EVENT_RESET && ev <= DEV_EVENT_NEEDS_RESET, "event %d unknown", ev);
	if (ev == DEV_EVENT_RESET || ev == DEV_EVENT_POWEROFF)
		h->dp.stop_posted = true;	/* as devproc's dp_event */
	h->events[ev]++;
	return 0;
}

static void fz_log(struct device_host *dh, int lvl, const char *id, const char *msg)
{
	FZ_CHECK(lvl >= 0 && lvl <= 3 && id && msg, "log line with level %d", lvl);
	fh(dh)->logs++;
	if (getenv("FUZZ_VERBOSE"))
		fprintf(stderr, "log %d %s: %s\n", lvl, id, msg);
}

void fz_host_init(struct fz_host *h, struct fz_ram *ram, unsigned nirqs)
{
	static struct ring_header *ring;
	size_t rsize = ring_shm_size(1);

	if (!ring)
		ring = fz_guarded_alloc(rsize);
	memset(h, 0, sizeof(*h));
	h->ram = ram;
	h->nirqs = nirqs;
	h->ring = ring;
	if (ring_shm_init(ring, rsize, 1))
		fz_fail("ring_shm_init");
	h->dp.ring = ring;
	h->dp.ring_size = rsize;
	h->dp.shadow = ring_shadow_of(ring, 1);
	h->dp.name = "fuzz";
	h->dp.host = (struct device_host){ .mem_ptr = fz_mem_ptr, .irq_set = fz_irq_set,
					   .event = fz_event, .log = fz_log, .opaque = h };
	h->dp.dev.host = &h->dp.host;
	for (unsigned i = 0; i < DEVICE_MAX_FDS; i++)
		h->dp.dev.fds[i] = -1;
	fz_ram_clear(ram);
}

/*
 * Fill p[8] with fresh non-zero bytes the input cannot predict (a real
 * device value equal to all 8 of them is a 2^-64 chance, so no false
 * alarm; an unanswered read keeps them whatever they are).
 */
static void fz_poison(uint8_t *p)
{
	static uint64_t x;

	if (!x)
		x = (uint64_t)getpid() * 0x9e3779b97f4a7c15ull ^ (uint64_t)time(NULL) ^ 1;
	for (unsigned i = 0; i < 8; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (uint8_t)(x | 1);
	}
}

int fz_trap(struct fz_host *h, uint8_t bus, uint8_t region, uint64_t offset, unsigned len,
	    bool is_write, uint64_t value, uint64_t *val)
{
	struct ring_vcpu *r = &h->ring->vcpu[0];
	uint32_t head = atomic_load(&r->head);
	struct ring_entry *e = &r->e[head % RING_ENTRIES];
	struct trap shadowed = { .bus = bus, .len = (uint8_t)len, .region = region,
				 .addr = offset, .offset = offset };
	struct trap_shadow before;
	bool from_shadow, neutral;
	uint64_t dv;
	uint32_t seq = 0;
	int n, status;

	/*
	 * The shadow oracle: publish the registers as the event loop would
	 * after whatever the last op did; a read the shadow answers must get
	 * the same value from the device and change no shadowed register; a
	 * write it declares neutral must change nothing in it.
	 */
	devproc_shadow_refresh(&h->dp);
	memcpy(&before, &h->dp.shadow->s, sizeof(before));
	from_shadow = !is_write && ring_shadow_read(h->dp.shadow, h->ring, 1, &shadowed);
	shadowed.is_write = is_write;
	neutral = trap_shadow_is_neutral(&before, &shadowed);
	e->gseq = atomic_fetch_add(&h->ring->gseq, 1) + 1;
	e->flags = is_write ? 0 : RING_F_WAIT;
	if (!is_write)
		seq = ++h->ring_seq;
	e->seq = seq;
	e->trap = (struct trap){ .bus = bus, .len = (uint8_t)len, .is_write = is_write,
				 .region = region, .addr = offset, .offset = offset };
	if (is_write)
		memcpy(e->trap.data, &value, 8);
	else
		fz_poison(h->poison);
	if (!is_write)
		memcpy(e->trap.data, h->poison, 8);
	atomic_store_explicit(&r->head, head + 1, memory_order_release);
	n = ring_consume(h->ring, devproc_serve_trap, &h->dp);
	FZ_CHECK(n == 1, "ring_consume served %d requests, want 1", n);
	devproc_shadow_refresh(&h->dp);
	FZ_CHECK(!neutral || memcmp(&before, &h->dp.shadow->s, sizeof(before)) == 0,
		 "%u-byte write at region %u +0x%llx was declared neutral but changed the shadow",
		 len, region, (unsigned long long)offset);
	if (is_write)
		return 0;
	memcpy(&dv, r->done.data, sizeof(dv));
	FZ_CHECK(!from_shadow || (r->done.status == 0 && dv == trap_value(&shadowed)),
		 "%u-byte read at region %u +0x%llx: shadow 0x%llx, device 0x%llx (status %d)",
		 len, region, (unsigned long long)offset, (unsigned long long)trap_value(&shadowed),
		 (unsigned long long)dv, r->done.status);
	FZ_CHECK(!from_shadow || memcmp(&before, &h->dp.shadow->s, sizeof(before)) == 0,
		 "%u-byte read at region %u +0x%llx was in the shadow but changed it",
		 len, region, (unsigned long long)offset);
	FZ_CHECK(atomic_load(&r->done.seq) == seq, "read %u not completed", seq);
	status = r->done.status;
	FZ_CHECK(status == 0 || status == RING_STATUS_STOP || (status < 0 && status >= -4095),
		 "read completed with status %d", status);
	if (status == 0 || status == RING_STATUS_STOP) {
		for (unsigned i = len; i < 8; i++)
			FZ_CHECK(r->done.data[i] == 0,
				 "%u-byte read at region %u +0x%llx: byte %u beyond len is 0x%02x",
				 len, region, (unsigned long long)offset, i, r->done.data[i]);
		FZ_CHECK(len < 8 || memcmp(r->done.data, h->poison, 8) != 0,
			 "8-byte read at region %u +0x%llx left unanswered", region,
			 (unsigned long long)offset);
	}
	if (val) {
		*val = 0;
		memcpy(val, r->done.data, len);
	}
	return status;
}

void fz_notify(struct fz_host *h, unsigned q)
{
	struct device *dev = &h->dp.dev;

	if (dev->ops->notify)
		dev->ops->notify(dev, q);
}

void fz_wake(struct fz_host *h)
{
	struct device *dev = &h->dp.dev;

	if (dev->ops->wake)
		dev->ops->wake(dev);
}

void fz_backend(struct fz_host *h, unsigned i)
{
	struct device *dev = &h->dp.dev;
	uint32_t polled = dev->poll_mask & ((1u << dev->nfds) - 1);

	/* devproc polls fds[i] only while the device asks (poll_mask). */
	if (i < DEVICE_MAX_FDS && dev->fds[i] >= 0 && (polled & (1u << i)) && dev->ops->backend)
		dev->ops->backend(dev, i);
}
