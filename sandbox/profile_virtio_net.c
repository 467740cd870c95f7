/*
 * virtio-net (devices/virtio_net.c): frames from the tap (fds[0], opened and
 * attached by the monitor) with read(2) (in the base), to it with writev(2),
 * and the one ioctl that sets the tap's offloads to what the driver
 * accepted. No socket, no open: the device reaches no network but its tap.
 * It writes no file: RLIMIT_FSIZE 0.
 */
#include <linux/if_tun.h>
#include <sys/ioctl.h>

#include "sandbox.h"

static const struct sandbox_rule vnet_rules[] = {
	SB_ANY("writev", "one transmitted frame (vnet header + frame) to the tap"),
	SB_IF("ioctl", "TUNSETOFFLOAD alone: the tap's offloads follow the features the "
		"driver accepted, known only once it runs; any other request is killed", 1,
		SB_EQ(1, TUNSETOFFLOAD, "request TUNSETOFFLOAD")),
};

const struct sandbox_profile sandbox_profile_virtio_net = {
	.klass = "virtio-net",
	.rules = vnet_rules,
	.nrules = sizeof(vnet_rules) / sizeof(vnet_rules[0]),
	.mem_headroom_mib = 8,
};
