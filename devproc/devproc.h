/*
 * vmm-devproc: hosts one device instance in its own process. It receives
 * its setup over the control socket, maps guest RAM and its rings, creates
 * the device, says READY and serves it from one event loop. Nothing here is
 * device-specific.
 */
#ifndef VMM_DEVPROC_DEVPROC_H
#define VMM_DEVPROC_DEVPROC_H

#include <stdbool.h>
#include <stdint.h>

#include "control.h"
#include "device.h"
#include "gmem.h"
#include "log.h"
#include "ring.h"
#include "spin.h"
#include "state.h"

struct devproc {
	int sock;			/* control socket */
	const char *name;		/* "serial0" (from the command line) */
	const char *print_profile;	/* --print-profile CLASS */
	struct device_spec spec;	/* from Setup; borrows setup_msg's strings */
	struct gmem mem;
	struct ring_header *ring;
	size_t ring_size;
	struct ring_shadow *shadow;	/* in the ring memory, after the rings */
	struct ring_resume resume;	/* where the rings stand (ring_consume_commit) */
	struct state_region *state;	/* the device's committed state (ipc/state.h) */
	size_t state_size;
	bool restored;			/* Setup.restore: resumed from the state region */
	bool save_failed;		/* device_save failed: said once, nothing committed */
	int doorbell_fd;
	int irq_fds[DEVICE_MAX_IRQS];
	unsigned nirqs;
	int queue_fds[DEVICE_MAX_QUEUES];	/* ioeventfds: queue q's doorbell */
	unsigned nqueues;
	int intx_line;			/* level-triggered line, -1: none */
	int intx_resample_fd;		/* KVM says the guest EOId it */
	bool intx_level;		/* the device holds it asserted */
	uint64_t spin_ns;		/* the most it spins for the next request */
	struct spin_gov spin;		/* how long it spins now (spin.h) */
	int epoll_fd;
	uint32_t polled;		/* backend fds currently in the epoll set */
	uint32_t always;		/* backend fds epoll refuses (regular files) */
	struct device dev;
	struct device_host host;
	ControlMsg *setup_msg;		/* owns the spec the device was given */
	bool stop_posted;		/* a trap posted reset/poweroff */
	bool created;			/* dev.ops->create succeeded */
	bool stop;			/* Shutdown received or the monitor left */
	uint64_t traps, sleeps;		/* for Stats */
	struct log_budget log_budget;	/* Log messages it sends */
	unsigned sandbox;		/* enum sandbox_mode, from Setup */
#ifdef VMM_TEST_HOOKS
	int test_memfd;			/* test builds: guest RAM kept for an ftruncate attempt */
#endif
};

/* KVM signalled the INTx resample fd: assert again if still held. */
void devproc_intx_resample(struct devproc *dp);

/*
 * Serve one ring request (a ring_serve_fn; opaque is the struct devproc):
 * call the device's trap op, and answer RING_STATUS_STOP if it posted a
 * reset or poweroff while serving it. The event loop and the fuzz targets
 * (tests/fuzz) both go through here.
 */
int devproc_serve_trap(void *opaque, struct trap *t);

/*
 * Publish the device's shadowed registers as they are now (ring.h): the
 * event loop calls it after it served ring requests or handled fds, the
 * fuzz targets after each access.
 */
void devproc_shadow_refresh(struct devproc *dp);

/*
 * Commit the device's state and rs, where its rings stand, to the state
 * region (a ring_commit_fn; opaque is the struct devproc): the event loop
 * calls it for every served batch (through ring_consume_commit) and after
 * every other call into the device. Nothing for a class that cannot resume.
 */
void devproc_commit(void *opaque, const struct ring_resume *rs);

/* Point dp->dev.host at the devproc host callbacks (host.c). */
void devproc_host_init(struct devproc *dp);

/*
 * Receive and apply the Setup message (waiting at most timeout_ms): map
 * memory and rings, take the fds, create the device. Returns 0 or -errno;
 * on error it has logged why to stderr.
 */
int devproc_setup(struct devproc *dp, int timeout_ms) __attribute__((warn_unused_result));

/*
 * Serve the device until the monitor says Shutdown or goes away. Returns 0
 * on a clean end, -errno on a broken channel or ring.
 */
int devproc_run(struct devproc *dp) __attribute__((warn_unused_result));

/*
 * Confine the process as Setup.sandbox says (sandbox/sandbox.h), after
 * devproc_setup and before READY: strict or log apply every step with the
 * class's profile, keeping only the fds the device was given (and the epoll
 * fd, created here); off does nothing. Violations are reported to the
 * monitor on the control socket. Returns 0 or -errno, having sent the
 * monitor a Log line naming the failed step.
 */
int devproc_confine(struct devproc *dp) __attribute__((warn_unused_result));

#ifdef VMM_TEST_HOOKS
/*
 * Test builds only: if $VMM_TEST_CLASS names this device's class (or is
 * unset) and $VMM_TEST_ATTEMPT names an operation, attempt it now and
 * log what it returned, if it returns.
 */
void devproc_test_attempt(struct devproc *dp);
#endif

/* Destroy the device and release everything devproc_setup took. */
void devproc_teardown(struct devproc *dp);

#endif
