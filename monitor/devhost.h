/*
 * The in-monitor device host (--devices inproc): device models run in the
 * monitor's own address space, called from vCPU threads for traps and from
 * the control loop for backend fds, one mutex per device serialising both.
 * This is the baseline that measures what the process split costs.
 */
#ifndef VMM_MONITOR_DEVHOST_H
#define VMM_MONITOR_DEVHOST_H

#include <poll.h>
#include <pthread.h>

#include "device.h"
#include "machine.h"

struct vm;
struct vpci;

struct inproc_dev {
	struct device dev;
	struct device_host host;
	struct machine_spec spec;
	pthread_mutex_t lock;
	struct vm *vm;
	int wake_fd;		/* the control loop's eventfd (borrowed) */
	struct vpci *pci;	/* a virtio-pci function: its PCI side */
	unsigned nregistered;	/* regions on the trap bus */
	bool lock_ready;
	bool intx_level;	/* the device holds INTA asserted */
	_Atomic uint64_t traps[MACHINE_MAX_REGIONS];	/* per region, for -v */
	bool created;
};

/*
 * Create every device of m in the monitor and register its regions on
 * vm->bus (virtio-pci functions through their vpci). wake_fd is written
 * when a device's poll_mask changes from a vCPU thread. Returns 0 or -errno
 * (logged); on error nothing stays created or registered.
 */
int devhost_inproc_start(struct vm *vm, const struct machine *m, int wake_fd)
	__attribute__((warn_unused_result));

/*
 * What the monitor does with an event a device posted (from either host):
 * reset and poweroff stop the VM with status 0. Returns 0 or -EINVAL for
 * an unknown event.
 */
int devhost_event(struct vm *vm, const char *id, enum device_event ev);

/* Unregister and destroy every in-monitor device. */
void devhost_inproc_stop(struct vm *vm);

/*
 * Fill pfds[] (room for max entries) with the backend fds the devices want
 * polled; tags[i] says which device and fd index each entry is. Returns the
 * number of entries filled.
 */
unsigned devhost_inproc_pollfds(struct vm *vm, struct pollfd *pfds, uint32_t *tags,
				unsigned max);

/* Call the device backend for a pollfd entry that fired (its tag). */
void devhost_inproc_backend(struct vm *vm, uint32_t tag);

#endif
