/*
 * The device-process host, the vCPU's path: an access to a device in its
 * own process is forwarded over its ring and waited for, within a
 * deadline that tells a slow host from a broken device. See host_process.h.
 */
#include "host_process.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "control.h"
#include "log.h"
#include "proc_activity.h"
#include "sandbox.h"
#include "util.h"
#include "vm.h"

/* A vCPU waits this long for a replacement to answer (its start is bounded by READY's 5 s). */
#define PROCESS_REPLACE_WAIT_NS (15 * 1000000000ull)

/*
 * The access made the device post reset or poweroff: hold this vCPU until
 * the monitor has read the event and is stopping the VM, so that no guest
 * code runs past the write that stopped it. Bounded by the device timeout.
 */
static int process_wait_stop(struct process_dev *d)
{
	struct vm *vm = d->vdev->vm;
	uint64_t end = now_ns() + d->wait.deadline_ns;
	struct timespec nap = { .tv_nsec = 100000 };

	while (!atomic_load(&vm->stopping) && !atomic_load(&d->dead)) {
		if (now_ns() >= end) {
			process_fail(d, "announced a stop event that never came; killed");
			break;
		}
		nanosleep(&nap, NULL);
	}
	return 0;
}

/*
 * An access outlived the deadline. A device the host keeps from running
 * (a thread runnable or in host I/O) is slow, not broken: wait on, a
 * deadline at a time, while it has not itself spent a whole deadline on a
 * CPU, and PROCESS_BUSY_MAX_NS in all. One asleep or stopped with the access
 * pending, or spinning, has failed: why says how. Returns as ring_send.
 */
static int process_wait_slow(struct process_dev *d, struct trap *t, bool sync, char *why,
			     size_t len)
{
	struct ring_producer *p = &d->prod[t->vcpu];
	uint64_t waited = d->wait.deadline_ns, spent = 0;
	struct proc_activity first, now;
	int err = -ETIMEDOUT;

	if (proc_activity_read(d->pid, &first) == 0) {
		now = first;
		while (err == -ETIMEDOUT && (now.runnable || now.in_io) &&
		       spent < d->wait.deadline_ns && waited < PROCESS_BUSY_MAX_NS) {
			if (!atomic_exchange(&d->slow_reported, true))
				log_warn("device %s: no answer in %llu ms while the host keeps it "
					 "from running; waiting up to %llu s", d->vdev->id,
					 (unsigned long long)(waited / 1000000),
					 (unsigned long long)(PROCESS_BUSY_MAX_NS / 1000000000));
			err = ring_send_resume(p, t, sync, &d->wait);
			waited += d->wait.deadline_ns;
			if (err == -ETIMEDOUT && proc_activity_read(d->pid, &now))
				break;
			spent = now.cpu_ns - first.cpu_ns;
		}
	}
	if (spent >= d->wait.deadline_ns)
		snprintf(why, len, "spent %llu ms on a CPU without answering; killed",
			 (unsigned long long)(spent / 1000000));
	else if (waited >= PROCESS_BUSY_MAX_NS)
		snprintf(why, len, "did not answer within %llu s of a slow host; killed",
			 (unsigned long long)(waited / 1000000000));
	else
		snprintf(why, len, "did not answer within %llu ms; killed",
			 (unsigned long long)(d->wait.deadline_ns / 1000000));
	return err;
}

/*
 * The device is being replaced (host_process_watch.c): the access stays in
 * its ring for the new process to serve. Wait on, a deadline at a time,
 * PROCESS_REPLACE_WAIT_NS at most; returns as ring_send.
 */
static int process_wait_replaced(struct process_dev *d, struct trap *t, bool sync)
{
	uint64_t end = now_ns() + PROCESS_REPLACE_WAIT_NS;
	int err = -ETIMEDOUT;

	while (err == -ETIMEDOUT && now_ns() < end)
		err = ring_send_resume(&d->prod[t->vcpu], t, sync, &d->wait);
	return err;
}

/* Trap-bus handler (vCPU threads): forward, wait, and judge the answer. */
static int process_trap(void *opaque, struct trap *t)
{
	struct vdev *v = opaque;
	struct process_dev *d = v->impl;
	bool sync = v->spec.spec.regions[t->region].sync;
	char why[96];
	int err;

	if (t->vcpu >= v->vm->ncpus)
		return -EINVAL;
	if (vdev_shadow_read(v, d->shadow, d->ring, t))
		return 0;
	err = ring_send(&d->prod[t->vcpu], t, sync, &d->wait);
	if (err == -ETIMEDOUT && atomic_load(&d->restarting))
		err = process_wait_replaced(d, t, sync);
	if (err == -ETIMEDOUT) {
		err = process_wait_slow(d, t, sync, why, sizeof(why));
		if (err == -ETIMEDOUT && process_lose(d, why)) {
			err = process_wait_replaced(d, t, sync);
			if (err == -ETIMEDOUT)
				snprintf(why, sizeof(why), "was not replaced within %llu s; killed",
					 (unsigned long long)(PROCESS_REPLACE_WAIT_NS / 1000000000));
		}
	}
	if (err == RING_STATUS_STOP)
		return process_wait_stop(d);
	if (err != -ETIMEDOUT && err != -EPIPE && err != -EPROTO)
		return err;	/* 0, or the device's own "not mine" */
	if (!t->is_write)
		trap_set_value(t, ~0ULL);
	if (err == -EPIPE && atomic_load(&v->vm->stopping))
		return 0;	/* released by process_quiesce: nothing to report */
	if (err != -ETIMEDOUT)
		snprintf(why, sizeof(why), "%s", err == -EPIPE ? "is dead"
					       : "broke its ring; killed");
	process_fail(d, why);
	return 0;
}

static int process_create(struct vdev *v, const struct machine_dev *md,
			  const struct vdev_cfg *cfg)
{
	struct process_dev *d = calloc(1, sizeof(*d));
	int err;

	if (!d)
		return -ENOMEM;
	v->impl = d;
	d->vdev = v;
	d->sandbox = cfg->sandbox;
	d->pid = -1;
	d->pidfd = d->sock = d->doorbell_fd = d->ring_fd = d->state_fd = -1;
	for (unsigned k = 0; k < DEVICE_MAX_IRQS; k++)
		d->irq_fds[k] = -1;
	err = process_spawn(d, md, cfg);
	if (err)
		log_err("device %s: cannot start its process: %s", v->id, strerror(-err));
	return err;
}

/* Every waiting vCPU returns: the devices count as dead to them from now on. */
static void process_quiesce(struct vm *vm)
{
	for (unsigned i = 0; i < vm->ndevs; i++) {
		struct process_dev *d = vm->devs[i].impl;

		if (!d)
			continue;
		atomic_store(&d->dead, true);
		if (d->ring)
			ring_wake_all(d->ring, vm->ncpus);
	}
}

/* -v: how the vCPUs' waits for this device went (ipc/spin.h). */
static void process_log_spins(const struct vdev *v, const struct process_dev *d)
{
	uint64_t paid = 0, wasted = 0, preempted = 0, posted = 0, rung = 0;

	for (unsigned i = 0; d->prod && i < v->vm->ncpus; i++) {
		paid += d->prod[i].spin.paid;
		wasted += d->prod[i].spin.wasted;
		preempted += d->prod[i].spin.preempted;
		posted += d->prod[i].posted;
		rung += d->prod[i].rung;
	}
	log_debug("device %s: vCPUs waiting for it: %llu answers came while they spun, "
		  "%llu spins ran out, %llu were preempted; %llu writes posted; %llu doorbells rung",
		  v->id, (unsigned long long)paid, (unsigned long long)wasted,
		  (unsigned long long)preempted, (unsigned long long)posted,
		  (unsigned long long)rung);
}

static void process_release_dev(struct vdev *v)
{
	struct process_dev *d = v->impl;

	if (!d)
		return;
	process_log_spins(v, d);
	process_log_dropped(d, log_budget_flush(&d->log_budget));
	process_release(d);
	free(d);
	v->impl = NULL;
}

static int process_input(struct vdev *v, enum device_input in)
{
	struct process_dev *d = v->impl;

	if (process_gone(d))
		return -EPIPE;
	return control_send_input(d->sock, in);
}

static void process_describe_dev(const struct vdev *v, struct vdev_info *info)
{
	const struct process_dev *d = v->impl;

	info->pid = d->pid;
	info->failed = process_gone(d);
	info->sandbox = sandbox_mode_name((enum sandbox_mode)d->sandbox);
	info->restarts = d->restarts;
}

const struct vdev_host vdev_host_process = {
	.name = "process",
	.create = process_create,
	.trap = process_trap,
	.ready = process_wait_ready,
	.pollfds = process_pollfds,
	.handle = process_handle,
	.quiesce = process_quiesce,
	.stop = process_stop_all,
	.release = process_release_dev,
	.input = process_input,
	.describe = process_describe_dev,
	.tick = process_tick,
	.restart = process_restart,
};
