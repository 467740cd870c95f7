/*
 * What a device model, the monitor that places it and the control channel
 * that sets it up agree on, in plain C: how much one device may have, and
 * the events it can post. devices/ and ipc/ both build on this; neither
 * includes the other. (struct trap, the access itself, is trap.h.)
 */
#ifndef VMM_COMMON_DEVICE_ABI_H
#define VMM_COMMON_DEVICE_ABI_H

#define DEVICE_MAX_REGIONS 4	/* trapped regions (a virtio-pci BAR0 has four) */
#define DEVICE_MAX_QUEUES 4	/* virtqueues, each with its doorbell */
#define DEVICE_MAX_VECTORS (DEVICE_MAX_QUEUES + 1)	/* MSI-X: config + one per queue */
#define DEVICE_MAX_IRQS (DEVICE_MAX_VECTORS + 1)	/* lines: every vector, then INTx */
#define DEVICE_MAX_FDS 4	/* backend fds (disk image, console input/output) */

/* Events a device posts to the monitor. */
enum device_event {
	DEV_EVENT_RESET = 1,	/* reset the machine (i8042 0xFE, ...) */
	DEV_EVENT_POWEROFF,	/* power the machine off (ACPI S5, ...) */
	DEV_EVENT_NEEDS_RESET,	/* the device saw bad guest input and stopped */
};

#endif
