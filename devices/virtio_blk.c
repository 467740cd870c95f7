/*
 * virtio-blk (virtio 1.x section 5.2) over virtio-pci.
 *
 * Spec: the virtio-pci regions and irqs of virtio_pci.h. Backend: fds[0]
 * is the disk image, opened by the host (the device never opens files);
 * capacity is its size / 512, rounded down. Params: "readonly=on|off"
 * (default off), "serial=..." (GET_ID, at most 20 bytes).
 *
 * One request queue of up to 256 entries. Requests: IN, OUT, FLUSH
 * (fdatasync), GET_ID, DISCARD (punch hole) and WRITE_ZEROES (zero range, or
 * punch hole with the unmap flag), one segment each. Every available chain
 * is taken per notify, and the interrupt decided once per batch of answers.
 * Params also: "aio=native" (default: Linux AIO, no threads) or
 * "aio=threads" (a pool of VBLK_THREADS worker threads, started by
 * ops->start); see blk_backend.h. Up to VBLK_INFLIGHT requests are in flight at once and
 * complete in any order: what is done by the end of a notify is answered in
 * it, the rest by ops->wake. A reset waits for those in flight (at most
 * VBLK_DRAIN_MS; answers that come later are dropped).
 *
 * fds[0] may be open with O_DIRECT; then fds[1] is the same image without
 * it, for the requests O_DIRECT cannot take as they are.
 *
 * Answers: a read-only disk fails OUT, DISCARD and WRITE_ZEROES with IOERR;
 * unknown types get UNSUPP; a sector range past the capacity, a data length
 * that is not whole sectors, or a header shorter than 16 bytes gets IOERR. A
 * chain with no writable byte for the status cannot be answered at all: that
 * one puts the device in NEEDS_RESET, like a malformed descriptor.
 */
#include "virtio_pci.h"

#include <endian.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "blk_backend.h"

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

/* struct virtio_blk_config, as far as the fields we offer. */
struct vblk_config {
	uint64_t capacity;
	uint32_t size_max, seg_max;
	uint16_t cylinders;
	uint8_t heads, sectors;
	uint32_t blk_size;
	uint8_t physical_block_exp, alignment_offset;
	uint16_t min_io_size;
	uint32_t opt_io_size;
	uint8_t writeback, unused0;
	uint16_t num_queues;
	uint32_t max_discard_sectors, max_discard_seg, discard_sector_alignment;
	uint32_t max_write_zeroes_sectors, max_write_zeroes_seg;
	uint8_t write_zeroes_may_unmap, unused1[3];
} __attribute__((packed));
_Static_assert(sizeof(struct vblk_config) == 60, "virtio_blk_config layout");

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

static void vblk_iov_read(const struct iovec *iov, unsigned n, size_t off, void *buf, size_t len)
{
	struct iovec part[VBLK_CHAIN_MAX];
	unsigned k = vblk_iov_slice(iov, n, off, len, part);
	uint8_t *p = buf;

	for (unsigned i = 0; i < k; p += part[i].iov_len, i++)
		memcpy(p, part[i].iov_base, part[i].iov_len);
}

static void vblk_iov_write(const struct iovec *iov, unsigned n, const void *buf, size_t len)
{
	struct iovec part[VBLK_CHAIN_MAX];
	unsigned k = vblk_iov_slice(iov, n, 0, len, part);
	const uint8_t *p = buf;

	for (unsigned i = 0; i < k; p += part[i].iov_len, i++)
		memcpy(part[i].iov_base, p, part[i].iov_len);
}

/* --- requests --- */

static struct vblk_req *vblk_req_get(struct vblk *vb)
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

	vblk_iov_write(c->iov + c->nout, c->nin, req->vb->serial, len);
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
	vblk_iov_read(c->iov, c->nout, sizeof(struct vblk_hdr), &seg, sizeof(seg));
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
	vblk_iov_read(c->iov, c->nout, 0, &h, sizeof(h));
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
static int vblk_start(struct vblk_req *req)
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

/* Start every available request a slot is free for; true if slots ran out. */
static bool vblk_queue_take(struct virtio_pci *vp, struct vblk *vb, struct vq *vq)
{
	struct vblk_req *req = NULL;
	int err = 0;

	while (!err && virtio_pci_running(vp) && (req = vblk_req_get(vb))) {
		err = vq_pop(vq, &req->chain);
		if (!err && vblk_start(req) < 0) {
			req->busy = false;
			virtio_pci_fail(vp, "request without a writable status byte");
		}
		if (err)
			req->busy = false;
		if (err && err != -EAGAIN)
			virtio_pci_fail(vp, vq->error);
	}
	if (vb->be.ops->unplug)
		vb->be.ops->unplug(&vb->be);
	return !err && virtio_pci_running(vp) && !req;
}

/*
 * Take what the driver made available, then answer what is already done
 * (through the page cache, usually all of it) before deciding the
 * interrupt; answers that take longer come through ops->wake. A full set
 * of slots takes more as answers free them.
 */
static void vblk_queue_notify(struct virtio_pci *vp, unsigned q)
{
	struct vblk *vb = vp->model;
	struct vq *vq = virtio_pci_vq(vp, q);
	bool full;

	do
		full = vblk_queue_take(vp, vb, vq);
	while (vb->be.ops->reap(&vb->be) && full && virtio_pci_running(vp));
	virtio_pci_queue_interrupt(vp, q);
}

/* The backend finished requests: answer them, and take what waited for a slot. */
static void vblk_wake(struct device *dev)
{
	struct virtio_pci *vp = virtio_pci_of(dev);
	struct vblk *vb = vp->model;

	if (virtio_pci_running(vp))
		vblk_queue_notify(vp, 0);	/* takes nothing new unless slots freed, then reaps */
	else
		vb->be.ops->reap(&vb->be);
}

/* The queue is gone: wait for the requests on it, which write guest RAM. */
static void vblk_reset(struct virtio_pci *vp)
{
	struct vblk *vb = vp->model;

	vb->gen++;
	if (vb->be.ops->drain(&vb->be, VBLK_DRAIN_MS))
		dev_err(vb->dev, "reset: disk requests still running after %u ms; "
			"they may yet write guest memory", VBLK_DRAIN_MS);
}

static int vblk_start_threads(struct device *dev)
{
	struct vblk *vb = virtio_pci_of(dev)->model;
	int err = vb->native ? 0 : blk_backend_pool_start(&vb->be);

	if (err)
		dev_err(dev, "cannot start its I/O threads: %s", strerror(-err));
	return err;
}

static void vblk_config_read(struct virtio_pci *vp, uint8_t *buf)
{
	struct vblk *vb = vp->model;
	struct vblk_config cfg = {
		.capacity = htole64(vb->capacity),
		.seg_max = htole32(VBLK_SEG_MAX),
		.blk_size = htole32(VBLK_SECTOR),
		.num_queues = htole16(1),
		.max_discard_sectors = htole32(VBLK_MAX_DZ_SECTORS),
		.max_discard_seg = htole32(1),
		.discard_sector_alignment = htole32(1),
		.max_write_zeroes_sectors = htole32(VBLK_MAX_DZ_SECTORS),
		.max_write_zeroes_seg = htole32(1),
		.write_zeroes_may_unmap = 1,
	};

	memcpy(buf, &cfg, sizeof(cfg));
}

static const struct virtio_dev_class vblk_class;

static uint64_t vblk_features(const struct vblk *vb)
{
	uint64_t f = 1ull << VIRTIO_BLK_F_SEG_MAX | 1ull << VIRTIO_BLK_F_BLK_SIZE |
		     1ull << VIRTIO_BLK_F_FLUSH;

	if (vb->readonly)
		return f | 1ull << VIRTIO_BLK_F_RO;
	if (vb->be.can_discard)
		f |= 1ull << VIRTIO_BLK_F_DISCARD | 1ull << VIRTIO_BLK_F_WRITE_ZEROES;
	return f;
}

static int vblk_parse_params(struct device *dev, const DeviceSpec *spec, struct vblk *vb)
{
	const char *ro = dev_param(spec, "readonly");
	const char *serial = dev_param(spec, "serial");
	const char *aio = dev_param(spec, "aio");

	if (ro && strcmp(ro, "on") && strcmp(ro, "off")) {
		dev_err(dev, "readonly=%s: want on or off", ro);
		return -EINVAL;
	}
	vb->readonly = ro && strcmp(ro, "on") == 0;
	if (serial && strlen(serial) > VBLK_ID_BYTES) {
		dev_err(dev, "serial longer than %u bytes", VBLK_ID_BYTES);
		return -EINVAL;
	}
	if (serial)
		memcpy(vb->serial, serial, strlen(serial));
	if (aio && strcmp(aio, "threads") && strcmp(aio, "native")) {
		dev_err(dev, "aio=%s: want threads or native", aio);
		return -EINVAL;
	}
	vb->native = !aio || strcmp(aio, "native") == 0;
	return 0;
}

static int vblk_open_backend(struct device *dev, struct vblk *vb)
{
	int bfd = dev->nfds >= 2 ? dev->fds[1] : -1;
	int err = -EBADF;

	if (dev->nfds >= 1 && vb->native)
		err = blk_backend_aio_init(&vb->be, dev->fds[0], bfd);
	else if (dev->nfds >= 1)
		err = blk_backend_pool_init(&vb->be, dev->fds[0], bfd, VBLK_THREADS);
	if (err) {
		dev_err(dev, "fds[0] must be the disk image (regular file or block device), "
			"and fds[1] the same without O_DIRECT if fds[0] has it: %s", strerror(-err));
		return err;
	}
	vb->capacity = vb->be.size / VBLK_SECTOR;
	dev->wake_fd = vb->be.notify_fd;
	dev->threads = vb->native ? 0 : VBLK_THREADS;
	return 0;
}

static void vblk_free(struct vblk *vb)
{
	if (vb && vb->be.ops && vb->be.ops->destroy)
		vb->be.ops->destroy(&vb->be);
	if (vb)
		free(vb->reqs);
	free(vb);
}

static int vblk_create(struct device *dev, const DeviceSpec *spec)
{
	struct vblk *vb = calloc(1, sizeof(*vb));
	int err;

	if (!vb || !(vb->reqs = calloc(VBLK_INFLIGHT, sizeof(*vb->reqs)))) {
		vblk_free(vb);
		return -ENOMEM;
	}
	vb->dev = dev;
	for (unsigned i = 0; i < VBLK_INFLIGHT; i++) {
		vb->reqs[i].vb = vb;
		vb->reqs[i].chain = (struct vq_chain){ .iov = vb->reqs[i].iov, .cap = VBLK_CHAIN_MAX };
	}
	err = vblk_parse_params(dev, spec, vb);
	if (!err)
		err = vblk_open_backend(dev, vb);
	if (!err)
		err = virtio_pci_create(dev, spec, &vblk_class, vb, vblk_features(vb));
	if (err)
		vblk_free(vb);
	return err;
}

static void vblk_destroy(struct device *dev)
{
	struct virtio_pci *vp = virtio_pci_of(dev);
	struct vblk *vb;

	if (!vp)
		return;
	vb = vp->model;
	if (vb->ioerrs)
		dev_info(dev, "%llu requests answered with an error", (unsigned long long)vb->ioerrs);
	virtio_pci_destroy(dev);
	vblk_free(vb);
}

static const struct virtio_dev_class vblk_class = {
	.queue_max = VBLK_QUEUE_MAX,
	.config_size = sizeof(struct vblk_config),
	.config_read = vblk_config_read,
	.queue_notify = vblk_queue_notify,
	.reset = vblk_reset,
};

const struct device_ops virtio_blk_ops = {
	.name = "virtio-blk",
	.create = vblk_create,
	.trap = virtio_pci_trap,
	.notify = virtio_pci_notify,
	.start = vblk_start_threads,
	.wake = vblk_wake,
	.reset = virtio_pci_reset,
	.destroy = vblk_destroy,
};
