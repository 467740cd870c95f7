/*
 * Devices in their own processes (--devices process): the monitor side.
 * For each machine device it starts a vmm-devproc (fork+exec), hands it its
 * setup and fds, forwards the device's trapped accesses over its ring, and
 * supervises it through a pidfd and its control socket. A device process
 * that dies, stops answering or misbehaves is reported with its class,
 * instance, pid and cause, its waiting vCPUs get all-ones, and the VM
 * stops with a failure status.
 */
#ifndef VMM_MONITOR_PROCDEV_H
#define VMM_MONITOR_PROCDEV_H

#include <poll.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <sys/types.h>

#include "machine.h"
#include "ring.h"

struct vm;
struct vpci;

struct procdev_cfg {
	uint64_t vcpu_spin_ns;		/* vCPU spins this long for a completion */
	uint64_t dev_spin_ns;		/* device spins this long for the next request */
	uint64_t timeout_ns;		/* a read unanswered this long = device failed */
	const char *vm_name;		/* shown in ps(1) */
	unsigned sandbox;		/* enum sandbox_mode: sent in Setup */
};

struct proc_dev {
	struct vm *vm;
	struct machine_spec spec;
	const char *klass;
	char id[32];			/* "serial0" */
	pid_t pid;
	int pidfd;
	int sock;			/* control socket */
	int doorbell_fd;
	int ring_fd;
	int irq_fds[MACHINE_MAX_IRQS];
	struct ring_header *ring;
	size_t ring_size;
	struct ring_producer *prod;	/* one per vCPU */
	struct ring_wait_cfg wait;
	_Atomic bool dead;		/* vCPUs stop waiting on it */
	_Atomic bool reported;		/* its failure was reported once */
	_Atomic bool slow_reported;	/* the host kept it from running: said once */
	bool ready;			/* said READY */
	bool exited;			/* reaped */
	bool shutting_down;		/* we asked it to exit: no report */
	unsigned sandbox;		/* enum sandbox_mode it was started with */
	char violation[96];		/* strict: the syscall it was stopped for */
	unsigned nregistered;		/* regions on the trap bus */
	struct vpci *pci;		/* a virtio-pci function: its PCI side */
	_Atomic uint64_t traps[MACHINE_MAX_REGIONS];	/* per region, for -v */
};

/*
 * Start one device process per device of m, all in parallel, send each its
 * Setup (with its backend fds from m), and wait (bounded) until every one
 * said READY. Returns 0 or -errno (logged); on error every process it
 * started is gone.
 */
int procdev_start_all(struct vm *vm, const struct machine *m, const struct procdev_cfg *cfg)
	__attribute__((warn_unused_result));

/*
 * Shut every device process down: Shutdown message, then SIGKILL for any
 * that has not exited within timeout_ms; all are reaped. vCPUs must have
 * stopped.
 */
void procdev_stop_all(struct vm *vm, unsigned timeout_ms);

/* Fill pfds with every device's pidfd and control socket (tags[] say which). */
unsigned procdev_pollfds(struct vm *vm, struct pollfd *pfds, uint32_t *tags, unsigned max);

/* Handle a pollfd entry that fired: a death, a message, a broken socket. */
void procdev_handle(struct vm *vm, uint32_t tag, short revents);

#endif
