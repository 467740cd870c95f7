/*
 * The guest side of virtio for unit tests: split rings laid out in a fake
 * guest RAM buffer (gpa 0 = mem[0]), raw descriptor writes for malformed
 * cases, and a driver that initialises a virtio-pci device through trap()
 * in the order Linux's virtio_pci_modern driver does.
 */
#ifndef VMM_TESTS_VIRTIO_GUEST_H
#define VMM_TESTS_VIRTIO_GUEST_H

#include <stdbool.h>
#include <stdint.h>

#include "fakehost.h"

/* A guest-side split ring. */
struct gvq {
	uint8_t *mem;		/* guest RAM, gpa 0 */
	uint16_t size;
	uint64_t desc, avail, used;	/* gpas */
	uint16_t avail_idx;	/* driver's next avail index */
	uint16_t used_seen;	/* used entries consumed */
	uint16_t next_desc;	/* next free descriptor (round robin) */
};

/* One buffer of a chain to post. */
struct gbuf {
	uint64_t gpa;
	uint32_t len;
	bool writable;
};

/*
 * Lay out a ring of `size` entries at gpa base (desc, then avail, then used
 * at the next 4-byte boundary), zeroed, indexes at 0. Returns the first free
 * 16-aligned gpa after the ring.
 */
uint64_t gvq_init(struct gvq *g, uint8_t *mem, uint64_t base, uint16_t size);

/*
 * Start both rings' indexes at idx (avail->idx, used->idx and ours), for
 * wrap-around tests that also set the device's struct vq to match.
 */
void gvq_set_start(struct gvq *g, uint16_t idx);

/* Write descriptor i of the ring, or of a table at gpa `table`. */
void gvq_set_desc(struct gvq *g, uint16_t i, uint64_t addr, uint32_t len,
		  uint16_t flags, uint16_t next);
void gvq_set_table_desc(struct gvq *g, uint64_t table, uint16_t i, uint64_t addr,
			uint32_t len, uint16_t flags, uint16_t next);

/* Put head in the avail ring and publish it (avail_idx++). */
void gvq_publish(struct gvq *g, uint16_t head);
/* Store a raw avail->idx (without touching the ring). */
void gvq_set_avail_idx(struct gvq *g, uint16_t idx);

/* Post bufs[n] as one direct chain (descriptors round robin); returns head. */
uint16_t gvq_add(struct gvq *g, const struct gbuf *bufs, unsigned n);
/* Post bufs[n] through an indirect table written at gpa table; returns head. */
uint16_t gvq_add_indirect(struct gvq *g, uint64_t table, const struct gbuf *bufs, unsigned n);

/*
 * Next used element: true and its id and len, if there is one. Like Linux
 * with callbacks enabled, then sets used_event to ask for the next one.
 */
bool gvq_get_used(struct gvq *g, uint32_t *id, uint32_t *len);
uint16_t gvq_used_idx(const struct gvq *g);

/* Event index fields: the driver's used_event, the device's avail_event. */
void gvq_set_used_event(struct gvq *g, uint16_t v);
uint16_t gvq_avail_event(const struct gvq *g);
void gvq_set_avail_flags(struct gvq *g, uint16_t flags);

/* --- driving a virtio-pci device --- */

/* Common cfg accessors (region 0). */
uint64_t vcfg_read(struct device *dev, unsigned off, unsigned len);
void vcfg_write(struct device *dev, unsigned off, unsigned len, uint64_t v);

/*
 * Linux's sequence: reset, ACKNOWLEDGE, DRIVER, read features, write
 * `want` & offered, FEATURES_OK, re-read status. Returns the negotiated
 * features, or 0 if the device refused FEATURES_OK.
 */
uint64_t vdrv_negotiate(struct device *dev, uint64_t want);

/*
 * Set queue q up on ring g with MSI-X vector `vector` (NO_VECTOR for INTx)
 * and enable it. Returns the vector the device read back.
 */
uint16_t vdrv_setup_queue(struct device *dev, unsigned q, struct gvq *g, uint16_t vector);

/* OR bits into device_status; returns the status read back. */
uint8_t vdrv_add_status(struct device *dev, uint8_t bits);

#endif
