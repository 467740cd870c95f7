/*
 * virtio_blk: the virtio-blk functions on bus 0 driven as Linux's
 * virtio_blk does (virtio.h for the transport, virtio_blkdrv.h for the
 * requests): capacity and features; on the first writable disk a pattern
 * (virtio_blkdrv.h) written with several requests in flight, flushed, read
 * back and compared; GET_ID; out-of-range sectors answer IOERR; on the first
 * read-only disk a read works and a write answers IOERR and changes
 * nothing. Every batch of requests (queued, then one kick) must raise the
 * queue's MSI-X vector, seen in the LAPIC IRR (a fresh vector per batch).
 *
 * Command line keys (all optional):
 *   blk_mode=rw|write|verify  rw (default): write, flush, read back;
 *                     write: write and flush only; verify: read back only
 *                     (a second VM run proves the data persisted)
 *   blk_seed=N        pattern seed (default 1)
 *   blk_sectors=N     sectors to cover from 0 (default: the whole disk,
 *                     at most 8192 = 4 MiB)
 *   blk_depth=N       requests queued before one kick (default 8, max 32)
 *   blk_chunk=N       sectors per request (default 64 = 32 KiB, max 256)
 *   blk_flush_every=N flush after every N batches of writes (default 0:
 *                     once at the end); each flush prints
 *                     "virtio_blk: flushed up to sector N" (every sector
 *                     below N was written, completed and then flushed)
 *   blk_disks=N       virtio-blk functions expected on bus 0
 *   blk_ro=1          a read-only disk must be among them
 *   blk_serial=S      GET_ID of the writable disk must be S
 *   qemu_exit         end through isa-debug-exit (QEMU)
 */
#include "virtio_blkdrv.h"

#define MAX_DISKS 4
#define IRQ_WAIT_S 10	/* seconds an interrupt may take (vio_irq_wait) */

static struct vio_dev devs[MAX_DISKS];
static struct vblk blks[MAX_DISKS];

struct run {
	struct vblk *b;
	uint64_t seed, nsect;
	unsigned depth, chunk, flush_every;
	uint64_t bufs;			/* depth * chunk sectors */
	unsigned batches, irqs, reqs, bad;
};

static uint64_t key_u64(const char *key, uint64_t def, uint64_t max)
{
	uint64_t v;

	if (!cmdline_get_u64(key, &v))
		return def;
	return v > max ? max : v;
}

static bool flush(struct run *r, uint64_t upto)
{
	uint8_t vec = vio_irq_rearm(r->b->vd, r->b->q), st;

	st = vblk_do(r->b, VBLK_T_FLUSH, 0, 0, 0);
	if (!t_expect(st == VBLK_S_OK, "flush: status %u", st))
		return false;
	t_expect(!vec || vio_irq_wait(vec, IRQ_WAIT_S),
		 "flush: interrupt (vector 0x%x) in the LAPIC IRR", vec);
	printf("virtio_blk: flushed up to sector %lu\n", upto);
	return true;
}

/* One batch: queue up to depth requests from sector *s, one kick, reap. */
static bool batch(struct run *r, bool write, uint64_t *s)
{
	uint64_t first[VBLK_SLOTS];
	unsigned cnt[VBLK_SLOTS], k, j;
	bool ind = !write;		/* reads go through indirect tables */
	uint8_t vec = vio_irq_rearm(r->b->vd, r->b->q), st;

	for (k = 0; k < r->depth && *s < r->nsect; k++) {
		uint64_t buf = r->bufs + 512ull * r->chunk * k;

		first[k] = *s;
		cnt[k] = (unsigned)(r->nsect - *s < r->chunk ? r->nsect - *s : r->chunk);
		if (write)
			vblk_pattern_fill(buf, r->seed, first[k], cnt[k]);
		if (!vblk_submit(r->b, k, write ? VBLK_T_OUT : VBLK_T_IN, first[k], buf,
				 512 * cnt[k], ind)) {
			t_fail("%s: no room in the ring for request %u", write ? "write" : "read", k);
			return false;
		}
		*s += cnt[k];
	}
	vio_kick(r->b->q);
	for (j = 0; j < k; j++) {
		int slot = vblk_complete(r->b, 4000000, &st), bad;

		if (slot < 0) {
			t_fail("%s: %u of %u requests completed, then nothing",
			       write ? "write" : "read", j, k);
			return false;
		}
		r->reqs++;
		if (st != VBLK_S_OK) {
			if (r->bad++ < 4)
				t_fail("%s at sector %lu: status %u", write ? "write" : "read",
				       first[slot], st);
			continue;
		}
		if (write)
			continue;
		bad = vblk_pattern_check(r->bufs + 512ull * r->chunk * slot, r->seed,
					 first[slot], cnt[slot]);
		if (bad >= 0 && r->bad++ < 4)
			t_fail("read: sector %lu does not hold the pattern (seed %lu)",
			       first[slot] + (unsigned)bad, r->seed);
	}
	r->batches++;
	if (vec && vio_irq_wait(vec, IRQ_WAIT_S))
		r->irqs++;
	return true;
}

static void pass(struct run *r, bool write)
{
	uint64_t s = 0;
	unsigned kicks = r->b->q->kicks;
	bool ok = true;

	r->batches = r->irqs = r->reqs = r->bad = 0;
	while (s < r->nsect && ok) {
		ok = batch(r, write, &s);
		if (ok && write && r->flush_every && r->batches % r->flush_every == 0)
			ok = flush(r, s);
	}
	if (ok && write && (!r->flush_every || r->batches % r->flush_every))
		ok = flush(r, s);
	t_expect(ok && !r->bad && s == r->nsect,
		 "%s: sectors 0..%lu in %u requests of <= %u sectors, %u batches of <= %u, "
		 "%u kicks", write ? "wrote pattern" : "read back and compared pattern",
		 r->nsect - 1, r->reqs, r->chunk, r->batches, r->depth,
		 r->b->q->kicks - kicks);
	t_expect(r->irqs == r->batches, "%s: interrupt seen after %u of %u batches",
		 write ? "write" : "read", r->irqs, r->batches);
}

static void check_get_id(struct vblk *b, uint64_t buf)
{
	char want[VBLK_ID_BYTES + 1], got[VBLK_ID_BYTES + 1];
	uint8_t st;
	unsigned i;

	vio_fill64((void *)(uintptr_t)buf, 0, 24);
	st = vblk_do(b, VBLK_T_GET_ID, 0, buf, VBLK_ID_BYTES);
	for (i = 0; i < VBLK_ID_BYTES && mem8(buf + i); i++)
		got[i] = (char)mem8(buf + i);
	got[i] = 0;
	if (!t_expect(st == VBLK_S_OK || st == VBLK_S_UNSUPP, "GET_ID: status %u, serial [%s]",
		      st, st == VBLK_S_OK ? got : ""))
		return;
	if (cmdline_get("blk_serial", want, sizeof(want)))
		t_expect(st == VBLK_S_OK && !strncmp(want, got, sizeof(got)),
			 "serial [%s], expected [%s]", got, want);
}

static void check_out_of_range(struct vblk *b, uint64_t buf)
{
	uint8_t st;

	st = vblk_do(b, VBLK_T_IN, b->capacity, buf, 512);
	t_expect(st == VBLK_S_IOERR, "read of sector %lu (= capacity): status %u (IOERR 1)",
		 b->capacity, st);
	st = vblk_do(b, VBLK_T_IN, b->capacity - 1, buf, 1024);
	t_expect(st == VBLK_S_IOERR, "read across the end (sector %lu, 2 sectors): status %u",
		 b->capacity - 1, st);
	st = vblk_do(b, VBLK_T_OUT, b->capacity + 1000, buf, 512);
	t_expect(st == VBLK_S_IOERR, "write past the end: status %u", st);
	st = vblk_do(b, VBLK_T_IN, b->capacity - 1, buf, 512);
	t_expect(st == VBLK_S_OK, "read of the last sector: status %u", st);
}

static void check_ro(struct vblk *b, uint64_t buf)
{
	uint64_t b0 = buf, b1 = buf + 4096, w = buf + 8192;
	uint8_t vec = vio_irq_rearm(b->vd, b->q), st;

	st = vblk_do(b, VBLK_T_IN, 0, b0, 4096);
	t_expect(st == VBLK_S_OK, "read-only disk: read of sectors 0-7: status %u", st);
	t_expect(!vec || vio_irq_wait(vec, IRQ_WAIT_S),
		 "read-only disk: interrupt (vector 0x%x) for the read", vec);
	vblk_pattern_fill(w, 0xdead, 0, 8);
	vec = vio_irq_rearm(b->vd, b->q);
	st = vblk_do(b, VBLK_T_OUT, 0, w, 4096);
	t_expect(st == VBLK_S_IOERR, "read-only disk: write answers status %u (IOERR 1)", st);
	t_expect(!vec || vio_irq_wait(vec, IRQ_WAIT_S),
		 "read-only disk: interrupt (vector 0x%x) for the refused write", vec);
	st = vblk_do(b, VBLK_T_IN, 0, b1, 4096);
	t_expect(st == VBLK_S_OK && !memcmp((void *)(uintptr_t)b0, (void *)(uintptr_t)b1, 4096),
		 "read-only disk: sectors 0-7 unchanged after the write (status %u)", st);
}

static void run_data(struct vblk *b, uint64_t scratch)
{
	char mode[16] = "rw";
	struct run r;

	cmdline_get("blk_mode", mode, sizeof(mode));
	memset(&r, 0, sizeof(r));
	r.b = b;
	r.seed = key_u64("blk_seed", 1, ~0ull);
	r.nsect = key_u64("blk_sectors", b->capacity < 8192 ? b->capacity : 8192, b->capacity);
	r.depth = (unsigned)key_u64("blk_depth", 8, VBLK_SLOTS);
	r.chunk = (unsigned)key_u64("blk_chunk", 64, 256);
	r.flush_every = (unsigned)key_u64("blk_flush_every", 0, 1u << 20);
	if (!r.depth)
		r.depth = 1;
	if (!r.chunk)
		r.chunk = 1;
	r.bufs = vio_dma_alloc(512ull * r.chunk * r.depth, 4096);
	if (!t_expect(r.bufs && scratch, "buffers: %u x %u KiB at 0x%lx", r.depth,
		      r.chunk / 2, r.bufs))
		return;
	t_info("mode %s, seed %lu, %lu sectors", mode, r.seed, r.nsect);
	if (strncmp(mode, "verify", 7))
		pass(&r, true);
	if (strncmp(mode, "write", 6))
		pass(&r, false);
}

static void describe(struct vblk *b)
{
	t_info("%s: capacity %lu sectors (%lu KiB), features 0x%lx of 0x%lx, %s, "
	       "size_max %u, seg_max %u, queue size %u, %s", vio_name(b->vd), b->capacity,
	       b->capacity / 2, b->vd->features, b->vd->dev_features,
	       b->ro ? "read-only" : "writable", b->size_max, b->seg_max, b->q->size,
	       b->vd->msix_cap ? "MSI-X" : "no MSI-X");
}

int main(const void *zero_page);
int main(const void *zero_page)
{
	struct vblk *rw = NULL, *ro = NULL;
	uint64_t want, scratch;
	unsigned n, i;

	bp_init(zero_page);
	t_begin("virtio_blk");
	n = vio_find(VIRTIO_ID_BLOCK, devs, MAX_DISKS);
	if (cmdline_get_u64("blk_disks", &want))
		t_expect(n == want, "%u virtio-blk functions, expected %lu", n, want);
	else
		t_expect(n >= 1, "%u virtio-blk functions", n);
	for (i = 0; i < n; i++) {
		if (!vblk_open(&blks[i], &devs[i], VBLK_WANT, 0))
			continue;
		describe(&blks[i]);
		t_expect(vio_has(&devs[i], VBLK_F_FLUSH) || blks[i].ro,
			 "%s: VIRTIO_BLK_F_FLUSH negotiated", vio_name(&devs[i]));
		if (blks[i].ro && !ro)
			ro = &blks[i];
		if (!blks[i].ro && !rw)
			rw = &blks[i];
	}
	if (cmdline_get_u64("blk_ro", &want) && want)
		t_expect(ro != NULL, "a read-only disk is present");
	scratch = vio_dma_alloc(16384, 4096);
	if (rw) {
		check_get_id(rw, scratch);
		run_data(rw, scratch);
		check_out_of_range(rw, scratch);
	}
	if (ro)
		check_ro(ro, scratch);
	vio_end("virtio_blk");
}
