/*
 * The machine's devices as the monitor sees them, wherever their models
 * run. struct vm holds one list of struct vdev; each is served by the VM's
 * one device host, chosen once at start (--devices):
 *   vdev_host_inproc   models in the monitor, called from vCPU threads
 *                      under a per-device mutex (host_inproc.c)
 *   vdev_host_process  one sandboxed vmm-devproc per device, traps
 *                      forwarded over a shared-memory ring
 *                      (host_process*.c)
 * Everything here - creating the PCI side, putting regions on the trap bus,
 * polling, stopping - is the same for both; the rest of the monitor never
 * asks where a device runs.
 */
#ifndef VMM_MONITOR_VDEV_H
#define VMM_MONITOR_VDEV_H

#include <poll.h>
#include <stdatomic.h>
#include <stdint.h>

#include "device.h"
#include "machine.h"
#include "ring.h"
#include "trapbus.h"
#include "vpci.h"

struct vm;
struct vpci;
struct vdev_host;

/* The most fds one device has polled: backend fds, queue doorbells, INTx resample, wake. */
#define VDEV_MAX_POLL (DEVICE_MAX_FDS + DEVICE_MAX_QUEUES + 2)

/* What the command line says about devices, for every host. */
struct vdev_cfg {
	uint64_t vcpu_spin_ns;		/* process: a vCPU spins this long for an answer */
	uint64_t dev_spin_ns;		/* process: a device spins this long for a request */
	uint64_t timeout_ns;		/* process: an access unanswered this long = failed */
	const char *vm_name;		/* process: shown in ps(1) */
	unsigned sandbox;		/* process: enum sandbox_mode */
	struct spawner *spawner;	/* process: starts vmm-devproc (spawner.h) */
	int wake_fd;			/* inproc: written when a vCPU changed a poll mask */
	unsigned restart_max;		/* process: replacements per device per minute (0: none) */
	bool restart_violations;	/* process: replace one its sandbox stopped, too */
};

/* A device as vmm-ctl shows it (vdev_describe). */
struct vdev_info {
	int pid;		/* its process, or -1 */
	bool failed;		/* reported dead or broken */
	const char *sandbox;	/* "strict", "log", "off", "in the monitor" */
	unsigned restarts;	/* processes started after the first */
};

/* One machine device. */
struct vdev {
	struct vm *vm;
	const struct vdev_host *host;
	char id[32];			/* "serial0" */
	const struct device_class *cls;	/* its class; cls->name is "serial" */
	struct machine_spec spec;
	struct vpci *pci;		/* a virtio-pci function: its PCI side, else NULL */
	unsigned nregistered;		/* regions on the trap bus */
	_Atomic uint64_t traps[DEVICE_MAX_REGIONS];	/* accesses served, per region (-v) */
	_Atomic uint64_t shadowed[DEVICE_MAX_REGIONS];	/* of those, reads from its shadow */
	_Atomic uint64_t lat[DEVICE_MAX_REGIONS][TRAP_LAT_BUCKETS];	/* how long each took (vmm-ctl) */
	void *impl;			/* the host's own state for it */
};

/*
 * A device host. vdevs_start calls create for each device (its common
 * fields and its PCI side set up), then ready once; the trap bus calls
 * trap with the struct vdev as opaque; the control loop polls what pollfds
 * lists and hands what fired to handle; vdevs_stop calls stop once, then
 * release for each device.
 */
struct vdev_host {
	const char *name;		/* the --devices value */
	/* Bring up d's model. Returns 0 or -errno, logged. */
	int (*create)(struct vdev *d, const struct machine_dev *md, const struct vdev_cfg *cfg)
		__attribute__((warn_unused_result));
	trap_fn trap;
	/* Every device created: wait (bounded) until all can serve. May be NULL. */
	int (*ready)(struct vm *vm) __attribute__((warn_unused_result));
	/*
	 * The fds d wants polled, at most max (VDEV_MAX_POLL), each with a code (< 0x10000)
	 * that handle gets back. Returns how many.
	 */
	unsigned (*pollfds)(struct vdev *d, struct pollfd *pfds, uint16_t *codes, unsigned max);
	void (*handle)(struct vdev *d, uint16_t code, short revents);
	/*
	 * The VM is stopping: end every vCPU's wait for an answer now (reads
	 * get all-ones; nothing is reported). Before the vCPUs are stopped.
	 * May be NULL (a host whose traps never wait).
	 */
	void (*quiesce)(struct vm *vm);
	/* Stop every model of vm within timeout_ms (vCPUs stopped). May be NULL. */
	void (*stop)(struct vm *vm, unsigned timeout_ms);
	/* Free d->impl and what it holds; d's regions are already off the bus. */
	void (*release)(struct vdev *d);
	/* Give d an outside event (control loop). 0 or -errno. */
	int (*input)(struct vdev *d, enum device_input in);
	/* What vmm-ctl shows of d (control loop). May be NULL: in the monitor, running. */
	void (*describe)(const struct vdev *d, struct vdev_info *info);
	/*
	 * Time-driven work for d (control loop), at now (ns): returns in how
	 * many ms it wants to be called again, -1 for never. May be NULL.
	 */
	int (*tick)(struct vdev *d, uint64_t now);
	/*
	 * Replace d's model with one resumed from its saved state, as if it
	 * had died (vmm-ctl restart-device; control loop). 0, or -errno:
	 * -EOPNOTSUPP when its class cannot resume or restarts are off.
	 */
	int (*restart)(struct vdev *d);
};

extern const struct vdev_host vdev_host_inproc;
extern const struct vdev_host vdev_host_process;

/*
 * Create every device of m on host, put its regions on vm->bus, and wait
 * until all are ready. Returns 0 or -errno (logged); on error none is left.
 */
int vdevs_start(struct vm *vm, const struct vdev_host *host, const struct machine *m,
		const struct vdev_cfg *cfg) __attribute__((warn_unused_result));

/*
 * Give `in` to every device whose class takes outside inputs (ops->input):
 * 0 if one took it, -ENODEV if none does, else the first host's -errno.
 */
int vdevs_input(struct vm *vm, enum device_input in);

/* What d's host says of it (struct vdev_info). */
void vdev_describe(const struct vdev *d, struct vdev_info *info);

/*
 * Stop every device (at most timeout_ms for their models to go), log
 * their trap counts, take their regions off the bus and free them.
 */
void vdevs_stop(struct vm *vm, unsigned timeout_ms);

/* The VM is stopping: no vCPU waits on a device any more (see quiesce). */
void vdevs_quiesce(struct vm *vm);

/*
 * A vCPU would not stop: end the models (device processes are killed)
 * but free nothing that a vCPU stuck in a trap may still use.
 */
void vdevs_abandon(struct vm *vm);

/*
 * Fill pfds[] (room for max) with every device's fds to poll; tags[i]
 * says whose each is. Returns how many.
 */
unsigned vdevs_pollfds(struct vm *vm, struct pollfd *pfds, uint32_t *tags, unsigned max);

/* Hand a polled fd that fired (its tag from vdevs_pollfds) to its device. */
void vdevs_handle(struct vm *vm, uint32_t tag, short revents);

/* Every device's tick: the ms until the next one is due (-1: none). */
int vdevs_tick(struct vm *vm);

/*
 * What the monitor does with an event d posted: reset and poweroff stop
 * the VM with status 0. Returns 0, or -EPERM for an event d's class does
 * not post (the host decides what that costs the device; nothing happens).
 */
int vdev_event(struct vdev *d, enum device_event ev) __attribute__((warn_unused_result));

/*
 * Both hosts' first step for an access to d (vCPU threads): answer a read
 * from d's shadowed registers sh if ring_shadow_read allows it (rings: the
 * device process's rings, NULL in the monitor), counting it per region.
 * True if t is answered.
 */
bool vdev_shadow_read(struct vdev *d, struct ring_shadow *sh, struct ring_header *rings,
		      struct trap *t);

#endif
