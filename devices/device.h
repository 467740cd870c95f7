/*
 * The one interface between a device model and whatever hosts it: the
 * monitor (--devices inproc), a vmm-devproc process, a unit test's fake
 * host or a fuzzer. Device code never touches KVM, never opens files and
 * never exits: it gets what it needs through struct device_host.
 */
#ifndef VMM_DEVICES_DEVICE_H
#define VMM_DEVICES_DEVICE_H

#include <stdbool.h>
#include <stdint.h>

#include "device_abi.h"
#include "trap.h"

struct device;

/*
 * A device's saved state as it is written (save) or read back (load): a
 * cursor over buf. A put past cap or a get past len sets err (-ENOSPC,
 * -EINVAL) and does nothing more (a get zero-fills); check err at the end.
 */
struct dev_state {
	uint8_t *buf;
	size_t cap;		/* save: room in buf; load: bytes in buf */
	size_t pos;
	int err;
};

void dev_state_put(struct dev_state *s, const void *p, size_t n);
void dev_state_get(struct dev_state *s, void *p, size_t n);

_Static_assert(TRAP_SHADOW_REGIONS <= DEVICE_MAX_REGIONS, "a shadowed region is a device region");


/*
 * What the host provides. Every callback may be called from the thread that
 * runs the device's trap/notify/backend ops, and only from there; the host
 * serialises all calls into one device.
 */
struct device_host {
	/*
	 * Bounded guest-memory access: a host pointer to guest physical
	 * [gpa, gpa + len) if that whole range is guest RAM, else NULL.
	 */
	void *(*mem_ptr)(struct device_host *h, uint64_t gpa, uint64_t len);
	/*
	 * Drive the device's interrupt line `line` (an index into
	 * spec->irqs, not a GSI) to `level` (1 asserted, 0 deasserted).
	 * Returns 0 or -errno (-EINVAL for a line the device does not own).
	 */
	int (*irq_set)(struct device_host *h, unsigned line, int level);
	/* Post an event to the monitor. Returns 0 or -errno. */
	int (*event)(struct device_host *h, enum device_event ev);
	/* One finished log line (no newline) at enum log_level lvl. */
	void (*log)(struct device_host *h, int lvl, const char *id, const char *msg);
	void *opaque;		/* the host's own state */
};

/* One region of a fixed device as its class needs it; the machine places it. */
struct device_region_need {
	const char *name;	/* "data", "PM1a_CNT": for errors and -v counts */
	uint32_t size;		/* addresses: bytes (MMIO) or ports (PIO), whichever bus it is placed on */
	bool sync;		/* its writes wait for the device: they can stop the machine */
};

/*
 * What the monitor needs to know about a virtio-pci class: PCI ids, class
 * code, how many doorbells to register and how big an MSI-X table to give.
 */
struct virtio_pci_ident {
	uint16_t virtio_id;	/* VIRTIO_ID_*; PCI device id via VIRTIO_PCI_DEVICE_ID */
	uint32_t pci_class;	/* 24-bit class code */
	uint16_t nqueues;	/* doorbells 0 .. nqueues-1 */
	uint16_t nvectors;	/* MSI-X table entries: config + one per queue */
};

#define DEVICE_EVENT_BIT(ev) (1u << (ev))

/*
 * A device class, described once, in its model's own file: what the
 * machine (regions and lines of a fixed device), the virtio-pci transport
 * and the monitor's PCI side (ident), both hosts (ops, the events it may
 * post, whether it may touch guest RAM) and the sandbox (the profile of the
 * same name, sandbox/profile_*.c) need to know about it.
 */
struct device_class {
	const char *name;		/* "serial", "virtio-blk" */
	const struct device_ops *ops;
	const struct virtio_pci_ident *virtio;	/* a virtio-pci function; NULL: fixed */
	unsigned nregions;		/* fixed: its regions, in spec order */
	struct device_region_need regions[DEVICE_MAX_REGIONS];
	unsigned irqs_min, irqs_max;	/* fixed: how many interrupt lines it takes */
	uint32_t events;		/* DEVICE_EVENT_BIT of each event it may post */
	bool guest_ram;			/* reads or writes guest RAM (host->mem_ptr) */
};

/* One device instance. The host allocates and owns it. */
struct device {
	const struct device_class *cls;
	const struct device_ops *ops;	/* cls->ops */
	struct device_host *host;
	char id[32];		/* "serial0": log prefix, process name */
	void *priv;		/* the model's state, owned by the model */
	/*
	 * Backend fds the host handed over (class-specific meaning, see each
	 * device file); -1 where absent. The device does not close them.
	 */
	int fds[DEVICE_MAX_FDS];
	unsigned nfds;
	/*
	 * Bit i set: the host calls ops->backend(dev, i) when fds[i] is
	 * readable. The device may change it in any op; the host re-reads it
	 * after every call into the device.
	 */
	uint32_t poll_mask;
	/*
	 * A device whose work completes later (ops->wake set): the eventfd its
	 * worker threads or the kernel signal, made and owned by the device in
	 * create. The host keeps it open and calls ops->wake while it is readable.
	 */
	int wake_fd;
	unsigned threads;	/* how many ops->start starts (set in create) */
	/*
	 * A device that writes files (fds[]): no write or allocation it makes
	 * ever needs to reach this size or beyond (set in create; 0: no bound,
	 * e.g. an output that grows). The sandbox makes it RLIMIT_FSIZE.
	 */
	uint64_t file_size_max;
	bool needs_reset;	/* the device stopped on bad guest input */
};

struct device_ops {
	/*
	 * Build the model from spec (its regions and lines already checked
	 * against the class by device_create; the rest - params, a virtio
	 * function's geometry - is checked here), setting dev->priv. Returns 0 or -errno; on error nothing is left
	 * allocated.
	 */
	int (*create)(struct device *dev, const struct device_spec *spec)
		__attribute__((warn_unused_result));
	/*
	 * Serve one access (PIO or MMIO alike). Reads fill t->data with
	 * t->len bytes. Returns 0, or -errno if the access is not the
	 * device's (the bus then answers as for an unclaimed access).
	 */
	int (*trap)(struct device *dev, struct trap *t);
	/* Queue `queue` was notified (ioeventfd fired). May be NULL. */
	void (*notify)(struct device *dev, unsigned queue);
	/* fds[index] is readable (see poll_mask). May be NULL. */
	void (*backend)(struct device *dev, unsigned index);
	/*
	 * Start the device's worker threads. The host calls it once, after
	 * create and before the first trap, where threads inherit every
	 * confinement of the host but its syscall filter (vmm-devproc: after
	 * the sandbox's capability step, before its seccomp step, whose filter
	 * then covers every thread). Until then the device works without them.
	 * Returns 0 or -errno. May be NULL (no threads).
	 */
	int (*start)(struct device *dev) __attribute__((warn_unused_result));
	/* dev->wake_fd is readable: take the finished work's results. May be NULL. */
	void (*wake)(struct device *dev);
	/*
	 * The registers a read of which changes nothing, with their current
	 * values (common/trap.h): trap_shadow_put each into s, which the host
	 * zeroed. Leave out a register whose read has an effect or depends on
	 * the moment (a clock) - in the state the device is in now: the
	 * 8250's LSR only while no error bit is set. The host calls it after
	 * anything it called changed the device, and answers reads from the
	 * image until the next change, in its own thread: it must change
	 * nothing and be cheap. May be NULL (every read goes to trap).
	 */
	void (*shadow)(struct device *dev, struct trap_shadow *s);
	/*
	 * An outside event (enum device_input): the ACPI power button. The
	 * host refreshes the shadow after it, as after a trap. May be NULL
	 * (the class has no such input: ignored).
	 */
	void (*input)(struct device *dev, enum device_input in);
	/*
	 * Write what the device needs to resume where it is now - registers,
	 * queue positions, nothing the host re-creates (fds, threads, guest
	 * RAM) - with dev_state_put. The host calls it after every batch of
	 * calls into the device that may have changed it (a process host
	 * commits it to the state region, ipc/state.h), so it must be cheap,
	 * change nothing and not depend on the host. May be NULL together with
	 * load: the class cannot resume (its process is not replaced).
	 */
	void (*save)(struct device *dev, struct dev_state *s);
	/*
	 * Replace the state of a freshly created device (same spec, same fds,
	 * not started) with what save wrote, read back with dev_state_get.
	 * The bytes are untrusted: check every field as guest input and
	 * return -EINVAL if anything does not fit (the host then resets the
	 * device, see device_load). Work that was in flight when the state was
	 * saved is started again by the host's first notify of each queue.
	 */
	int (*load)(struct device *dev, struct dev_state *s)
		__attribute__((warn_unused_result));
	/* Back to power-on state. */
	void (*reset)(struct device *dev);
	/* Free dev->priv. */
	void (*destroy)(struct device *dev);
};

/*
 * The registry: every device class, in the order of device_classes in
 * devices/meson.build, which makes this table (device_registry.c).
 */
extern const struct device_class *const device_classes[];
extern const unsigned device_class_count;

/* Class `name` from the registry, or NULL if there is none. */
const struct device_class *device_class_find(const char *name);

/*
 * Every host creates a device through here: set dev->cls and dev->ops,
 * check spec against the class (a fixed class: its regions' count, buses
 * and sizes and its line count; a virtio class's geometry is the
 * transport's to check), then cls->ops->create. Returns 0 or -errno,
 * having logged through dev's host why a spec does not fit.
 */
int device_create(struct device *dev, const struct device_class *cls,
		  const struct device_spec *spec)
	__attribute__((warn_unused_result));

/*
 * Log through the device's host with the device id as prefix. dev_warn is
 * for guest-triggered problems: callers rate-limit (see dev_warn_once).
 */
void dev_log(struct device *dev, int lvl, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
#define dev_err(dev, ...)   dev_log(dev, 0, __VA_ARGS__)
#define dev_warn(dev, ...)  dev_log(dev, 1, __VA_ARGS__)
#define dev_info(dev, ...)  dev_log(dev, 2, __VA_ARGS__)
#define dev_debug(dev, ...) dev_log(dev, 3, __VA_ARGS__)

/* dev_warn at most once per call site for the process's lifetime. */
#define dev_warn_once(dev, ...) do {					\
		static _Bool warned_;					\
		if (!warned_) { warned_ = 1; dev_warn(dev, __VA_ARGS__); } \
	} while (0)

/* Put the device in NEEDS_RESET (bad guest input): log once, post event. */
void dev_set_needs_reset(struct device *dev, const char *why);

/*
 * Every host makes a device's shadow through here: s zeroed, then filled by
 * ops->shadow if the class has one (else it stays empty: no read answered).
 */
void device_shadow(struct device *dev, struct trap_shadow *s);

/*
 * Every host saves and restores a device through these. device_save writes
 * a header (class, format version) and ops->save's bytes into buf: returns
 * the length, -EOPNOTSUPP for a class that cannot resume, -ENOSPC.
 * device_load checks the header and hands the rest to ops->load; if
 * anything fails validation the device goes back to its power-on state
 * (ops->reset) and a virtio device to NEEDS_RESET, logged, and it returns
 * -EINVAL: the device runs on either way.
 */
int device_save(struct device *dev, void *buf, size_t cap);
int device_load(struct device *dev, const void *buf, size_t len);

/* Whether the class can resume from saved state (ops->save and ops->load). */
bool device_class_resumes(const struct device_class *cls);

/* Look up "key=value" in spec->params; returns the value or NULL. */
const char *dev_param(const struct device_spec *spec, const char *key);

#endif
