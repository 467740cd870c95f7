/*
 * virtio-blk requests (virtio 1.x section 5.2.6): decode a chain's header,
 * check it, start it on the backend, and answer it with a status byte when
 * the backend is done. The device around it is virtio_blk.c.
 */
#include "virtio_blk_int.h"

#include <endian.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>

enum {
	VIRTIO_BLK_T_IN = 0,
	VIRTIO_BLK_T_OUT = 1,
	VIRTIO_BLK_T_FLUSH = 4,
	VIRTIO_BLK_T_GET_ID = 8,
	VIRTIO_BLK_T_DISCARD = 11,
	VIRTIO_BLK_T_WRITE_ZEROES = 13,
};

enum { VIRTIO_BLK_S_OK, VIRTIO_BLK_S_IOERR, VIRTIO_BLK_S_UNSUPP };

#define VIRTIO_BLK_WZ_UNMAP	1

struct vblk_hdr {
	uint32_t type;
	uint32_t ioprio;
	uint64_t sector;
};

struct vblk_dz_seg {
	uint64_t sector;
	uint32_t num_sectors;
	uint32_t flags;
};

/* --- iovec helpers --- */

/* dst = bytes [off, off + len) of src[n]; returns the entries used. */
static unsigned vblk_iov_slice(const struct iovec *src, unsigned n, size_t off,
			       size_t len, struct iovec *dst)
{
	unsigned k = 0;

	for (unsigned i = 0; i < n && len; i++) {
		size_t l = src[i].iov_len;

		if (off >= l) {
			off -= l;
			continue;
		}
		l -= off;
		if (l > len)
			l = len;
		dst[k++] = (struct iovec){ (uint8_t *)src[i].iov_base + off, l };
		len -= l;
		off = 0;
	}
	return k;
}

/* --- requests --- */

struct vblk_req *vblk_req_get(struct vblk *vb)
{
	for (unsigned i = 0; i < VBLK_INFLIGHT; i++)
		if (!vb->reqs[i].busy) {
			vb->reqs[i].busy = true;
			return &vb->reqs[i];
		}
	return NULL;
}

/* Answer the request and give its chain back. */
static void vblk_finish(struct vblk_req *req, uint8_t status)
{
	struct virtio_pci *vp = virtio_pci_of(req->vb->dev);

	if (status != VIRTIO_BLK_S_OK)
		req->vb->ioerrs++;
	*req->status = status;
	vq_push(virtio_pci_vq(vp, 0), req->chain.head, req->written + 1);
	req->busy = false;
}

static void vblk_io_done(struct blk_io *io, int result)
{
	struct vblk_req *req = io->opaque;

	if (req->gen != req->vb->gen) {
		req->busy = false;	/* started before a reset: nobody waits for it */
		return;
	}
	if (result < 0) {
		dev_warn_once(req->vb->dev, "backend I/O failed: errno %d", -result);
		req->written = 0;
	}
	vblk_finish(req, result < 0 ? VIRTIO_BLK_S_IOERR : VIRTIO_BLK_S_OK);
}

static void vblk_submit(struct vblk_req *req, enum blk_op op, uint64_t offset, uint64_t len)
{
	struct vblk *vb = req->vb;

	req->io.op = op;
	req->io.offset = offset;
	req->io.len = len;
	req->io.done = vblk_io_done;
	req->io.opaque = req;
	if (vb->be.ops->submit(&vb->be, &req->io) < 0)
		vblk_finish(req, VIRTIO_BLK_S_IOERR);
}

/* [sector, sector + bytes/512) is whole sectors inside the disk. */
static bool vblk_range_ok(const struct vblk *vb, uint64_t sector, uint64_t bytes)
{
	return bytes % VBLK_SECTOR == 0 && sector <= vb->capacity &&
	       bytes / VBLK_SECTOR <= vb->capacity - sector;
}

static uint8_t vblk_rw(struct vblk_req *req, uint64_t sector, bool wr)
{
	struct vq_chain *c = &req->chain;
	size_t len = wr ? c->out_bytes - sizeof(struct vblk_hdr) : c->in_bytes - 1;

	if (wr && req->vb->readonly)
		return VIRTIO_BLK_S_IOERR;
	if (!vblk_range_ok(req->vb, sector, len))
		return VIRTIO_BLK_S_IOERR;
	/* used.len is 32 bits and counts the status byte too: no READ of 4 GiB or more */
	if (!wr && len > UINT32_MAX - 1)
		return VIRTIO_BLK_S_IOERR;
	if (wr)
		req->io.iovcnt = vblk_iov_slice(c->iov, c->nout, sizeof(struct vblk_hdr), len, req->data);
	else
		req->io.iovcnt = vblk_iov_slice(c->iov + c->nout, c->nin, 0, len, req->data);
	req->io.iov = req->data;
	req->written = wr ? 0 : (uint32_t)len;
	vblk_submit(req, wr ? BLK_OP_WRITE : BLK_OP_READ, sector * VBLK_SECTOR, len);
	return 0xff;	/* answered by the completion */
}

static uint8_t vblk_get_id(struct vblk_req *req)
{
	struct vq_chain *c = &req->chain;
	size_t len = c->in_bytes - 1 < VBLK_ID_BYTES ? c->in_bytes - 1 : VBLK_ID_BYTES;

	vq_iov_write(c->iov + c->nout, c->nin, 0, req->vb->serial, len);
	req->written = (uint32_t)len;
	return VIRTIO_BLK_S_OK;
}

/* DISCARD and WRITE_ZEROES: one segment after the header. */
static uint8_t vblk_dz(struct vblk_req *req, bool zeroes)
{
	struct vq_chain *c = &req->chain;
	struct vblk_dz_seg seg;
	size_t payload = c->out_bytes - sizeof(struct vblk_hdr);
	uint32_t bad_flags = zeroes ? ~(uint32_t)VIRTIO_BLK_WZ_UNMAP : ~0u;
	uint64_t sector;

	if (req->vb->readonly)
		return VIRTIO_BLK_S_IOERR;
	if (!virtio_pci_has_feature(virtio_pci_of(req->vb->dev),
				    zeroes ? VIRTIO_BLK_F_WRITE_ZEROES : VIRTIO_BLK_F_DISCARD))
		return VIRTIO_BLK_S_UNSUPP;
	if (payload != sizeof(seg))
		return payload && payload % sizeof(seg) == 0 ? VIRTIO_BLK_S_UNSUPP : VIRTIO_BLK_S_IOERR;
	vq_iov_read(c->iov, c->nout, sizeof(struct vblk_hdr), &seg, sizeof(seg));
	if (le32toh(seg.flags) & bad_flags)
		return VIRTIO_BLK_S_UNSUPP;
	sector = le64toh(seg.sector);
	if (le32toh(seg.num_sectors) > VBLK_MAX_DZ_SECTORS ||
	    !vblk_range_ok(req->vb, sector, (uint64_t)le32toh(seg.num_sectors) * VBLK_SECTOR))
		return VIRTIO_BLK_S_IOERR;
	req->io.unmap = le32toh(seg.flags) & VIRTIO_BLK_WZ_UNMAP;
	vblk_submit(req, zeroes ? BLK_OP_WRITE_ZEROES : BLK_OP_DISCARD, sector * VBLK_SECTOR,
		    (uint64_t)le32toh(seg.num_sectors) * VBLK_SECTOR);
	return 0xff;
}

/* Decode and start one request; returns a status, or 0xff if started. */
static uint8_t vblk_dispatch(struct vblk_req *req)
{
	struct vq_chain *c = &req->chain;
	struct vblk_hdr h;

	if (c->out_bytes < sizeof(h))
		return VIRTIO_BLK_S_IOERR;
	vq_iov_read(c->iov, c->nout, 0, &h, sizeof(h));
	switch (le32toh(h.type)) {
	case VIRTIO_BLK_T_IN:	  return vblk_rw(req, le64toh(h.sector), false);
	case VIRTIO_BLK_T_OUT:	  return vblk_rw(req, le64toh(h.sector), true);
	case VIRTIO_BLK_T_FLUSH:  vblk_submit(req, BLK_OP_FLUSH, 0, 0); return 0xff;
	case VIRTIO_BLK_T_GET_ID: return vblk_get_id(req);
	case VIRTIO_BLK_T_DISCARD:	return vblk_dz(req, false);
	case VIRTIO_BLK_T_WRITE_ZEROES:	return vblk_dz(req, true);
	}
	return VIRTIO_BLK_S_UNSUPP;
}

/* Start a popped chain. Returns -EPROTO if it cannot even be answered. */
int vblk_req_start(struct vblk_req *req)
{
	struct vq_chain *c = &req->chain;
	const struct iovec *last = &c->iov[c->nout + c->nin - 1];
	uint8_t status;

	if (c->nin == 0)
		return -EPROTO;
	req->status = (uint8_t *)last->iov_base + last->iov_len - 1;
	req->written = 0;
	req->gen = req->vb->gen;
	req->io.unmap = false;
	req->io.iov = NULL;
	req->io.iovcnt = 0;
	status = vblk_dispatch(req);
	if (status != 0xff)
		vblk_finish(req, status);
	return 0;
}
