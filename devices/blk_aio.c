/*
 * The Linux native AIO block backend (aio=native; contract in
 * blk_backend.h): io_submit per batch, completions from the kernel's AIO
 * ring, no threads.
 */
#include "blk_backend_int.h"

#include <errno.h>
#include <linux/aio_abi.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

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
	io->result_ = blk_backend_do(be, io);
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
		bool direct = be->buffered_fd < 0 || blk_backend_direct_ok(be, io);

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
		io->result_ = blk_backend_do(be, io);
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
	return blk_backend_finish_list(io, &a->inflight);
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
		left = blk_backend_timespec(until - now);
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
