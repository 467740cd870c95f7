/*
 * virtio-blk (devices/virtio_blk*.c, blk_backend.c, blk_pool.c, blk_aio.c):
 * I/O on the image fds (fds[0], and fds[1] beside an O_DIRECT fds[0]) at
 * explicit offsets, by the device's I/O threads; the image's size and alignment were
 * read in create(), before the sandbox, and the threads were started before
 * this filter (it covers them too). Nothing grows the image: RLIMIT_FSIZE
 * is its size (dev->file_size_max), which stops a pwrite past its end and
 * an allocating fallocate past it; the only fallocate modes allowed are
 * those the kernel holds to that limit (no KEEP_SIZE) and punching holes,
 * which allocates nothing.
 */
#include <fcntl.h>
#include <linux/falloc.h>
#include <linux/futex.h>
#include <signal.h>
#include <sys/mman.h>

#include "sandbox.h"

static const struct sandbox_rule vblk_rules[] = {
	SB_ANY("pread64", "READ of one contiguous buffer"),
	SB_ANY("preadv", "READ scattered over the request's guest buffers"),
	SB_ANY("pwrite64", "WRITE of one contiguous buffer"),
	SB_ANY("pwritev", "WRITE gathered from the request's guest buffers"),
	SB_ANY("fdatasync", "FLUSH"),
	SB_IF("fallocate", "WRITE_ZEROES: zero a range (held to RLIMIT_FSIZE)", 1,
	      SB_EQ(1, FALLOC_FL_ZERO_RANGE, "mode == ZERO_RANGE")),
	SB_IF("fallocate", "DISCARD and WRITE_ZEROES fallback: punch a hole, size kept", 1,
	      SB_EQ(1, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, "mode == PUNCH_HOLE|KEEP_SIZE")),
	SB_IF("fallocate", "WRITE_ZEROES fallback: allocate the punched range again (held to RLIMIT_FSIZE)", 1,
	      SB_EQ(1, 0, "mode == 0")),
	SB_ANY("io_submit", "aio=native: start reads, writes and flushes"),
	SB_ANY("io_getevents", "aio=native: collect what finished"),
	SB_ANY("io_destroy", "aio=native: the device is being destroyed"),
	SB_IF("futex", "I/O threads: sleep on the request queue's lock or condition", 1,
	      SB_MASKED(1, (uint32_t)FUTEX_CMD_MASK, FUTEX_WAIT, "op == WAIT (any flags)")),
	SB_IF("futex", "I/O threads: sleep on a condition, or the device joins them", 1,
	      SB_MASKED(1, (uint32_t)FUTEX_CMD_MASK, FUTEX_WAIT_BITSET, "op == WAIT_BITSET (any flags)")),
	SB_IF("futex", "I/O threads: wake a sleeper on the lock or a condition", 1,
	      SB_MASKED(1, (uint32_t)FUTEX_CMD_MASK, FUTEX_WAKE, "op == WAKE (any flags)")),
	SB_IF("rt_sigprocmask", "an ending I/O thread blocks its signals (glibc)", 1,
	      SB_EQ(0, SIG_BLOCK, "how == SIG_BLOCK")),
	SB_ANY("exit", "an I/O thread ends (the device is being destroyed)"),
	SB_IF("madvise", "an ending I/O thread gives its stack back", 1,
	      SB_EQ(2, MADV_DONTNEED, "advice == DONTNEED")),
};

const struct sandbox_profile sandbox_profile_virtio_blk = {
	.klass = "virtio-blk",
	.rules = vblk_rules,
	.nrules = sizeof(vblk_rules) / sizeof(vblk_rules[0]),
	.writes_files = true,
	.mem_headroom_mib = 16,
};
