/*
 * virtio-blk requests (see virtio_blkdrv.h).
 */
#include "virtio_blkdrv.h"

#define VBLK_MAX_BUFS	30	/* data buffers per request (size_max splits) */

/* Headers and status bytes live in .bss, one per slot. */
static struct vblk_hdr hdrs[VBLK_SLOTS] __attribute__((aligned(16)));
static uint8_t status_bytes[VBLK_SLOTS] __attribute__((aligned(16)));

bool vblk_open(struct vblk *b, struct vio_dev *vd, uint64_t want, unsigned qsize)
{
	unsigned i;

	memset(b, 0, sizeof(*b));
	b->vd = vd;
	if (!vio_init(vd, want, 1, qsize))
		return false;
	b->q = &vd->q[0];
	b->capacity = vio_cfg64(vd, 0);
	if (vio_has(vd, VBLK_F_SIZE_MAX))
		b->size_max = vio_cfg32(vd, 8);
	if (vio_has(vd, VBLK_F_SEG_MAX))
		b->seg_max = vio_cfg32(vd, 12);
	b->ro = vio_has(vd, VBLK_F_RO);
	for (i = 0; i < VIO_QSIZE_MAX; i++)
		b->slot_of_head[i] = -1;
	return true;
}

/* Split [buf, buf+len) into at most max-2 data buffers of <= size_max. */
static unsigned data_bufs(const struct vblk *b, struct vio_buf *out, unsigned max,
			  uint64_t buf, uint32_t len, bool write)
{
	uint32_t seg = b->size_max ? b->size_max : len;
	unsigned n = 0;

	while (len && n < max) {
		uint32_t l = len < seg ? len : seg;

		out[n].addr = buf;
		out[n].len = l;
		out[n].write = write;
		n++;
		buf += l;
		len -= l;
	}
	return len ? 0 : n;
}

bool vblk_submit(struct vblk *b, unsigned slot, uint32_t type, uint64_t sector,
		 uint64_t buf, uint32_t len, bool indirect)
{
	struct vio_buf bufs[VBLK_MAX_BUFS + 2];
	bool in = type == VBLK_T_IN || type == VBLK_T_GET_ID;
	unsigned n = 1, nd = 0;
	int head;

	hdrs[slot].type = type;
	hdrs[slot].reserved = 0;
	hdrs[slot].sector = sector;
	status_bytes[slot] = VBLK_S_NONE;
	bufs[0].addr = (uintptr_t)&hdrs[slot];
	bufs[0].len = sizeof(struct vblk_hdr);
	bufs[0].write = false;
	if (len) {
		nd = data_bufs(b, &bufs[1], VBLK_MAX_BUFS, buf, len, in);
		if (!nd)
			return false;
		n += nd;
	}
	bufs[n].addr = (uintptr_t)&status_bytes[slot];
	bufs[n].len = 1;
	bufs[n].write = true;
	n++;
	head = vio_add(b->q, bufs, n, indirect);
	if (head < 0)
		return false;
	b->slot_of_head[head] = (int)slot;
	return true;
}

int vblk_complete(struct vblk *b, unsigned long spins, uint8_t *status)
{
	int head = vio_wait_used(b->q, NULL, spins), slot;

	if (head < 0)
		return -1;
	slot = b->slot_of_head[head];
	b->slot_of_head[head] = -1;
	if (slot < 0)
		return -1;
	*status = status_bytes[slot];
	return slot;
}

uint8_t vblk_do(struct vblk *b, uint32_t type, uint64_t sector, uint64_t buf,
		uint32_t len)
{
	uint8_t st = VBLK_S_NONE;

	if (!vblk_submit(b, 0, type, sector, buf, len, false))
		return VBLK_S_NONE;
	vio_kick(b->q);
	if (vblk_complete(b, 2000000, &st) < 0)
		return VBLK_S_NONE;
	return st;
}

uint64_t vblk_mix(uint64_t seed, uint64_t sector)
{
	uint64_t z = (seed * 0x9e3779b97f4a7c15ull) ^ sector;

	z += 0x9e3779b97f4a7c15ull;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

void vblk_pattern_fill(uint64_t buf, uint64_t seed, uint64_t first, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++) {
		uint64_t *s = (uint64_t *)(uintptr_t)(buf + 512ull * i);

		s[0] = first + i;
		vio_fill64(s + 1, vblk_mix(seed, first + i), 504);
	}
}

int vblk_pattern_check(uint64_t buf, uint64_t seed, uint64_t first, unsigned n)
{
	unsigned i;

	for (i = 0; i < n; i++) {
		const uint64_t *s = (const uint64_t *)(uintptr_t)(buf + 512ull * i);

		if (s[0] != first + i ||
		    vio_scan64(s + 1, vblk_mix(seed, first + i), 504) != 63)
			return (int)i;
	}
	return -1;
}
