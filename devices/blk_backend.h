/*
 * Block backends for virtio-blk: small ops structs over a disk image the
 * host opened, so backends can be tested against each other without a VM.
 *
 * A request is submitted and completes through its `done` callback,
 * exactly once, with 0 or -errno. A synchronous backend calls done before
 * submit returns; an asynchronous one may call it later, from its poll op,
 * and in any order. Either way, done runs on the device's thread.
 */
#ifndef VMM_DEVICES_BLK_BACKEND_H
#define VMM_DEVICES_BLK_BACKEND_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

enum blk_op {
	BLK_OP_READ,		/* iov <- [offset, offset + iov bytes) */
	BLK_OP_WRITE,		/* iov -> [offset, ...) */
	BLK_OP_FLUSH,		/* everything written so far is durable */
	BLK_OP_DISCARD,		/* [offset, offset + len) may read as anything; here: zeros */
	BLK_OP_WRITE_ZEROES,	/* [offset, offset + len) reads as zeros */
};

struct blk_io {
	enum blk_op op;
	uint64_t offset;		/* bytes */
	uint64_t len;			/* bytes, for DISCARD and WRITE_ZEROES */
	const struct iovec *iov;	/* READ and WRITE; memory owned by the caller */
	unsigned iovcnt;
	bool unmap;			/* WRITE_ZEROES may deallocate */
	void (*done)(struct blk_io *io, int result);
	void *opaque;			/* the caller's */
	struct blk_io *next_;		/* the backend's, while in flight */
	int result_;
};

struct blk_backend;

struct blk_backend_ops {
	const char *name;
	/*
	 * Start io. Returns 0 if accepted (done will be called exactly once,
	 * possibly before this returns), or -errno if not (done is not called).
	 */
	int (*submit)(struct blk_backend *be, struct blk_io *io)
		__attribute__((warn_unused_result));
	/*
	 * Start what submit held back: a backend may hold requests until the
	 * caller has submitted a batch. May be NULL (nothing is held).
	 */
	void (*unplug)(struct blk_backend *be);
	/*
	 * Call done for every request finished since the last call (on the
	 * caller's thread). Returns how many. NULL for synchronous backends.
	 */
	unsigned (*reap)(struct blk_backend *be);
	/*
	 * Reap until nothing is in flight, waiting at most timeout_ms. Returns
	 * 0, or -ETIMEDOUT with requests still running (their done comes with
	 * a later reap). NULL for synchronous backends.
	 */
	int (*drain)(struct blk_backend *be, unsigned timeout_ms);
	/* Stop and free what init started (waits for requests in flight). May be NULL. */
	void (*destroy)(struct blk_backend *be);
};

struct blk_backend {
	const struct blk_backend_ops *ops;
	int fd;			/* the image; not owned (the host closes it) */
	int buffered_fd;	/* if fd is O_DIRECT: the same image without; else -1 */
	unsigned dio_align;	/* O_DIRECT: offsets and lengths (1 if not direct) */
	unsigned dio_mem_align;	/* O_DIRECT: buffer addresses (1 if not direct) */
	uint64_t size;		/* bytes */
	bool can_discard;	/* DISCARD / WRITE_ZEROES can work on this fd */
	int notify_fd;		/* readable while completions wait for reap; -1 if sync */
	void *priv;
};

/*
 * The raw file backend: synchronous preadv/pwritev/fdatasync/fallocate on
 * fd, a regular file or a block device. Fills *be, with size from fstat (or
 * the end offset of a block device). Returns 0 or -errno (-EINVAL for an fd
 * that is neither). Short transfers are retried; one that hits end of file
 * fails with -EIO.
 *
 * fd may be open with O_DIRECT (the host's page cache bypassed); then
 * buffered_fd must be the same image without it (else -EINVAL), and serves
 * the reads and writes O_DIRECT would refuse: a buffer, length or offset
 * off the alignment the file system reports (statx STATX_DIOALIGN; a block
 * device's logical block size; else 4096). Otherwise buffered_fd is unused.
 */
int blk_backend_raw_init(struct blk_backend *be, int fd, int buffered_fd)
	__attribute__((warn_unused_result));

/*
 * The worker-pool backend: the raw backend's operations run by nthreads
 * (1..64) threads, so requests overlap and complete out of order. The
 * caller polls be->notify_fd (an eventfd made here) and calls ops->reap
 * when it is readable. Until blk_backend_pool_start, the caller's thread
 * runs each request inside submit (done still comes from reap). Returns 0
 * or -errno.
 */
int blk_backend_pool_init(struct blk_backend *be, int fd, int buffered_fd, unsigned nthreads)
	__attribute__((warn_unused_result));

/*
 * Start the pool's threads; returns once each is running, so that each has
 * made its start-up system calls (a caller about to install a seccomp
 * filter relies on that). Their only system calls from then on: the raw
 * backend's, futex and write on notify_fd, and exit when destroyed.
 * Returns 0 or -errno (threads that did start keep serving).
 */
int blk_backend_pool_start(struct blk_backend *be) __attribute__((warn_unused_result));

/*
 * The Linux native AIO backend: reads, writes and flushes go to the kernel
 * with io_submit, one call per batch (submit holds them until unplug), and
 * complete in any order, collected from the AIO ring in user memory where
 * its layout is the known one (else with io_getevents); the caller polls
 * be->notify_fd (an eventfd the kernel signals, made here) and calls
 * ops->reap. With O_DIRECT they run asynchronously; through the page cache
 * the kernel does them inside io_submit. DISCARD and WRITE_ZEROES run
 * inside submit (fallocate). No threads. Returns 0 or -errno.
 */
int blk_backend_aio_init(struct blk_backend *be, int fd, int buffered_fd)
	__attribute__((warn_unused_result));

#endif
