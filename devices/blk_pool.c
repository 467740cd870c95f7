/*
 * The worker pool (blk_backend_int.h), and the block backend made of it
 * alone (aio=threads; contract in blk_backend.h): the raw backend's
 * operations run by a few threads, completions handed back through the
 * backend's eventfd and reaped on the device's thread.
 */
#include "blk_backend_int.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

#define POOL_MAX_THREADS 64

struct blk_pool {
	struct blk_backend *be;			/* whose fds and notify_fd */
	pthread_mutex_t lock;
	pthread_cond_t work;			/* sq gained a request, or stop */
	pthread_cond_t changed;			/* a worker started, or a request finished */
	struct blk_io *sq_head, **sq_tail;	/* submitted, FIFO */
	struct blk_io *cq;			/* completed, any order */
	unsigned pending;			/* submitted, not yet completed */
	bool stop;
	unsigned nthreads, running;		/* wanted, started */
	pthread_t threads[POOL_MAX_THREADS];
};

static struct blk_io *pool_next(struct blk_pool *p)
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
static void pool_complete(struct blk_pool *p, struct blk_io *io)
{
	uint64_t one = 1;

	io->next_ = p->cq;
	p->cq = io;
	p->pending--;
	pthread_cond_broadcast(&p->changed);
	/* Can only fail with the counter saturated: readable anyway. */
	(void)!write(p->be->notify_fd, &one, sizeof(one));
}

static void *pool_worker(void *arg)
{
	struct blk_pool *p = arg;
	struct blk_io *io;

	pthread_mutex_lock(&p->lock);
	p->running++;
	pthread_cond_broadcast(&p->changed);
	while ((io = pool_next(p))) {
		pthread_mutex_unlock(&p->lock);
		io->result_ = blk_backend_do(p->be, io);
		pthread_mutex_lock(&p->lock);
		pool_complete(p, io);
	}
	pthread_mutex_unlock(&p->lock);
	return NULL;
}

int blk_pool_new(struct blk_backend *be, unsigned nthreads, struct blk_pool **out)
{
	pthread_condattr_t ca;
	struct blk_pool *p;

	if (nthreads == 0 || nthreads > POOL_MAX_THREADS)
		return -EINVAL;
	p = calloc(1, sizeof(*p));
	if (!p)
		return -ENOMEM;
	p->be = be;
	pthread_mutex_init(&p->lock, NULL);
	pthread_cond_init(&p->work, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p->changed, &ca);
	pthread_condattr_destroy(&ca);
	p->sq_tail = &p->sq_head;
	p->nthreads = nthreads;
	*out = p;
	return 0;
}

int blk_pool_start(struct blk_pool *p)
{
	unsigned created = 0;
	int err = 0;

	if (p->running)
		return -EALREADY;
	for (; created < p->nthreads && !err; created++)
		err = -pthread_create(&p->threads[created], NULL, pool_worker, p);
	if (err)
		created--;
	/* Their start-up system calls are behind them once they are counted. */
	pthread_mutex_lock(&p->lock);
	while (p->running < created)
		pthread_cond_wait(&p->changed, &p->lock);
	pthread_mutex_unlock(&p->lock);
	return err;
}

void blk_pool_submit(struct blk_pool *p, struct blk_io *io)
{
	io->next_ = NULL;
	pthread_mutex_lock(&p->lock);
	p->pending++;
	if (p->running) {
		*p->sq_tail = io;
		p->sq_tail = &io->next_;
		pthread_cond_signal(&p->work);
	} else {
		/* Not started: the caller's thread does it; done comes with reap. */
		io->result_ = blk_backend_do(p->be, io);
		pool_complete(p, io);
	}
	pthread_mutex_unlock(&p->lock);
}

struct blk_io *blk_pool_take(struct blk_pool *p)
{
	struct blk_io *io;

	pthread_mutex_lock(&p->lock);
	io = p->cq;
	p->cq = NULL;
	pthread_mutex_unlock(&p->lock);
	return io;
}

int blk_pool_wait(struct blk_pool *p, bool all, const struct timespec *until)
{
	int err = 0;

	pthread_mutex_lock(&p->lock);
	while (!err && (all ? p->pending : !p->cq && p->pending))
		err = -pthread_cond_timedwait(&p->changed, &p->lock, until);
	err = (all ? p->pending : !p->cq && p->pending) ? -ETIMEDOUT : 0;
	pthread_mutex_unlock(&p->lock);
	return err;
}

void blk_pool_free(struct blk_pool *p)
{
	if (!p)
		return;
	pthread_mutex_lock(&p->lock);
	p->stop = true;
	pthread_cond_broadcast(&p->work);
	pthread_mutex_unlock(&p->lock);
	for (unsigned i = 0; i < p->running; i++)
		pthread_join(p->threads[i], NULL);
	free(p);
}

/* ---- aio=threads: the pool as a backend ---- */

struct pool_be {
	struct blk_pool *pool;
	unsigned inflight;	/* submitted, not yet reaped (caller's thread) */
};

static int pool_submit(struct blk_backend *be, struct blk_io *io)
{
	struct pool_be *pb = be->priv;

	pb->inflight++;
	blk_pool_submit(pb->pool, io);
	return 0;
}

static unsigned pool_reap(struct blk_backend *be)
{
	struct pool_be *pb = be->priv;
	uint64_t n;

	if (read(be->notify_fd, &n, sizeof(n)) < 0 && errno != EAGAIN)
		return 0;
	return blk_backend_finish_list(blk_pool_take(pb->pool), &pb->inflight);
}

static int pool_drain(struct blk_backend *be, unsigned timeout_ms)
{
	struct pool_be *pb = be->priv;
	struct timespec until = blk_backend_timespec(now_ns() + timeout_ms * 1000000ull);

	while (pb->inflight && blk_pool_wait(pb->pool, false, &until) == 0)
		pool_reap(be);
	pool_reap(be);
	return pb->inflight ? -ETIMEDOUT : 0;
}

static void pool_destroy(struct blk_backend *be)
{
	struct pool_be *pb = be->priv;

	if (!pb)
		return;
	blk_pool_free(pb->pool);
	close(be->notify_fd);
	free(pb);
	be->priv = NULL;
	be->notify_fd = -1;
}

static int pool_start(struct blk_backend *be)
{
	struct pool_be *pb = be->priv;

	return blk_pool_start(pb->pool);
}

static const struct blk_backend_ops pool_ops = {
	.name = "pool",
	.submit = pool_submit,
	.reap = pool_reap,
	.drain = pool_drain,
	.start = pool_start,
	.destroy = pool_destroy,
};

int blk_backend_pool_init(struct blk_backend *be, int fd, int buffered_fd, unsigned nthreads)
{
	struct pool_be *pb;
	int err = blk_backend_raw_init(be, fd, buffered_fd);

	if (err)
		return err;
	pb = calloc(1, sizeof(*pb));
	if (!pb)
		return -ENOMEM;
	err = blk_pool_new(be, nthreads, &pb->pool);
	if (err) {
		free(pb);
		return err;
	}
	be->notify_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
	if (be->notify_fd < 0) {
		err = -errno;
		blk_pool_free(pb->pool);
		free(pb);
		return err;
	}
	be->priv = pb;
	be->ops = &pool_ops;
	return 0;
}
