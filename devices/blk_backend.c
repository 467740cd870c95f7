/*
 * The raw file block backend (see blk_backend.h), and what the worker-pool
 * (blk_pool.c) and native AIO (blk_aio.c) backends take from it
 * (blk_backend_int.h).
 */
#include "blk_backend_int.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

/* One step of a transfer: the rest of element i (from skip), or i.. whole. */
static ssize_t raw_rw_step(int fd, bool wr, const struct iovec *iov, unsigned cnt,
			   size_t skip, uint64_t off)
{
	if (skip) {
		void *p = (uint8_t *)iov[0].iov_base + skip;
		size_t n = iov[0].iov_len - skip;

		return wr ? pwrite(fd, p, n, (off_t)off) : pread(fd, p, n, (off_t)off);
	}
	return wr ? pwritev(fd, iov, (int)cnt, (off_t)off) : preadv(fd, iov, (int)cnt, (off_t)off);
}

/* Move past n transferred bytes. */
static void raw_advance(const struct iovec *iov, unsigned cnt, unsigned *i,
			size_t *skip, size_t n)
{
	while (n && *i < cnt) {
		size_t left = iov[*i].iov_len - *skip;

		if (n < left) {
			*skip += n;
			return;
		}
		n -= left;
		*skip = 0;
		(*i)++;
	}
	while (*i < cnt && iov[*i].iov_len == 0)
		(*i)++;
}

/* O_DIRECT takes io as it is: each buffer and length aligned, and the offset. */
bool blk_backend_direct_ok(const struct blk_backend *be, const struct blk_io *io)
{
	if (io->offset % be->dio_align)
		return false;
	for (unsigned i = 0; i < io->iovcnt; i++)
		if ((uintptr_t)io->iov[i].iov_base % be->dio_mem_align ||
		    io->iov[i].iov_len % be->dio_align)
			return false;
	return true;
}

static int raw_rw(struct blk_backend *be, const struct blk_io *io, bool wr)
{
	int fd = be->buffered_fd >= 0 && !blk_backend_direct_ok(be, io) ? be->buffered_fd : be->fd;
	unsigned i = 0;
	size_t skip = 0;
	uint64_t off = io->offset;

	raw_advance(io->iov, io->iovcnt, &i, &skip, 0);
	while (i < io->iovcnt) {
		ssize_t n = raw_rw_step(fd, wr, io->iov + i, io->iovcnt - i, skip, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			return -EIO;	/* end of file inside the request */
		off += (uint64_t)n;
		raw_advance(io->iov, io->iovcnt, &i, &skip, (size_t)n);
		/* The rest of a short direct transfer may no longer be aligned. */
		if (be->buffered_fd >= 0)
			fd = be->buffered_fd;
	}
	return 0;
}

static int raw_fallocate(struct blk_backend *be, int mode, const struct blk_io *io)
{
	if (!be->can_discard)
		return -EOPNOTSUPP;
	if (fallocate(be->fd, mode, (off_t)io->offset, (off_t)io->len) < 0)
		return -errno;
	return 0;
}

/*
 * Zeros that stay allocated. Where ZERO_RANGE is missing (tmpfs), punch and
 * allocate again: the same result in two steps. Neither allocating mode
 * says KEEP_SIZE: the range is inside the image, so the size stays anyway,
 * and without KEEP_SIZE the kernel holds an allocation to RLIMIT_FSIZE,
 * which the sandbox sets to the image's size (dev->file_size_max).
 */
static int raw_zero_range(struct blk_backend *be, const struct blk_io *io)
{
	int err = raw_fallocate(be, FALLOC_FL_ZERO_RANGE, io);

	if (err != -EOPNOTSUPP || !be->can_discard)
		return err;
	err = raw_fallocate(be, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, io);
	return err ? err : raw_fallocate(be, 0, io);
}

int blk_backend_do(struct blk_backend *be, const struct blk_io *io)
{
	switch (io->op) {
	case BLK_OP_READ:  return raw_rw(be, io, false);
	case BLK_OP_WRITE: return raw_rw(be, io, true);
	case BLK_OP_FLUSH: return fdatasync(be->fd) < 0 ? -errno : 0;
	case BLK_OP_DISCARD:
		return raw_fallocate(be, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, io);
	case BLK_OP_WRITE_ZEROES:
		if (io->unmap)
			return raw_fallocate(be, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, io);
		return raw_zero_range(be, io);
	}
	return -EINVAL;
}

static int raw_submit(struct blk_backend *be, struct blk_io *io)
{
	io->done(io, blk_backend_do(be, io));
	return 0;
}

static const struct blk_backend_ops raw_ops = {
	.name = "raw",
	.submit = raw_submit,
};

/*
 * O_DIRECT's alignment for fd: from statx where the file system tells it,
 * else the logical block size of a block device, else a page.
 */
static void raw_dio_align(struct blk_backend *be, const struct stat *st)
{
	struct statx sx;
	int lbs = 0;

	be->dio_align = be->dio_mem_align = 4096;
	if (statx(be->fd, "", AT_EMPTY_PATH, STATX_DIOALIGN, &sx) == 0 &&
	    (sx.stx_mask & STATX_DIOALIGN) && sx.stx_dio_offset_align && sx.stx_dio_mem_align) {
		be->dio_align = sx.stx_dio_offset_align;
		be->dio_mem_align = sx.stx_dio_mem_align;
	} else if (S_ISBLK(st->st_mode) && ioctl(be->fd, BLKSSZGET, &lbs) == 0 && lbs > 0) {
		be->dio_align = be->dio_mem_align = (unsigned)lbs;
	}
}

int blk_backend_raw_init(struct blk_backend *be, int fd, int buffered_fd)
{
	struct stat st;
	off_t end;
	int fl;

	if (fd < 0 || fstat(fd, &st) < 0)
		return fd < 0 ? -EBADF : -errno;
	fl = fcntl(fd, F_GETFL);
	if (fl < 0)
		return -errno;
	*be = (struct blk_backend){ .ops = &raw_ops, .fd = fd, .buffered_fd = -1,
				    .notify_fd = -1, .dio_align = 1, .dio_mem_align = 1 };
	if (fl & O_DIRECT) {
		if (buffered_fd < 0 || (fcntl(buffered_fd, F_GETFL) & O_DIRECT))
			return -EINVAL;
		be->buffered_fd = buffered_fd;
		raw_dio_align(be, &st);
	}
	if (S_ISREG(st.st_mode)) {
		be->size = (uint64_t)st.st_size;
		be->can_discard = true;
		return 0;
	}
	if (!S_ISBLK(st.st_mode))
		return -EINVAL;
	end = lseek(fd, 0, SEEK_END);
	if (end < 0)
		return -errno;
	be->size = (uint64_t)end;
	be->can_discard = true;	/* fallocate on block devices since Linux 4.9 */
	return 0;
}

/* Call done for each finished request of the list; returns how many. */
unsigned blk_backend_finish_list(struct blk_io *io, unsigned *inflight)
{
	struct blk_io *next;
	unsigned count = 0;

	for (; io; io = next, count++) {
		next = io->next_;
		(*inflight)--;
		io->done(io, io->result_);
	}
	return count;
}

/* A CLOCK_MONOTONIC instant or span of ns as a timespec. */
struct timespec blk_backend_timespec(uint64_t ns)
{
	return (struct timespec){ (time_t)(ns / 1000000000u), (long)(ns % 1000000000u) };
}
