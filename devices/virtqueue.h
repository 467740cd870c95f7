/*
 * Split virtqueues (virtio 1.x, section 2.7), shared by every virtio device.
 *
 * The guest owns the rings and may change them at any moment, so every
 * descriptor is copied out once and then validated; every ring and buffer
 * address goes through host->mem_ptr, so nothing outside what mem_ptr
 * returns is ever touched. Malformed input makes a call fail with -EPROTO
 * (or -E2BIG for a chain longer than the caller's iovec array) and sets
 * vq->error to a short reason; the transport turns that into NEEDS_RESET.
 * Nothing here logs, allocates or knows about PCI: a test or fuzzer can
 * drive a queue over a plain byte buffer through a fake mem_ptr.
 */
#ifndef VMM_DEVICES_VIRTQUEUE_H
#define VMM_DEVICES_VIRTQUEUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "device.h"

#define VQ_MAX_SIZE		32768	/* largest split ring the spec allows */

#define VQ_DESC_F_NEXT		1
#define VQ_DESC_F_WRITE		2
#define VQ_DESC_F_INDIRECT	4
#define VQ_AVAIL_F_NO_INTERRUPT	1

/* Ring sizes in bytes for a queue of n entries (event-index fields included). */
#define VQ_DESC_BYTES(n)	(16ull * (n))
#define VQ_AVAIL_BYTES(n)	(6ull + 2ull * (n))
#define VQ_USED_BYTES(n)	(6ull + 8ull * (n))

/*
 * One descriptor chain the device took from the avail ring. The caller
 * provides iov[cap]; vq_pop fills iov[0, nout) with the device-readable
 * buffers and iov[nout, nout + nin) with the device-writable ones, as host
 * pointers into guest RAM (valid while the host's guest memory lives).
 */
struct vq_chain {
	struct iovec *iov;
	unsigned cap;		/* entries in iov, set by the caller */
	unsigned nout, nin;
	size_t out_bytes, in_bytes;
	uint16_t head;		/* pass back to vq_push */
};

/* Queues up to this size know which chains they hold (and can be saved). */
#define VQ_TRACK_MAX		256
#define VQ_TRACK_WORDS		(VQ_TRACK_MAX / 64)

struct vq {
	struct device_host *host;
	uint16_t size;		/* 0: not set up */
	bool event_idx;		/* VIRTIO_RING_F_EVENT_IDX negotiated */
	uint8_t *desc, *avail, *used;
	uint16_t last_avail;	/* next avail entry to take */
	uint16_t used_idx;	/* our copy of used->idx */
	uint16_t signalled;	/* used_idx when the last interrupt was decided */
	const char *error;	/* why the last call failed (static string) */
	/*
	 * Chains by head: taken and not yet returned (inflight); to be taken
	 * again before the avail ring (replay: a resumed device's work in
	 * flight); returned by the process before a resume although taken
	 * after the state it resumed from (skip: their avail entries are
	 * passed over once).
	 */
	uint64_t inflight[VQ_TRACK_WORDS], replay[VQ_TRACK_WORDS], skip[VQ_TRACK_WORDS];
	int32_t last_head;	/* what vq_unpop gives back: head, or -1 */
	bool last_replayed;	/* it came from replay */
};

/*
 * Set vq up for a ring of `size` entries (a power of two, 1..VQ_MAX_SIZE)
 * at the given guest addresses, which must be aligned as the spec says
 * (16, 2, 4) and lie wholly in guest RAM. Indexes start at 0. Returns 0,
 * or -EINVAL (bad size, misaligned) / -EFAULT (outside RAM) with vq->error
 * set and the queue left not set up.
 */
int vq_setup(struct vq *vq, struct device_host *host, uint16_t size,
	     uint64_t desc, uint64_t avail, uint64_t used, bool event_idx)
	__attribute__((warn_unused_result));

/* Forget the ring: back to not set up. */
void vq_reset(struct vq *vq);

/*
 * Take the next available chain into *c (c->iov and c->cap set by the
 * caller). Returns 0 with *c filled; -EAGAIN when the ring is empty (with
 * event index, avail_event is then re-armed so the driver notifies on its
 * next buffer); -EPROTO for malformed guest input (descriptor out of RAM or
 * range, zero length, loop, chain longer than the queue, writable before
 * readable, bad or nested indirect table, avail index more than size ahead);
 * -E2BIG if the chain has more than c->cap buffers. On error nothing is
 * consumed and vq->error says why.
 */
int vq_pop(struct vq *vq, struct vq_chain *c) __attribute__((warn_unused_result));

/*
 * Copy between a chain's buffers iov[0, n) (from byte off of them on) and
 * buf: len bytes, fewer where the buffers end; returns how many.
 */
size_t vq_iov_read(const struct iovec *iov, unsigned n, size_t off, void *buf, size_t len);
size_t vq_iov_write(const struct iovec *iov, unsigned n, size_t off, const void *buf, size_t len);

/* Give back the chain vq_pop just returned, untouched (only right after it, once). */
void vq_unpop(struct vq *vq);

/*
 * Save the queue's position and the chains it holds (after vq_setup: the
 * addresses are the transport's to save). -E2BIG in s for a queue larger
 * than VQ_TRACK_MAX.
 */
void vq_save(const struct vq *vq, struct dev_state *s);

/*
 * Resume a queue vq_setup just set up from what vq_save wrote (untrusted):
 * the used ring in guest RAM is the truth about what completed, so every
 * chain returned there since the save is not taken again, and every chain
 * held at the save and not returned since is taken again first by vq_pop.
 * Returns 0 or -EINVAL (s inconsistent with the ring; vq->error says why).
 */
int vq_load(struct vq *vq, struct dev_state *s) __attribute__((warn_unused_result));

/*
 * Number of chains available, or -EPROTO if the avail index is more than
 * size ahead. When 0, re-arms notifications as vq_pop does.
 */
int vq_pending(struct vq *vq) __attribute__((warn_unused_result));

/*
 * Return chain `head` to the driver with `written` bytes written into its
 * writable buffers. Chains may be pushed in any order.
 */
void vq_push(struct vq *vq, uint16_t head, uint32_t written);

/*
 * Return n chains at once: the driver sees used->idx move past all of them
 * in one store (virtio-net's merged receive buffers of one packet).
 */
void vq_push_many(struct vq *vq, const uint16_t *heads, const uint32_t *written, unsigned n);

/*
 * Whether the driver wants an interrupt for what was pushed since the last
 * call: nothing new → false; else with event index, whether used_event was
 * crossed; without, unless the driver set VRING_AVAIL_F_NO_INTERRUPT.
 */
bool vq_need_interrupt(struct vq *vq);

#endif
