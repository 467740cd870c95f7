/*
 * What a device model, the monitor that places it and the control channel
 * that sets it up agree on, in plain C: how much one device may have, the
 * spec one instance is created from, and the events it can post. devices/
 * and ipc/ both build on this; neither includes the other, and only ipc/
 * knows the wire form (DeviceSpec in ipc/device.proto: control_spec_to_wire,
 * control_spec_from_wire). struct trap, the access itself, is in trap.h.
 */
#ifndef VMM_COMMON_DEVICE_ABI_H
#define VMM_COMMON_DEVICE_ABI_H

#include <stdbool.h>
#include <stdint.h>

#define DEVICE_MAX_REGIONS 4	/* trapped regions (a virtio-pci BAR0 has four) */
#define DEVICE_MAX_QUEUES 9	/* virtqueues, each with its doorbell (virtio-net: 4 pairs + control) */
#define DEVICE_MAX_VECTORS (DEVICE_MAX_QUEUES + 1)	/* MSI-X: config + one per queue */
#define DEVICE_MAX_IRQS (DEVICE_MAX_VECTORS + 1)	/* lines: every vector, then INTx */
#define DEVICE_MAX_FDS 4	/* backend fds (disk image, console input/output, tap queues) */
#define DEVICE_MAX_PARAMS 8	/* "key=value" parameters */

/* One trapped region of a device instance. */
struct device_region {
	uint8_t bus;		/* enum trap_bus */
	uint64_t addr;
	uint64_t size;
	bool sync;		/* writes wait for the device (they can stop the VM) */
};

/*
 * One device instance as the monitor places it: its class, where its
 * regions are, the GSIs of its lines, its parameters. The strings are
 * borrowed (they outlive the device's create).
 */
struct device_spec {
	const char *klass;
	unsigned instance;
	unsigned nregions;
	struct device_region regions[DEVICE_MAX_REGIONS];
	unsigned nirqs;
	uint32_t irqs[DEVICE_MAX_IRQS];	/* GSIs */
	unsigned nparams;
	const char *params[DEVICE_MAX_PARAMS];	/* "key=value" for the class */
	uint64_t mem_size;		/* bytes of guest RAM; 0: not given */
};

/* Events a device posts to the monitor. */
enum device_event {
	DEV_EVENT_RESET = 1,	/* reset the machine (i8042 0xFE, ...) */
	DEV_EVENT_POWEROFF,	/* power the machine off (ACPI S5, ...) */
	DEV_EVENT_NEEDS_RESET,	/* the device saw bad guest input and stopped */
};

/* Something from outside the guest for a device (the user, through vmm-ctl). */
enum device_input {
	DEV_INPUT_POWER_BUTTON = 1,	/* press the power button (ACPI PM) */
	DEV_INPUT_MAX = DEV_INPUT_POWER_BUTTON,
};

#endif
