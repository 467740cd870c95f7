/*
 * virtio-blk (devices/virtio_blk.c, devices/blk_backend.c): I/O on the
 * image fd (fds[0]) at explicit offsets; the image's size was read with
 * fstat/lseek in create(), before the sandbox. Writes go to a regular file,
 * so RLIMIT_FSIZE stays as inherited.
 */
#include <fcntl.h>
#include <linux/falloc.h>

#include "sandbox.h"

static const struct sandbox_rule vblk_rules[] = {
	SB_ANY("pread64", "READ of one contiguous buffer"),
	SB_ANY("preadv", "READ scattered over the request's guest buffers"),
	SB_ANY("pwrite64", "WRITE of one contiguous buffer"),
	SB_ANY("pwritev", "WRITE gathered from the request's guest buffers"),
	SB_ANY("fdatasync", "FLUSH"),
	SB_IF("fallocate", "WRITE_ZEROES: zero a range, size kept", 1,
	      SB_EQ(1, FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE, "mode == ZERO_RANGE|KEEP_SIZE")),
	SB_IF("fallocate", "DISCARD and WRITE_ZEROES fallback: punch a hole, size kept", 1,
	      SB_EQ(1, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, "mode == PUNCH_HOLE|KEEP_SIZE")),
	SB_IF("fallocate", "WRITE_ZEROES fallback: allocate the punched range again", 1,
	      SB_EQ(1, FALLOC_FL_KEEP_SIZE, "mode == KEEP_SIZE")),
};

const struct sandbox_profile sandbox_profile_virtio_blk = {
	.klass = "virtio-blk",
	.rules = vblk_rules,
	.nrules = sizeof(vblk_rules) / sizeof(vblk_rules[0]),
	.writes_files = true,
};
