/*
 * What the block backends share inside devices/ (not a public contract:
 * that is blk_backend.h). blk_backend.c holds the raw backend these come
 * from; blk_pool.c (aio=threads) and blk_aio.c (aio=native) build on it.
 */
#ifndef VMM_DEVICES_BLK_BACKEND_INT_H
#define VMM_DEVICES_BLK_BACKEND_INT_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "blk_backend.h"

/*
 * Run io synchronously with the raw backend's system calls on be's fds
 * (be set up by blk_backend_raw_init). Returns 0 or -errno; does not call
 * io->done.
 */
int blk_backend_do(struct blk_backend *be, const struct blk_io *io);

/* Whether be->fd (O_DIRECT) takes io as it is: offset, buffers, lengths aligned. */
bool blk_backend_direct_ok(const struct blk_backend *be, const struct blk_io *io);

/*
 * Call done with result_ for each request of the list linked by next_,
 * decrementing *inflight for each; returns how many.
 */
unsigned blk_backend_finish_list(struct blk_io *io, unsigned *inflight);

/*
 * A worker pool (blk_pool.c): nthreads (1..64) threads run requests with
 * blk_backend_do on be's fds and signal be->notify_fd as each finishes.
 * aio=threads is a pool alone; aio=native gives its large buffered
 * requests to one. Each call but the workers' own is the caller's thread's.
 */
struct blk_pool;

/* A pool of nthreads, not started, into *out. Returns 0 or -errno. */
int blk_pool_new(struct blk_backend *be, unsigned nthreads, struct blk_pool **out)
	__attribute__((warn_unused_result));
/* As blk_backend_start: returns once each thread is running; 0 or -errno. */
int blk_pool_start(struct blk_pool *p) __attribute__((warn_unused_result));
/* Queue io (sets io->result_); before start the caller's thread runs it here. */
void blk_pool_submit(struct blk_pool *p, struct blk_io *io);
/* The requests finished since the last take, linked by next_ (NULL: none). */
struct blk_io *blk_pool_take(struct blk_pool *p);
/*
 * Wait until a finished request waits for take (all: until none is still
 * running), or until the CLOCK_MONOTONIC instant *until. Returns 0, or
 * -ETIMEDOUT if that did not come.
 */
int blk_pool_wait(struct blk_pool *p, bool all, const struct timespec *until);
/* Stop and join the threads (they run what is queued first), free p. */
void blk_pool_free(struct blk_pool *p);

/* A CLOCK_MONOTONIC instant or span of ns as a timespec. */
struct timespec blk_backend_timespec(uint64_t ns);

#endif
