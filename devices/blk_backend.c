/* The raw file block backend (see blk_backend.h). */
#include "blk_backend.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/aio_abi.h>
#include <linux/fs.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

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
static bool raw_direct_ok(const struct blk_backend *be, const struct blk_io *io)
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
	int fd = be->buffered_fd >= 0 && !raw_direct_ok(be, io) ? be->buffered_fd : be->fd;
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
 * allocate again: the same result in two steps.
 */
static int raw_zero_range(struct blk_backend *be, const struct blk_io *io)
{
	int err = raw_fallocate(be, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, io);

	if (err != -EOPNOTSUPP || !be->can_discard)
		return err;
	err = raw_fallocate(be, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, io);
	return err ? err : raw_fallocate(be, FALLOC_FL_KEEP_SIZE, io);
}

static int raw_do(struct blk_backend *be, const struct blk_io *io)
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
	io->done(io, raw_do(be, io));
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
static unsigned finish_list(struct blk_io *io, unsigned *inflight)
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

/* --- worker pool --- */

#define POOL_MAX_THREADS 64

struct pool {
	pthread_mutex_t lock;
	pthread_cond_t work;			/* sq gained a request, or stop */
	pthread_cond_t changed;			/* a worker started, or cq gained one */
	struct blk_io *sq_head, **sq_tail;	/* submitted, FIFO */
	struct blk_io *cq;			/* completed, any order */
	bool stop;
	unsigned nthreads, running;		/* wanted, started */
	unsigned inflight;			/* submitted, not yet reaped (caller's thread) */
	pthread_t threads[POOL_MAX_THREADS];
};

static struct blk_io *pool_next(struct pool *p)
{
	struct blk_io *io;

	while (!p->sq_head && !p->stop)
		pthread_cond_wait(&p->work, &p->lock);
	io = p->sq_head;
	if (io && !(p->sq_head = io->next_))
		p->sq_tail = &p->sq_head;
	return io;
}

/* A finished request onto the completion list (lock held). */
static void pool_complete(struct blk_backend *be, struct pool *p, struct blk_io *io)
{
	uint64_t one = 1;

	io->next_ = p->cq;
	p->cq = io;
	pthread_cond_broadcast(&p->changed);
	/* Can only fail with the counter saturated: readable anyway. */
	(void)!write(be->notify_fd, &one, sizeof(one));
}

static void *pool_worker(void *arg)
{
	struct blk_backend *be = arg;
	struct pool *p = be->priv;
	struct blk_io *io;

	pthread_mutex_lock(&p->lock);
	p->running++;
	pthread_cond_broadcast(&p->changed);
	while ((io = pool_next(p))) {
		pthread_mutex_unlock(&p->lock);
		io->result_ = raw_do(be, io);
		pthread_mutex_lock(&p->lock);
		pool_complete(be, p, io);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

static int pool_submit(struct blk_backend *be, struct blk_io *io)
{
	struct pool *p = be->priv;

	io->next_ = NULL;
	p->inflight++;
	pthread_mutex_lock(&p->lock);
	if (p->running) {
		*p->sq_tail = io;
		p->sq_tail = &io->next_;
		pthread_cond_signal(&p->work);
	} else {
		/* Not started: the caller's thread does it; done comes with reap. */
		io->result_ = raw_do(be, io);
		pool_complete(be, p, io);
	}
	pthread_mutex_unlock(&p->lock);
	return 0;
}

static unsigned pool_reap(struct blk_backend *be)
{
	struct pool *p = be->priv;
	struct blk_io *io;
	uint64_t n;

	if (read(be->notify_fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		return 0;
	pthread_mutex_lock(&p->lock);
	io = p->cq;
	p->cq = NULL;
	pthread_mutex_unlock(&p->lock);
	return finish_list(io, &p->inflight);
}

/* A CLOCK_MONOTONIC instant or span of ns as a timespec. */
static struct timespec ns_timespec(uint64_t ns)
{
	return (struct timespec){ (time_t)(ns / 1000000000u), (long)(ns % 1000000000u) };
}

static int pool_drain(struct blk_backend *be, unsigned timeout_ms)
{
	struct pool *p = be->priv;
	struct timespec until = ns_timespec(now_ns() + timeout_ms * 1000000ull);
	int err = 0;

	while (p->inflight && !err) {
		pthread_mutex_lock(&p->lock);
		while (!p->cq && !err)
			err = -pthread_cond_timedwait(&p->changed, &p->lock, &until);
		pthread_mutex_unlock(&p->lock);
		pool_reap(be);
	}
	return p->inflight ? -ETIMEDOUT : 0;
}

static void pool_stop(struct blk_backend *be)
{
	struct pool *p = be->priv;

	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->lock);
	for (unsigned i = 0; i < p->running; i++)
		pthread_join(p->threads[i], NULL);
	close(be->notify_fd);
	free(p);
	be->priv = NULL;
	be->notify_fd = -1;
}

static void pool_destroy(struct blk_backend *be)
{
	if (be->priv)
		pool_stop(be);
}

static const struct blk_backend_ops pool_ops = {
	.name = "pool",
	.submit = pool_submit,
	.reap = pool_reap,
	.drain = pool_drain,
	.destroy = pool_destroy,
};

int blk_backend_pool_init(struct blk_backend *be, int fd, int buffered_fd, unsigned nthreads)
{
	pthread_condattr_t ca;
	struct pool *p;
	int err = blk_backend_raw_init(be, fd, buffered_fd);

	if (err)
		return err;
	if (nthreads == 0 || nthreads > POOL_MAX_THREADS)
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	be->notify_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (be->notify_fd < 0) {
		free(p);
		return -errno;
	}
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->changed, &ca);
	pthread_condattr_destroy(&ca);
	p->sq_tail = &p->sq_head;
	p->nthreads = nthreads;
	be->priv = p;
	be->ops = &pool_ops;
	return 0;
}

int blk_backend_pool_start(struct blk_backend *be)
{
	struct pool *p = be->priv;
	unsigned created = 0;
	int err = 0;

	if (!p || be->ops != &pool_ops)
		return -EINVAL;
	if (p->running)
		return -EALREADY;
	for (; created < p->nthreads && !err; created++)
		err = -pthread_create(&p->threads[created], NULL, pool_worker, be);
	if (err)
		created--;
	/* Their start-up system calls are behind them once they are counted. */
	pthread_mutex_lock(&p->lock);
	while (p->running < created)
		pthread_cond_wait(&p->changed, &p->lock);
	pthread_mutex_unlock(&p->lock);
	return err;
}

/* --- Linux native AIO --- */

#define AIO_SLOTS 64
#define AIO_RING_MAGIC 0xa10a10a1u

/* The head of the ring io_setup maps at the context's address (fs/aio.c). */
struct aio_ring_head {
	unsigned id, nr;
	_Atomic unsigned head, tail;
	unsigned magic, compat_features, incompat_features, header_length;
	struct io_event events[];
};

struct aio {
	aio_context_t ctx;
	struct iocb cb[AIO_SLOTS];
	struct blk_io *cb_io[AIO_SLOTS];	/* NULL: slot free */
	struct iocb *held[AIO_SLOTS];		/* submitted, not yet given to the kernel */
	unsigned nheld;
	struct blk_io *done_head, **done_tail;	/* finished, not yet reaped */
	unsigned inflight;			/* submitted, not yet reaped */
};

static void aio_wake(struct blk_backend *be)
{
	uint64_t one = 1;

	(void)!write(be->notify_fd, &one, sizeof(one));
}

static void aio_finished(struct aio *a, struct blk_io *io)
{
	io->next_ = NULL;
	*a->done_tail = io;
	a->done_tail = &io->next_;
}

/* Run io here and now; its done comes with the next reap, like the rest. */
static void aio_run_here(struct blk_backend *be, struct aio *a, struct blk_io *io)
{
	io->result_ = raw_do(be, io);
	aio_finished(a, io);
	aio_wake(be);
}

static int aio_submit(struct blk_backend *be, struct blk_io *io)
{
	struct aio *a = be->priv;
	struct iocb *cb;
	unsigned s = 0;
	bool rw = io->op == BLK_OP_READ || io->op == BLK_OP_WRITE;

	a->inflight++;
	while (s < AIO_SLOTS && a->cb_io[s])
		s++;
	if (s == AIO_SLOTS || !(rw || io->op == BLK_OP_FLUSH)) {
		aio_run_here(be, a, io);	/* DISCARD and WRITE_ZEROES: fallocate */
		return 0;
	}
	cb = &a->cb[s];
	*cb = (struct iocb){ .aio_data = s, .aio_flags = IOCB_FLAG_RESFD,
			     .aio_resfd = (uint32_t)be->notify_fd };
	if (rw) {
		bool direct = be->buffered_fd < 0 || raw_direct_ok(be, io);

		cb->aio_lio_opcode = io->op == BLK_OP_READ ? IOCB_CMD_PREADV : IOCB_CMD_PWRITEV;
		cb->aio_fildes = (uint32_t)(direct ? be->fd : be->buffered_fd);
		cb->aio_buf = (uint64_t)(uintptr_t)io->iov;
		cb->aio_nbytes = io->iovcnt;
		cb->aio_offset = (int64_t)io->offset;
	} else {
		cb->aio_lio_opcode = IOCB_CMD_FDSYNC;
		cb->aio_fildes = (uint32_t)be->fd;
	}
	a->cb_io[s] = io;
	a->held[a->nheld++] = cb;
	return 0;
}

static void aio_unplug(struct blk_backend *be)
{
	struct aio *a = be->priv;
	long n = a->nheld ? syscall(SYS_io_submit, a->ctx, (long)a->nheld, a->held) : 0;

	/* What the kernel did not take (e.g. no AIO fsync here) runs here. */
	for (unsigned i = n > 0 ? (unsigned)n : 0; i < a->nheld; i++) {
		unsigned s = (unsigned)a->held[i]->aio_data;
		struct blk_io *io = a->cb_io[s];

		a->cb_io[s] = NULL;
		aio_run_here(be, a, io);
	}
	a->nheld = 0;
}

/* Bytes a read or write moves. */
static uint64_t io_bytes(const struct blk_io *io)
{
	uint64_t n = 0;

	for (unsigned i = 0; i < io->iovcnt; i++)
		n += io->iov[i].iov_len;
	return n;
}

static void aio_event(struct blk_backend *be, const struct io_event *ev)
{
	struct aio *a = be->priv;
	unsigned s = (unsigned)ev->data;
	struct blk_io *io = s < AIO_SLOTS ? a->cb_io[s] : NULL;

	if (!io)
		return;
	a->cb_io[s] = NULL;
	io->result_ = ev->res < 0 ? (int)ev->res : 0;
	/* A short transfer (rare): do the whole of it again, synchronously. */
	if (ev->res >= 0 && io->op != BLK_OP_FLUSH && (uint64_t)ev->res != io_bytes(io))
		io->result_ = raw_do(be, io);
	aio_finished(a, io);
}

/*
 * What the kernel finished, from its ring in our memory without a system
 * call where the ring is the layout we know; else io_getevents, which also
 * waits up to *ts for min events.
 */
static void aio_collect(struct blk_backend *be, long min, struct timespec *ts)
{
	struct aio *a = be->priv;
	struct aio_ring_head *r = (struct aio_ring_head *)(uintptr_t)a->ctx;
	struct io_event ev[AIO_SLOTS];
	long n;

	if (min == 0 && r->magic == AIO_RING_MAGIC && r->incompat_features == 0) {
		unsigned head = atomic_load_explicit(&r->head, memory_order_relaxed);
		unsigned tail = atomic_load_explicit(&r->tail, memory_order_acquire);

		for (; head != tail && head < r->nr; head = (head + 1) % r->nr)
			aio_event(be, &r->events[head]);
		atomic_store_explicit(&r->head, head, memory_order_release);
		return;
	}
	do {
		n = syscall(SYS_io_getevents, a->ctx, min, (long)AIO_SLOTS, ev, ts);
		for (long i = 0; i < n; i++)
			aio_event(be, &ev[i]);
		min = 0;
	} while (n == AIO_SLOTS);
}

static unsigned aio_reap(struct blk_backend *be)
{
	struct aio *a = be->priv;
	struct timespec zero = { 0, 0 };
	struct blk_io *io;
	uint64_t v;

	if (read(be->notify_fd, &v, sizeof(v)) < 0 && errno != EAGAIN)
		return 0;
	aio_collect(be, 0, &zero);
	io = a->done_head;
	a->done_head = NULL;
	a->done_tail = &a->done_head;
	return finish_list(io, &a->inflight);
}

static int aio_drain(struct blk_backend *be, unsigned timeout_ms)
{
	struct aio *a = be->priv;
	uint64_t until = now_ns() + timeout_ms * 1000000ull, now;

	aio_unplug(be);
	for (aio_reap(be); a->inflight; aio_reap(be)) {
		struct timespec left;

		now = now_ns();
		if (now >= until)
			return -ETIMEDOUT;
		left = ns_timespec(until - now);
		aio_collect(be, 1, &left);	/* reaped at the top of the loop */
	}
	return 0;
}

static void aio_destroy(struct blk_backend *be)
{
	struct aio *a = be->priv;

	if (!a)
		return;
	syscall(SYS_io_destroy, a->ctx);	/* waits for what is in flight */
	close(be->notify_fd);
	free(a);
	be->priv = NULL;
	be->notify_fd = -1;
}

static const struct blk_backend_ops aio_ops = {
	.name = "aio",
	.submit = aio_submit,
	.unplug = aio_unplug,
	.reap = aio_reap,
	.drain = aio_drain,
	.destroy = aio_destroy,
};

int blk_backend_aio_init(struct blk_backend *be, int fd, int buffered_fd)
{
	struct aio *a;
	int err = blk_backend_raw_init(be, fd, buffered_fd);

	if (err)
		return err;
	a = calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->done_tail = &a->done_head;
	if (syscall(SYS_io_setup, (long)AIO_SLOTS, &a->ctx) < 0) {
		err = -errno;
		free(a);
		return err;
	}
	be->notify_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (be->notify_fd < 0) {
		err = -errno;
		syscall(SYS_io_destroy, a->ctx);
		free(a);
		return err;
	}
	be->priv = a;
	be->ops = &aio_ops;
	return 0;
}
