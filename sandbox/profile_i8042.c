/*
 * i8042 (devices/i8042.c): registers only; its reset command is an Event
 * on the control socket (sendmsg, in the base).
 */
#include "sandbox.h"

const struct sandbox_profile sandbox_profile_i8042 = {
	.klass = "i8042",
	.mem_headroom_mib = 8,
};
