/*
 * virtio_bench: virtio-blk throughput for bench/blk.sh (not a test). On the
 * first writable virtio-blk, keeping blk_depth requests in flight and
 * polling the used ring (interrupts suppressed), it runs three phases, each
 * between two marker lines the host script times:
 *
 *   blkbench: randread begin / end    blk_ops 4 KiB reads at random
 *                                     4K-aligned offsets
 *   blkbench: seqread begin / end     blk_seq_ops 1 MiB reads from 0 up
 *   blkbench: seqwrite begin / end    blk_seq_ops 1 MiB writes from 0 up
 *
 * (wrapping at the end of the disk). A failed request prints a FAIL line;
 * the phase still ends with its marker.
 *
 * Command line keys (all optional):
 *   blk_depth=N     requests in flight (default 1, max 32)
 *   blk_ops=N       4 KiB random reads (default 2000)
 *   blk_seq_ops=N   1 MiB sequential reads, and writes (default 64)
 *   blk_phases=LIST comma-separated subset of randread,seqread,seqwrite
 *   qemu_exit       end through isa-debug-exit (QEMU)
 */
#include "virtio_blkdrv.h"

static struct vio_dev devs[4];
static struct vblk blk;

struct phase {
	const char *name;
	uint32_t type, bytes;
	bool random;
	uint64_t ops;
};

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t xorshift(void)
{
	uint64_t x = rng_state;

	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	return rng_state = x;
}

static bool wanted(const char *name)
{
	return cmdline_list_has("blk_phases", name);
}

static void run(const struct phase *ph, unsigned depth, uint64_t bufs)
{
	uint64_t spb = ph->bytes / 512, blocks = blk.capacity / spb, next = 0, issued = 0,
		 done = 0, errors = 0;
	unsigned free_slots[VBLK_SLOTS], nfree = depth, i;
	uint8_t st;

	for (i = 0; i < depth; i++)
		free_slots[i] = depth - 1 - i;
	printf("blkbench: %s begin\n", ph->name);
	while (done < ph->ops) {
		while (nfree && issued < ph->ops) {
			unsigned slot = free_slots[--nfree];
			uint64_t blkno = ph->random ? xorshift() % blocks : next++ % blocks;

			if (!vblk_submit(&blk, slot, ph->type, blkno * spb,
					 bufs + (uint64_t)slot * ph->bytes, ph->bytes, false)) {
				free_slots[nfree++] = slot;
				break;
			}
			issued++;
		}
		vio_kick(blk.q);
		do {
			int slot = vblk_complete(&blk, 10000000, &st);

			if (slot < 0) {
				t_fail("%s: no completion (%lu of %lu done)", ph->name, done, ph->ops);
				printf("blkbench: %s end\n", ph->name);
				return;
			}
			free_slots[nfree++] = (unsigned)slot;
			done++;
			if (st != VBLK_S_OK)
				errors++;
		} while (vio_used_idx(blk.q) != blk.q->last_used);
	}
	printf("blkbench: %s end\n", ph->name);
	t_expect(!errors, "%s: %lu requests of %u KiB at depth %u, %lu errors, %u kicks",
		 ph->name, done, ph->bytes >> 10, depth, errors, blk.q->kicks);
}

int main(const void *zero_page);
int main(const void *zero_page)
{
	uint64_t depth = 1, ops = 2000, seq = 64, bufs;
	struct phase phases[3] = {
		{ "randread", VBLK_T_IN, 4096, true, 0 },
		{ "seqread", VBLK_T_IN, 1 << 20, false, 0 },
		{ "seqwrite", VBLK_T_OUT, 1 << 20, false, 0 },
	};
	unsigned n, i;

	bp_init(zero_page);
	t_begin("virtio_bench");
	cmdline_get_u64("blk_depth", &depth);
	cmdline_get_u64("blk_ops", &ops);
	cmdline_get_u64("blk_seq_ops", &seq);
	if (depth < 1 || depth > VBLK_SLOTS)
		depth = 1;
	phases[0].ops = ops;
	phases[1].ops = phases[2].ops = seq;
	n = vio_find(VIRTIO_ID_BLOCK, devs, 4);
	for (i = 0; i < n && !blk.vd; i++)
		if (!vblk_open(&blk, &devs[i], VBLK_WANT, 0) || blk.ro)
			blk.vd = NULL;
	if (!t_expect(blk.vd != NULL, "a writable virtio-blk among %u", n))
		vio_end("virtio_bench");
	vio_irq_suppress(blk.q, true);
	t_info("%s: %lu sectors, features 0x%lx, size_max %u, seg_max %u, queue %u, depth %lu",
	       vio_name(blk.vd), blk.capacity, blk.vd->features, blk.size_max, blk.seg_max,
	       blk.q->size, depth);
	bufs = vio_dma_alloc(depth << 20, 4096);
	if (!t_expect(bufs != 0 && blk.capacity >= 2048, "%lu MiB of buffers at 0x%lx",
		      depth, bufs))
		vio_end("virtio_bench");
	for (i = 0; i < 3; i++)
		if (wanted(phases[i].name) && phases[i].ops)
			run(&phases[i], (unsigned)depth, bufs);
	vio_end("virtio_bench");
}
