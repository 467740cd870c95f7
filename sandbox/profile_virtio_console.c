/*
 * virtio-console (devices/virtio_console.c): read(2) on fds[0] and write(2)
 * on fds[1], both in the base. Its output is usually a regular file
 * (--console out=FILE), so RLIMIT_FSIZE stays as inherited.
 */
#include "sandbox.h"

const struct sandbox_profile sandbox_profile_virtio_console = {
	.klass = "virtio-console",
	.writes_files = true,
};
