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
#include "virtio_blk_int.h"

#include <endian.h>
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

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

/* Start every available request a slot is free for; true if slots ran out. */
static bool vblk_queue_take(struct virtio_pci *vp, struct vblk *vb, struct vq *vq)
{
	struct vblk_req *req = NULL;
	int err = 0;

	while (!err && virtio_pci_running(vp) && (req = vblk_req_get(vb))) {
		err = vq_pop(vq, &req->chain);
		if (!err && vblk_req_start(req) < 0) {
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

static int vblk_parse_params(struct device *dev, const struct device_spec *spec, struct vblk *vb)
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
	dev->file_size_max = vb->be.size;	/* nothing past the image (see vblk_range_ok) */
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

static int vblk_create(struct device *dev, const struct device_spec *spec)
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

static const struct device_ops virtio_blk_ops = {
	.create = vblk_create,
	.trap = virtio_pci_trap,
	.notify = virtio_pci_notify,
	.start = vblk_start_threads,
	.wake = vblk_wake,
	.shadow = virtio_pci_shadow,
	.save = virtio_pci_save,
	.load = virtio_pci_load,
	.reset = virtio_pci_reset,
	.destroy = vblk_destroy,
};

static const struct virtio_pci_ident virtio_blk_ident = { VIRTIO_ID_BLOCK, 0x018000, 1, 2 };	/* mass storage, other */

const struct device_class virtio_blk_class = {
	.name = "virtio-blk",
	.ops = &virtio_blk_ops,
	.virtio = &virtio_blk_ident,
	.events = DEVICE_EVENT_BIT(DEV_EVENT_NEEDS_RESET),
	.guest_ram = true,
};
