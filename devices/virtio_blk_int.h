/*
 * What virtio-blk's two files share (not a public contract: the device is
 * reached through virtio_blk_ops only). virtio_blk.c is the device:
 * queues, backend, create/destroy; virtio_blk_req.c decodes and starts one
 * request and answers it when the backend is done.
 */
#ifndef VMM_DEVICES_VIRTIO_BLK_INT_H
#define VMM_DEVICES_VIRTIO_BLK_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "blk_backend.h"
#include "virtio_pci.h"

#define VBLK_SECTOR		512u
#define VBLK_QUEUE_MAX		256
#define VBLK_CHAIN_MAX		VBLK_QUEUE_MAX		/* buffers per request */
#define VBLK_SEG_MAX		(VBLK_CHAIN_MAX - 2)	/* less header and status */
#define VBLK_INFLIGHT		32
#define VBLK_THREADS		8
#define VBLK_DRAIN_MS		30000
#define VBLK_ID_BYTES		20
#define VBLK_MAX_DZ_SECTORS	0x400000u		/* 2 GiB per discard / zeroes */

#define VIRTIO_BLK_F_SEG_MAX		2
#define VIRTIO_BLK_F_RO			5
#define VIRTIO_BLK_F_BLK_SIZE		6
#define VIRTIO_BLK_F_FLUSH		9
#define VIRTIO_BLK_F_DISCARD		13
#define VIRTIO_BLK_F_WRITE_ZEROES	14

struct vblk;

struct vblk_req {
	struct vblk *vb;
	struct blk_io io;
	struct vq_chain chain;
	struct iovec iov[VBLK_CHAIN_MAX];	/* the chain */
	struct iovec data[VBLK_CHAIN_MAX];	/* its data part */
	uint8_t *status;
	uint32_t written;			/* data bytes given to the guest */
	uint32_t gen;				/* vb->gen when started */
	bool busy;
};

struct vblk {
	struct device *dev;
	struct blk_backend be;
	bool readonly;
	bool native;				/* aio=native (default): Linux AIO, no threads */
	char serial[VBLK_ID_BYTES];
	uint64_t capacity;			/* sectors */
	struct vblk_req *reqs;			/* VBLK_INFLIGHT */
	uint32_t gen;				/* resets so far */
	uint64_t ioerrs;
};

/* A free request slot of vb, marked busy; NULL if all VBLK_INFLIGHT are taken. */
struct vblk_req *vblk_req_get(struct vblk *vb);

/*
 * Start the chain just popped into req->chain: answered at once (and the
 * slot freed) or when the backend calls back. Returns 0, or -EPROTO if the
 * chain has no writable status byte and cannot even be answered (req is
 * left busy for the caller to free).
 */
int vblk_req_start(struct vblk_req *req)
	__attribute__((warn_unused_result));

#endif
