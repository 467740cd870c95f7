/*
 * The machine's fixed devices: which device classes sit where on the trap
 * bus and which interrupt lines they drive. One table, read by whichever
 * host runs the devices.
 */
#ifndef VMM_MONITOR_MACHINE_H
#define VMM_MONITOR_MACHINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "device.pb-c.h"

#define MACHINE_MAX_REGIONS 4
#define MACHINE_MAX_IRQS 4
#define MACHINE_MAX_DEVS 16

struct machine_region {
	uint8_t bus;		/* enum trap_bus */
	uint64_t addr;
	uint64_t size;
	bool sync;		/* writes wait for the device (they can stop the VM) */
};

struct machine_dev {
	const char *klass;	/* device class, see devices/device.c */
	unsigned instance;
	unsigned nregions;
	struct machine_region regions[MACHINE_MAX_REGIONS];
	unsigned nirqs;
	uint32_t irqs[MACHINE_MAX_IRQS];	/* GSIs */
	unsigned console;	/* 1: gets the console's input and output fds */
};

/* A DeviceSpec for one machine device and the storage it points into. */
struct machine_spec {
	DeviceSpec spec;
	Region regions[MACHINE_MAX_REGIONS];
	Region *region_ptrs[MACHINE_MAX_REGIONS];
	uint32_t irqs[MACHINE_MAX_IRQS];
};

/*
 * Fill *out (which must not move afterwards: spec points into it) with the
 * spec of md for a guest with mem_size bytes of RAM.
 */
void machine_spec_build(const struct machine_dev *md, uint64_t mem_size,
			struct machine_spec *out);

/*
 * The device's id for logs, ps and reports: class then instance
 * ("serial0"), with a dash when the class ends in a digit ("i8042-0").
 */
void machine_dev_id(const struct machine_dev *md, char *buf, size_t len);

/* The x86 machine's legacy devices; *n receives the count. */
const struct machine_dev *machine_x86_devices(unsigned *n);

#endif
