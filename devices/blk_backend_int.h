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

/* A CLOCK_MONOTONIC instant or span of ns as a timespec. */
struct timespec blk_backend_timespec(uint64_t ns);

#endif
