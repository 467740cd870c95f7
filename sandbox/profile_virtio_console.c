/*
 * virtio-console (devices/virtio_console.c): readv(2) from fds[0] into the
 * guest's receive buffers, writev(2) of transmitted buffers to fds[1]. Its
 * output is usually a regular file (--console out=FILE), so RLIMIT_FSIZE
 * stays as inherited.
 */
#include "sandbox.h"

static const struct sandbox_rule vcon_rules[] = {
	SB_ANY("readv", "input (fds[0]) straight into the guest's receive buffers"),
	SB_ANY("writev", "the guest's transmit buffers to the output (fds[1])"),
};

const struct sandbox_profile sandbox_profile_virtio_console = {
	.klass = "virtio-console",
	.rules = vcon_rules,
	.nrules = sizeof(vcon_rules) / sizeof(vcon_rules[0]),
	.writes_files = true,
	.mem_headroom_mib = 8,
};
