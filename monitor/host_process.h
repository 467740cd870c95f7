/*
 * The device-process host (--devices process), inside the monitor: what
 * its three files share.
 *   host_process.c        the vCPU's path: an access forwarded over the
 *                         device's ring, deadlines, the host's ops
 *   host_process_spawn.c  fork+exec of vmm-devproc, the ring, irqfds and
 *                         doorbells handed to it, its Setup
 *   host_process_watch.c  supervision: its pidfd and control socket,
 *                         READY, reports of its end, shutdown
 * A device process that dies or stops answering is replaced (vdev_cfg's
 * restart policy, a class that can resume: device_class_resumes): a new
 * process gets the same fds and Setup with restore set, resumes from the
 * state the old one committed to the state region (ipc/state.h) and serves
 * what the rings still hold, while waiting vCPUs wait on. One that
 * misbehaves (a sandbox violation, a broken ring, a bad message), that
 * cannot be replaced, or that dies more often than the policy allows is
 * reported with its class, instance, pid and cause, its waiting vCPUs get
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

#define PROCESS_RESTART_WINDOW_NS (60 * 1000000000ull)	/* the policy's window */
#define PROCESS_RESTART_TRACK 64	/* restarts remembered (the policy's cap) */

struct process_dev {
	struct vdev *vdev;
	const struct machine_dev *md;	/* what it was made from (the machine's) */
	struct vdev_cfg cfg;		/* a copy: a replacement gets the same */
	char vm_name[32];
	_Atomic pid_t pid;
	int pidfd;
	int state_fd;			/* its state region (ipc/state.h), kept across processes */
	size_t state_size;
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
	/* Replacement (host_process_watch.c). */
	_Atomic bool restarting;	/* lost: vCPUs wait on for its replacement */
	bool replacing;			/* the control loop is starting a replacement */
	char lost_why[96];		/* why it was killed to be replaced (process_lose) */
	uint64_t lost_at;		/* when (ns), 0: not killed by us */
	unsigned restarts;		/* processes started after the first */
	uint64_t restart_at[PROCESS_RESTART_TRACK];	/* when the last ones were (ns), a ring */
	/* Liveness: a StatsRequest each timeout, answered by the device's event loop. */
	uint64_t ping_sent;		/* ns, 0: none outstanding */
	uint64_t ping_next;		/* ns: when to send the next */
	char violation[96];		/* strict: the syscall it was stopped for */
	struct log_budget log_budget;	/* its Log messages (process_log) */
};

#define PROCESS_LOG_PER_SEC 50	/* a device's log lines the user sees per second */
#define PROCESS_BUSY_MAX_NS (60 * 1000000000ull)	/* a slow host gets this long in all */

/* Reported dead, or reaped and not replaced: it takes nothing more. */
static inline bool process_gone(const struct process_dev *d)
{
	return atomic_load(&d->dead) || (d->exited && !atomic_load(&d->restarting));
}

/* host_process_spawn.c: make its ring and fds, start it, send its Setup. Logged. */
int process_spawn(struct process_dev *d, const struct machine_dev *md,
		  const struct vdev_cfg *cfg) __attribute__((warn_unused_result));

/*
 * host_process_spawn.c: start a replacement for a process that ended: a
 * new control socket and process, the same resources, Setup with restore.
 * The caller has closed the old socket and pidfd. Logged.
 */
int process_respawn(struct process_dev *d) __attribute__((warn_unused_result));

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

/*
 * host_process_watch.c: the device stopped answering (why says how) or the
 * user asked for a restart: if it may be replaced (its class resumes, the
 * policy allows restarts, the VM runs), kill it for the control loop to
 * replace and return true (the caller waits for the replacement); else
 * process_fail and return false. Safe from vCPU threads.
 */
bool process_lose(struct process_dev *d, const char *why);

/* host_process_watch.c: say that n of its log lines were dropped (n 0: nothing). */
void process_log_dropped(const struct process_dev *d, unsigned n);

/* host_process_watch.c: SIGKILL it if it still runs. */
void process_kill(struct process_dev *d);

/* host_process_watch.c: the host's ready, pollfds, handle, tick, restart and stop ops. */
int process_wait_ready(struct vm *vm);
unsigned process_pollfds(struct vdev *v, struct pollfd *pfds, uint16_t *codes, unsigned max);
void process_handle(struct vdev *v, uint16_t code, short revents);
int process_tick(struct vdev *v, uint64_t now);
int process_restart(struct vdev *v);
void process_stop_all(struct vm *vm, unsigned timeout_ms);

#endif
