/* Block backends tested against each other: what one writes the other reads. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "blk_backend.h"
#include "check.h"

#define DISK	(1u << 20)
#define NREQ	32

static int ndone, last_result;

static void done(struct blk_io *io, int result)
{
	ndone++;
	last_result = result;
	io->opaque = (void *)1;
}

/* Start what the backend held back, then reap until want are done. */
static void wait_all(struct blk_backend *be, int want)
{
	if (be->ops->unplug)
		be->ops->unplug(be);
	for (int spins = 0; ndone < want && spins < 100000; spins++)
		if (!be->ops->reap || !be->ops->reap(be))
			usleep(10);
}

/* NREQ 4 KiB writes with seed through w, read back through r. */
static bool cross(struct blk_backend *w, struct blk_backend *r, uint8_t seed)
{
	static uint8_t buf[NREQ][4096], back[4096];
	struct iovec iov[NREQ];
	struct blk_io io[NREQ];
	bool ok = true;

	ndone = 0;
	for (int i = 0; i < NREQ; i++) {
		memset(buf[i], seed + i, 4096);
		iov[i] = (struct iovec){ buf[i], 4096 };
		io[i] = (struct blk_io){ .op = BLK_OP_WRITE, .offset = 4096ull * i, .iov = &iov[i],
					 .iovcnt = 1, .done = done };
		ok &= w->ops->submit(w, &io[i]) == 0;
	}
	wait_all(w, NREQ);
	ok &= ndone == NREQ;
	for (int i = 0; i < NREQ && ok; i++) {
		struct iovec v = { back, 4096 };
		struct blk_io rd = { .op = BLK_OP_READ, .offset = 4096ull * i, .iov = &v,
				     .iovcnt = 1, .done = done };

		ndone = 0;
		ok &= r->ops->submit(r, &rd) == 0;
		wait_all(r, 1);
		ok &= ndone == 1 && last_result == 0 && memcmp(back, buf[i], 4096) == 0;
	}
	return ok;
}

/*
 * O_DIRECT with its buffered twin: aligned requests go direct, others
 * through the twin, and both see the same data (the file system keeps the
 * two coherent). Where the file system has no O_DIRECT, says so and passes.
 */
static void test_direct(const char *path, int fd)
{
	int dfd = open(path, O_RDWR | O_DIRECT);
	static uint8_t al[8192] __attribute__((aligned(4096)));
	struct iovec v[2];
	struct blk_io io = { .done = done };
	struct blk_backend be;

	if (dfd < 0) {
		printf("# O_DIRECT not supported on %s: direct cases not run\n", path);
		return;
	}
	CHECK(blk_backend_raw_init(&be, dfd, -1) == -EINVAL, "direct without a buffered twin: -EINVAL");
	CHECK(blk_backend_raw_init(&be, dfd, fd) == 0 && be.buffered_fd == fd && be.dio_align >= 1 &&
	      be.dio_align <= 4096 && be.dio_mem_align <= 4096, "direct: alignment %u/%u",
	      be.dio_align, be.dio_mem_align);
	memset(al, 0x5a, 4096);
	v[0] = (struct iovec){ al, 4096 };
	io = (struct blk_io){ .op = BLK_OP_WRITE, .offset = 8192, .iov = v, .iovcnt = 1, .done = done };
	CHECK(be.ops->submit(&be, &io) == 0 && last_result == 0, "aligned write (direct)");
	/* 3 bytes into a buffer: O_DIRECT refuses it, the twin takes it. */
	memset(al, 0, sizeof(al));
	v[0] = (struct iovec){ al + 3, 4096 };
	io = (struct blk_io){ .op = BLK_OP_READ, .offset = 8192, .iov = v, .iovcnt = 1, .done = done };
	CHECK(be.ops->submit(&be, &io) == 0 && last_result == 0 && al[3] == 0x5a && al[4098] == 0x5a,
	      "misaligned read: served, and sees the direct write");
	v[0] = (struct iovec){ al + 3, 1000 };
	v[1] = (struct iovec){ al + 4096, 3096 };
	memset(al + 3, 0xa5, 1000);
	memset(al + 4096, 0xa5, 3096);
	io = (struct blk_io){ .op = BLK_OP_WRITE, .offset = 8192, .iov = v, .iovcnt = 2, .done = done };
	CHECK(be.ops->submit(&be, &io) == 0 && last_result == 0, "misaligned write");
	memset(al, 0, 4096);
	v[0] = (struct iovec){ al, 4096 };
	io = (struct blk_io){ .op = BLK_OP_READ, .offset = 8192, .iov = v, .iovcnt = 1, .done = done };
	CHECK(be.ops->submit(&be, &io) == 0 && last_result == 0 && al[0] == 0xa5 && al[4095] == 0xa5,
	      "aligned read (direct) sees the buffered write");
	CHECK(blk_backend_aio_init(&be, dfd, fd) == 0, "native AIO over the direct fd");
	CHECK(cross(&be, &be, 40), "AIO, direct: 32 writes in flight, read back");
	be.ops->destroy(&be);
	close(dfd);
}

/* Linux native AIO through the page cache, against the raw backend. */
static void test_aio(int fd)
{
	struct blk_backend aio, raw;
	uint8_t b[512];
	struct iovec v = { b, sizeof(b) };
	struct blk_io io = { .op = BLK_OP_READ, .offset = DISK, .iov = &v, .iovcnt = 1, .done = done };

	CHECK(blk_backend_raw_init(&raw, fd, -1) == 0, "raw");
	CHECK(blk_backend_aio_init(&aio, fd, -1) == 0 && aio.notify_fd >= 0, "native AIO");
	CHECK(cross(&aio, &raw, 9), "AIO writes 32 blocks, raw reads them");
	CHECK(cross(&raw, &aio, 99), "raw writes, AIO reads");
	ndone = 0;
	CHECK(aio.ops->submit(&aio, &io) == 0, "AIO: read past the end submitted");
	wait_all(&aio, 1);
	CHECK(ndone == 1 && last_result == -EIO, "AIO: -EIO, via reap");
	memset(b, 0xff, sizeof(b));
	io = (struct blk_io){ .op = BLK_OP_WRITE_ZEROES, .offset = 0, .len = 8192, .done = done };
	ndone = 0;
	CHECK(aio.ops->submit(&aio, &io) == 0, "AIO: write zeroes submitted");
	wait_all(&aio, 1);
	CHECK(ndone == 1 && last_result == 0, "and done, via reap");
	io = (struct blk_io){ .op = BLK_OP_FLUSH, .done = done };
	ndone = 0;
	CHECK(aio.ops->submit(&aio, &io) == 0, "AIO: flush submitted");
	wait_all(&aio, 1);
	CHECK(ndone == 1 && last_result == 0, "and done");
	io = (struct blk_io){ .op = BLK_OP_READ, .offset = 4096, .iov = &v, .iovcnt = 1, .done = done };
	ndone = 0;
	CHECK(aio.ops->submit(&aio, &io) == 0 && aio.ops->drain(&aio, 1000) == 0 && ndone == 1 &&
	      b[0] == 0 && b[511] == 0, "drain waits for a read of the zeroed range");
	aio.ops->destroy(&aio);
	CHECK(aio.notify_fd == -1, "AIO destroyed");
}

int main(void)
{
	char path[] = "/var/tmp/test_blk_backend-XXXXXX";
	int fd = mkstemp(path);
	struct blk_backend raw, pool;
	uint8_t b[512];
	struct iovec v = { b, sizeof(b) };
	struct blk_io io = { .op = BLK_OP_READ, .offset = DISK, .iov = &v, .iovcnt = 1, .done = done };

	if (fd < 0 || ftruncate(fd, DISK) < 0)
		CHECK_SKIP_ALL("no temp file");
	test_direct(path, fd);
	unlink(path);
	CHECK(blk_backend_raw_init(&raw, fd, -1) == 0 && raw.size == DISK, "raw: size from fstat");
	CHECK(blk_backend_raw_init(&raw, -1, -1) == -EBADF, "raw: bad fd refused");
	CHECK(blk_backend_raw_init(&raw, fd, -1) == 0 && raw.buffered_fd == -1 && raw.dio_align == 1,
	      "raw again, not direct");
	CHECK(blk_backend_pool_init(&pool, fd, -1, 4) == 0 && pool.notify_fd >= 0, "pool of 4 threads");
	CHECK(cross(&pool, &raw, 5), "before start, the pool runs requests in submit, done at reap");
	CHECK(blk_backend_pool_start(&pool) == 0, "pool started");
	CHECK(blk_backend_pool_start(&pool) == -EALREADY, "and only once");
	CHECK(cross(&pool, &raw, 1), "pool writes 32 blocks in flight, raw reads them");
	CHECK(cross(&raw, &pool, 77), "raw writes, pool reads");
	ndone = 0;
	CHECK(raw.ops->submit(&raw, &io) == 0 && ndone == 1 && last_result == -EIO,
	      "raw: read past the end of the file: -EIO");
	ndone = 0;
	CHECK(pool.ops->submit(&pool, &io) == 0, "pool: submitted");
	wait_all(&pool, 1);
	CHECK(ndone == 1 && last_result == -EIO, "pool: the same -EIO, via reap");
	io = (struct blk_io){ .op = BLK_OP_WRITE_ZEROES, .offset = 0, .len = 8192, .done = done };
	ndone = 0;
	CHECK(raw.ops->submit(&raw, &io) == 0 && last_result == 0, "raw: write zeroes");
	io = (struct blk_io){ .op = BLK_OP_READ, .offset = 4096, .iov = &v, .iovcnt = 1, .done = done };
	CHECK(raw.ops->submit(&raw, &io) == 0 && last_result == 0 && b[0] == 0 && b[511] == 0,
	      "zeroed range reads zeros");
	pool.ops->destroy(&pool);
	CHECK(pool.notify_fd == -1, "pool destroyed");
	test_aio(fd);
	close(fd);
	return check_done();
}
