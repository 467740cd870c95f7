/*
 * The device-process host (--devices process), inside the monitor: what
 * its three files share.
 *   host_process.c        the vCPU's path: an access forwarded over the
 *                         device's ring, deadlines, the host's ops
 *   host_process_spawn.c  fork+exec of vmm-devproc, the ring, irqfds and
 *                         doorbells handed to it, its Setup
 *   host_process_watch.c  supervision: its pidfd and control socket,
 *                         READY, reports of its end, shutdown
 * A device process that dies, stops answering or misbehaves is reported
 * with its class, instance, pid and cause, its waiting vCPUs get
 * all-ones, and the VM stops with a failure status.
 */
#ifndef VMM_MONITOR_HOST_PROCESS_H
#define VMM_MONITOR_HOST_PROCESS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <sys/types.h>

#include "log.h"
#include "ring.h"
#include "vdev.h"

struct process_dev {
	struct vdev *vdev;
	pid_t pid;
	int pidfd;
	int sock;			/* control socket */
	int doorbell_fd;
	int ring_fd;
	int irq_fds[DEVICE_MAX_IRQS];	/* not a PCI function: its irqfds */
	struct ring_header *ring;
	size_t ring_size;
	struct ring_shadow *shadow;	/* its registers' shadow, in the ring memory */
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
	struct log_budget log_budget;	/* its Log messages (process_log) */
};

#define PROCESS_LOG_PER_SEC 50	/* a device's log lines the user sees per second */

/* host_process_spawn.c: make its ring and fds, start it, send its Setup. Logged. */
int process_spawn(struct process_dev *d, const struct machine_dev *md,
		  const struct vdev_cfg *cfg) __attribute__((warn_unused_result));

/* host_process_spawn.c: close and unmap what process_spawn made. */
void process_release(struct process_dev *d);

/* "device serial0 (class serial, pid 42) <why>": how the monitor names a device's end. */
void process_describe(const struct process_dev *d, const char *why, char *msg, size_t len);

/*
 * host_process_watch.c: the device is unusable: report it once (why says
 * the cause), release every vCPU waiting on it, kill it, stop the VM as
 * failed. Safe from vCPU threads.
 */
void process_fail(struct process_dev *d, const char *why);

/* host_process_watch.c: say that n of its log lines were dropped (n 0: nothing). */
void process_log_dropped(const struct process_dev *d, unsigned n);

/* host_process_watch.c: SIGKILL it if it still runs. */
void process_kill(struct process_dev *d);

/* host_process_watch.c: the host's ready, pollfds, handle and stop ops. */
int process_wait_ready(struct vm *vm);
unsigned process_pollfds(struct vdev *v, struct pollfd *pfds, uint16_t *codes, unsigned max);
void process_handle(struct vdev *v, uint16_t code, short revents);
void process_stop_all(struct vm *vm, unsigned timeout_ms);

#endif
