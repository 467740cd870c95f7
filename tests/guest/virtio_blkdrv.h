/*
 * virtio-blk requests for the test guests, on top of virtio.h: one request
 * queue, up to VBLK_SLOTS requests in flight, each a chain of header,
 * data (split at size_max when the device gives one) and status byte, as
 * Linux's virtio_blk builds them. Also the disk pattern the virtio_blk
 * guest writes and the integration test checks on the host (tests/
 * integration/virtio.sh has the same function in Python):
 *
 *   sector s, seed k: 64-bit word 0 = s, words 1..63 = mix(k, s)
 *   mix(k, s) = splitmix64 finalizer of (k * 0x9E3779B97F4A7C15 ^ s)
 */
#ifndef VMM_TEST_GUEST_VIRTIO_BLKDRV_H
#define VMM_TEST_GUEST_VIRTIO_BLKDRV_H

#include "virtio.h"

#define VBLK_T_IN		0
#define VBLK_T_OUT		1
#define VBLK_T_FLUSH		4
#define VBLK_T_GET_ID		8

#define VBLK_S_OK		0
#define VBLK_S_IOERR		1
#define VBLK_S_UNSUPP		2
#define VBLK_S_NONE		0xff	/* no answer (timeout) */

#define VBLK_F_SIZE_MAX		1
#define VBLK_F_SEG_MAX		2
#define VBLK_F_RO		5
#define VBLK_F_BLK_SIZE		6
#define VBLK_F_FLUSH		9

#define VBLK_SLOTS		32
#define VBLK_ID_BYTES		20

struct vblk_hdr {
	uint32_t type;
	uint32_t reserved;
	uint64_t sector;
};

struct vblk {
	struct vio_dev *vd;
	struct vio_queue *q;
	uint64_t capacity;	/* 512-byte sectors */
	uint32_t size_max;	/* 0: no limit given */
	uint32_t seg_max;
	bool ro;
	int slot_of_head[VIO_QSIZE_MAX];
};

/* Features a virtio-blk guest asks for (the device may offer fewer). */
#define VBLK_WANT (1ull << VBLK_F_SIZE_MAX | 1ull << VBLK_F_SEG_MAX | \
		   1ull << VBLK_F_RO | 1ull << VBLK_F_BLK_SIZE | \
		   1ull << VBLK_F_FLUSH | 1ull << VIO_F_EVENT_IDX | \
		   1ull << VIO_F_INDIRECT_DESC)

/*
 * Initialise vd as a virtio-blk device accepting `want` (VBLK_WANT or a
 * subset) with a queue of up to qsize entries, read its configuration.
 * Returns false (FAIL line printed by vio_init) if init failed.
 */
bool vblk_open(struct vblk *b, struct vio_dev *vd, uint64_t want, unsigned qsize);

/*
 * Queue one request in slot (< VBLK_SLOTS, not in flight): type, sector,
 * data buffer [buf, buf+len) (device-writable for IN and GET_ID), through
 * an indirect table if asked and possible. No notification. Returns false
 * if the ring has no room.
 */
bool vblk_submit(struct vblk *b, unsigned slot, uint32_t type, uint64_t sector,
		 uint64_t buf, uint32_t len, bool indirect);

/*
 * Take one completion (polling up to `spins` times): returns its slot and
 * sets *status, or -1 if none came.
 */
int vblk_complete(struct vblk *b, unsigned long spins, uint8_t *status);

/* One request, synchronously: submit in slot 0, kick, wait. Returns status. */
uint8_t vblk_do(struct vblk *b, uint32_t type, uint64_t sector, uint64_t buf,
		uint32_t len);

/* Pattern word 1..63 of sector s for seed k. */
uint64_t vblk_mix(uint64_t seed, uint64_t sector);

/* Fill n sectors at buf with the pattern of sectors first .. first+n-1. */
void vblk_pattern_fill(uint64_t buf, uint64_t seed, uint64_t first, unsigned n);

/*
 * Check n sectors at buf against the pattern. Returns the index (0..n-1)
 * of the first bad sector, or -1 if all match.
 */
int vblk_pattern_check(uint64_t buf, uint64_t seed, uint64_t first, unsigned n);

#endif
