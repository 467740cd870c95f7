/*
 * The worker-pool block backend (aio=threads; contract in blk_backend.h):
 * the raw backend's operations run by a few threads, completions handed
 * back through an eventfd and reaped on the device's thread.
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
		io->result_ = blk_backend_do(be, io);
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
		io->result_ = blk_backend_do(be, io);
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
	return blk_backend_finish_list(io, &p->inflight);
}

static int pool_drain(struct blk_backend *be, unsigned timeout_ms)
{
	struct pool *p = be->priv;
	struct timespec until = blk_backend_timespec(now_ns() + timeout_ms * 1000000ull);
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
