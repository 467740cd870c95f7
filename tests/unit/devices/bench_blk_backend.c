/*
 * Micro-benchmark of the block backends: 4 KiB random reads, synchronous
 * (raw, one at a time) against the worker pool at queue depth 1 and 32.
 * Not a test: it prints numbers.
 *
 *   build-dir/tests/unit/devices/bench_blk_backend [FILE [MiB [direct]]]
 */
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blk_backend.h"
#include "util.h"

#define BS	4096
#define QD_MAX	32

static unsigned completed;
static uint64_t rng = 88172645463325252ull;

static uint64_t next_off(uint64_t blocks)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (rng % blocks) * BS;
}

static void done(struct blk_io *io, int result)
{
	if (result)
		fprintf(stderr, "I/O error %d\n", result);
	completed++;
	io->opaque = NULL;	/* free slot */
}

static double run(struct blk_backend *be, unsigned qd, unsigned total, uint64_t blocks,
		  uint8_t *bufs)
{
	struct blk_io io[QD_MAX];
	struct iovec iov[QD_MAX];
	unsigned submitted = 0;
	uint64_t t0 = now_ns();

	completed = 0;
	memset(io, 0, sizeof(io));
	while (completed < total) {
		for (unsigned i = 0; i < qd && submitted < total; i++) {
			if (io[i].opaque)
				continue;
			iov[i] = (struct iovec){ bufs + (size_t)i * BS, BS };
			io[i] = (struct blk_io){ .op = BLK_OP_READ, .offset = next_off(blocks),
						 .iov = &iov[i], .iovcnt = 1, .done = done,
						 .opaque = (void *)1 };
			submitted++;
			if (be->ops->submit(be, &io[i]))
				return 0;
		}
		if (be->ops->reap) {
			struct pollfd p = { .fd = be->notify_fd, .events = POLLIN };

			poll(&p, 1, 1000);
			be->ops->reap(be);
		}
	}
	return total / ((now_ns() - t0) / 1e9);
}

int main(int argc, char **argv)
{
	const char *path = argc > 1 ? argv[1] : "/tmp/bench_blk_backend.img";
	uint64_t mib = argc > 2 ? strtoull(argv[2], NULL, 10) : 256;
	bool direct = argc > 3 && strcmp(argv[3], "direct") == 0;
	uint8_t *bufs = aligned_alloc(BS, (size_t)QD_MAX * BS), *chunk = calloc(1, 1 << 20);
	struct blk_backend raw, pool;
	unsigned total = direct ? 20000 : 200000;
	int fd = open(path, O_RDWR | O_CREAT, 0600), bfd;

	if (fd < 0 || !bufs || !chunk)
		return 1;
	for (uint64_t i = 0; i < mib; i++) {
		memset(chunk, (int)i, 1 << 20);
		if (pwrite(fd, chunk, 1 << 20, (off_t)(i << 20)) != 1 << 20)
			return 1;
	}
	fsync(fd);
	bfd = fd;
	if (direct)
		fd = open(path, O_RDWR | O_DIRECT);
	if (fd < 0 || blk_backend_raw_init(&raw, fd, direct ? bfd : -1))
		return 1;
	printf("# %s, %llu MiB, %s, 4 KiB random reads, %u per row\n", path,
	       (unsigned long long)mib, direct ? "O_DIRECT" : "page cache", total);
	printf("raw (sync)        qd 1 : %8.0f IOPS\n", run(&raw, 1, total, mib * 256, bufs));
	for (unsigned t = 1; t <= 16; t *= 4) {
		if (blk_backend_pool_init(&pool, fd, direct ? bfd : -1, t) ||
		    blk_backend_pool_start(&pool))
			return 1;
		printf("pool %2u threads   qd 1 : %8.0f IOPS\n", t, run(&pool, 1, total, mib * 256, bufs));
		printf("pool %2u threads   qd 32: %8.0f IOPS\n", t, run(&pool, 32, total, mib * 256, bufs));
		pool.ops->destroy(&pool);
	}
	close(fd);
	if (direct)
		close(bfd);
	return 0;
}
