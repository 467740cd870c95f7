/* virtio-rng (devices/virtio_rng.c): entropy from the kernel, never blocking. */
#include <sys/random.h>

#include "sandbox.h"

static const struct sandbox_rule vrng_rules[] = {
	SB_IF("getrandom", "fill the guest's buffers", 1,
	      SB_EQ(2, GRND_NONBLOCK, "flags == GRND_NONBLOCK")),
};

const struct sandbox_profile sandbox_profile_virtio_rng = {
	.klass = "virtio-rng",
	.rules = vrng_rules,
	.nrules = sizeof(vrng_rules) / sizeof(vrng_rules[0]),
	.mem_headroom_mib = 8,
};
