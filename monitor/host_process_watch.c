/*
 * The device-process host, supervision: each device's pidfd and control
 * socket in the control loop, READY at start, the report of an end the
 * monitor did not ask for, and shutdown. See host_process.h.
 */
#include "host_process.h"

#include <errno.h>
#include <linux/audit.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "control.h"
#include "log.h"
#include "proc_activity.h"
#include "sandbox.h"
#include "device.h"
#include "util.h"
#include "vm.h"

#define READY_TIMEOUT_MS 5000
#define EXIT_GRACE_MS 50	/* socket closed: wait this long for the pidfd to say why */

/* Poll codes. */
#define CODE_SOCK 0
#define CODE_PIDFD 1

void process_kill(struct process_dev *d)
{
	if (d->pidfd >= 0 && !d->exited)
		syscall(SYS_pidfd_send_signal, d->pidfd, SIGKILL, NULL, 0);
}

void process_describe(const struct process_dev *d, const char *why, char *msg, size_t len)
{
	snprintf(msg, len, "device %s (class %s, pid %d) %s", d->vdev->id, d->vdev->cls->name,
		 (int)d->pid, why);
}

void process_fail(struct process_dev *d, const char *why)
{
	char msg[320];

	/* Claim the report first: a vCPU that sees `dead` would report "is dead". */
	bool first = !atomic_exchange(&d->reported, true);

	atomic_store(&d->dead, true);
	if (d->ring)
		ring_wake_all(d->ring, d->vdev->vm->ncpus);
	if (!first)
		return;
	process_describe(d, why, msg, sizeof(msg));
	process_kill(d);
	vm_request_stop(d->vdev->vm, VM_EXIT_FAILED, msg);
}

/* The policy lets d be replaced at all: restarts on, a class that resumes. */
static bool process_replaceable(const struct process_dev *d)
{
	return d->cfg.restart_max > 0 && device_class_resumes(d->vdev->cls);
}

bool process_lose(struct process_dev *d, const char *why)
{
	struct vm *vm = d->vdev->vm;

	if (!process_replaceable(d) || atomic_load(&vm->stopping) || atomic_load(&d->dead)) {
		process_fail(d, why);
		return false;
	}
	if (!atomic_exchange(&d->restarting, true)) {
		snprintf(d->lost_why, sizeof(d->lost_why), "%s", why);
		d->lost_at = now_ns();
		process_kill(d);
	}
	return true;
}

static void describe_exit(const siginfo_t *si, char *buf, size_t len)
{
	if (si->si_code == CLD_EXITED)
		snprintf(buf, len, "exited with status %d", si->si_status);
	else
		snprintf(buf, len, "was killed by signal %d (%s)%s", si->si_status,
			 strsignal(si->si_status), si->si_code == CLD_DUMPED ? ", core dumped" : "");
}

static void process_control(struct process_dev *d);

/* Messages it sent before it died (a Violation, a Log saying why) come first. */
static void process_drain(struct process_dev *d)
{
	struct pollfd p = { .fd = d->sock, .events = POLLIN };

	for (int i = 0; i < 16 && d->sock >= 0 && !atomic_load(&d->reported); i++) {
		if (poll(&p, 1, 0) <= 0 || !(p.revents & POLLIN))
			return;
		process_control(d);
	}
}

static void process_replace(struct process_dev *d, const char *why);

/* The pidfd fired: reap and, unless we asked it to go, replace it or report. */
static void process_reap(struct process_dev *d)
{
	siginfo_t si = { 0 };
	char why[256], cause[96];
	bool violation, seccomp_kill;

	if (d->exited || d->pidfd < 0 ||
	    waitid(P_PIDFD, (id_t)d->pidfd, &si, WEXITED | WNOHANG) < 0 || si.si_pid == 0)
		return;
	d->exited = true;
	if (d->replacing)
		return;	/* a replacement that did not start: process_replace reports it */
	process_drain(d);
	describe_exit(&si, cause, sizeof(cause));
	seccomp_kill = si.si_code != CLD_EXITED && si.si_status == SIGSYS && d->sandbox != SANDBOX_OFF;
	violation = d->violation[0] || seccomp_kill;
	if (d->violation[0])
		snprintf(why, sizeof(why), "was stopped by its sandbox: %s (%s)", d->violation, cause);
	else if (seccomp_kill)
		snprintf(why, sizeof(why), "was killed by its seccomp filter (%s)", cause);
	else if (d->shutting_down)
		return;	/* we asked it to go */
	else if (d->lost_at && si.si_code == CLD_KILLED && si.si_status == SIGKILL)
		snprintf(why, sizeof(why), "%s", d->lost_why);
	else
		snprintf(why, sizeof(why), "died: %s", cause);
	if (d->shutting_down) {
		/* A sandbox violation on the way out is still one. */
		char msg[320];

		process_describe(d, why, msg, sizeof(msg));
		vm_fail_late(d->vdev->vm, msg);
		return;
	}
	if (violation && !d->cfg.restart_violations)
		process_fail(d, why);	/* a violation means compromise, not bad luck */
	else
		process_replace(d, why);
}

/* A syscall outside the device's profile: strict kills it (reported on death), log allows. */
static void process_violation(struct process_dev *d, const Violation *v)
{
	char name[48];

	if (v->arch == SANDBOX_AUDIT_ARCH)
		sandbox_syscall_name((int)v->nr, name, sizeof(name));
	else
		snprintf(name, sizeof(name), "syscall %u of arch 0x%x", v->nr, v->arch);
	if (v->allowed) {
		log_warn("device %s (class %s, pid %d): sandbox log: syscall %s (%u) is not in "
			 "its profile; allowed", d->vdev->id, d->vdev->cls->name, (int)d->pid, name,
			 v->nr);
		return;
	}
	snprintf(d->violation, sizeof(d->violation), "forbidden syscall %s (%u)", name, v->nr);
}

void process_log_dropped(const struct process_dev *d, unsigned n)
{
	if (n)
		vmm_log(LOG_WARN, d->vdev->id, "%u log lines dropped (more than %u a second)", n,
			PROCESS_LOG_PER_SEC);
}

/*
 * A device's log line (checked printable): at most PROCESS_LOG_PER_SEC
 * a second reach the user, whatever the device's own limit says.
 */
static void process_log(struct process_dev *d, const Log *log)
{
	unsigned dropped;
	bool ok = log_budget_take(&d->log_budget, PROCESS_LOG_PER_SEC, &dropped);

	process_log_dropped(d, dropped);
	if (ok)
		vmm_log((enum log_level)log->level, d->vdev->id, "%s", log->text);
}

static void process_message(struct process_dev *d, const ControlMsg *m)
{
	switch (m->body_case) {
	case CONTROL_MSG__BODY_READY:
		d->ready = true;
		break;
	case CONTROL_MSG__BODY_EVENT:
		if (vdev_event(d->vdev, (enum device_event)m->event->type)) {
			char why[96];

			snprintf(why, sizeof(why), "posted event %u, which its class does not; killed",
				 m->event->type);
			process_fail(d, why);
		}
		break;
	case CONTROL_MSG__BODY_LOG:
		process_log(d, m->log);
		break;
	case CONTROL_MSG__BODY_VIOLATION:
		process_violation(d, m->violation);
		break;
	case CONTROL_MSG__BODY_STATS:
		if (d->ping_sent && !d->shutting_down) {
			d->ping_sent = 0;	/* a liveness answer (process_tick) */
			break;
		}
		log_debug(	/* sent as it shuts down */"device %s: served %llu requests, slept %llu times; spun for the next: "
			  "%llu found one, %llu ran out, %llu preempted; spin budget %llu us",
			  d->vdev->id, (unsigned long long)m->stats->traps,
			  (unsigned long long)m->stats->sleeps,
			  (unsigned long long)m->stats->spins_paid,
			  (unsigned long long)m->stats->spins_wasted,
			  (unsigned long long)m->stats->spins_preempted,
			  (unsigned long long)(m->stats->spin_budget_ns / 1000));
		break;
	default:
		break;
	}
}

/* The control socket is readable: one message, checked before use. */
static void process_control(struct process_dev *d)
{
	ControlMsg *m = NULL;
	int fds[CONTROL_MAX_FDS];
	unsigned nfds = 0;
	const char *why = "malformed message";
	char msg[128];
	int err = control_recv(d->sock, &m, fds, &nfds, CONTROL_MAX_FDS);

	if (err == -EAGAIN)
		return;
	if (err == 0 && control_check_from_device(m, nfds, &why) == 0) {
		process_message(d, m);
		control_msg_free(m);
		return;
	}
	for (unsigned i = 0; i < nfds; i++)
		close(fds[i]);
	control_msg_free(m);
	if (err == -ECONNRESET) {
		/*
		 * A dying process closes its fds before its pidfd fires; the init
		 * of a pid namespace (every confined device) takes a while longer.
		 */
		struct pollfd p = { .fd = d->pidfd, .events = POLLIN };
		unsigned restarts = d->restarts;

		if (!d->exited && !d->replacing && poll(&p, 1, EXIT_GRACE_MS) < 0)
			p.revents = 0;
		if (!d->replacing)
			process_reap(d);
		if (d->restarts != restarts)
			return;	/* reaped and replaced: the socket is the new process's */
		if (!d->exited && !atomic_load(&d->vdev->vm->stopping)) {
			/* Dying slowly, or alive without its channel: either way it goes. */
			close(d->sock);
			d->sock = -1;
			process_kill(d);
		}
		return;
	}
	snprintf(msg, sizeof(msg), "sent a bad control message (%s); killed", why);
	process_fail(d, msg);
}

/* Replacements in the policy's window before now. */
static unsigned process_recent_restarts(const struct process_dev *d, uint64_t now)
{
	unsigned n = 0;

	for (unsigned i = 0; i < PROCESS_RESTART_TRACK && i < d->restarts; i++)
		n += now - d->restart_at[i] < PROCESS_RESTART_WINDOW_NS;
	return n;
}

/* Serve only d's socket and pidfd until its replacement says READY (bounded). */
static int process_wait_replacement(struct process_dev *d)
{
	uint64_t deadline = now_ns() + READY_TIMEOUT_MS * 1000000ull;

	while (!d->ready) {
		struct pollfd p[2] = { { .fd = d->pidfd, .events = POLLIN },
				       { .fd = d->sock, .events = POLLIN } };
		uint64_t now = now_ns();

		if (d->exited)
			return -ECHILD;
		if (atomic_load(&d->reported))
			return -EIO;
		if (now >= deadline)
			return -ETIMEDOUT;
		if (poll(p, 2, (int)((deadline - now) / 1000000) + 1) < 0 && errno != EINTR)
			return -errno;
		if (p[1].revents)
			process_control(d);
		if (p[0].revents)
			process_reap(d);
	}
	return 0;
}

/*
 * Start a new process for d, which ended for `why`, unless the policy says
 * no: then, or if the new one does not start, report and stop the VM.
 */
static void process_replace(struct process_dev *d, const char *why)
{
	struct vm *vm = d->vdev->vm;
	uint64_t now = now_ns(), down;
	pid_t old = d->pid;
	unsigned recent = process_recent_restarts(d, now);
	char msg[400];
	int err;

	if (!process_replaceable(d) || atomic_load(&vm->stopping)) {
		process_fail(d, why);
		return;
	}
	if (recent >= d->cfg.restart_max) {
		snprintf(msg, sizeof(msg), "%s; not replaced: %u restarts in the last minute "
			 "(--device-restart %u)", why, recent, d->cfg.restart_max);
		process_fail(d, msg);
		return;
	}
	atomic_store(&d->restarting, true);	/* vCPUs that time out wait on */
	if (!d->lost_at)
		d->lost_at = now;
	if (d->sock >= 0)
		close(d->sock);
	close(d->pidfd);
	d->sock = d->pidfd = -1;
	d->exited = d->ready = false;
	d->violation[0] = '\0';
	atomic_store(&d->slow_reported, false);
	d->replacing = true;
	err = process_respawn(d);
	if (!err)
		err = process_wait_replacement(d);
	d->replacing = false;
	if (err) {
		snprintf(msg, sizeof(msg), "%s; its replacement did not start (%s)", why,
			 err == -ECHILD ? "it ended" : strerror(-err));
		process_fail(d, msg);
		atomic_store(&d->restarting, false);
		return;
	}
	down = now_ns() - d->lost_at;
	d->restart_at[d->restarts % PROCESS_RESTART_TRACK] = now;
	d->restarts++;
	log_warn("device %s (class %s, pid %d) %s: replaced by pid %d, unavailable %llu.%03llu ms "
		 "(restart %u, %u in the last minute)", d->vdev->id, d->vdev->cls->name, (int)old,
		 why, (int)d->pid, (unsigned long long)(down / 1000000),
		 (unsigned long long)(down / 1000 % 1000), d->restarts, recent + 1);
	d->lost_at = 0;
	d->lost_why[0] = '\0';
	d->ping_sent = 0;
	d->ping_next = now_ns() + d->cfg.timeout_ns;
	atomic_store(&d->restarting, false);
}

/*
 * Liveness, for a device no vCPU waits on (a virtio device hung with the
 * guest's requests: nothing traps): each timeout, a StatsRequest its event
 * loop answers. Unanswered for a timeout: slow if the host keeps it from
 * running (BUSY_MAX_NS... as a vCPU's wait), else lost - killed and replaced.
 */
int process_tick(struct vdev *v, uint64_t now)
{
	struct process_dev *d = v->impl;
	uint64_t period = d->cfg.timeout_ns;
	struct proc_activity a;
	char why[96];

	if (!d->ready || d->exited || d->sock < 0 || process_gone(d) || d->shutting_down ||
	    atomic_load(&d->restarting))
		return -1;
	if (d->ping_sent && now - d->ping_sent >= period) {
		if (proc_activity_read(d->pid, &a) == 0 && (a.runnable || a.in_io) &&
		    now - d->ping_sent < PROCESS_BUSY_MAX_NS)
			return (int)(period / 1000000);	/* slow, not broken: look again */
		snprintf(why, sizeof(why), "did not answer the monitor within %llu ms; killed",
			 (unsigned long long)((now - d->ping_sent) / 1000000));
		d->ping_sent = 0;
		process_lose(d, why);
		return -1;
	}
	if (!d->ping_sent && now >= d->ping_next) {
		int err = control_send_simple(d->sock, CONTROL_MSG__BODY_STATS_REQUEST);

		/* A full queue: it has not read what it had; judged as an unanswered ping. */
		if (err == 0 || err == -EAGAIN)
			d->ping_sent = now;
		d->ping_next = now + period;
	}
	if (d->ping_sent)
		return (int)((d->ping_sent + period - now) / 1000000) + 1;
	return (int)((d->ping_next - now) / 1000000) + 1;
}

int process_restart(struct vdev *v)
{
	struct process_dev *d = v->impl;

	if (!process_replaceable(d))
		return -EOPNOTSUPP;
	if (process_gone(d) || !d->ready)
		return -EBUSY;
	return process_lose(d, "restart asked for (vmm-ctl restart-device); killed") ? 0 : -EIO;
}

unsigned process_pollfds(struct vdev *v, struct pollfd *pfds, uint16_t *codes, unsigned max)
{
	struct process_dev *d = v->impl;
	unsigned n = 0;

	if (d->exited || d->pidfd < 0 || max < 2)
		return 0;
	pfds[n] = (struct pollfd){ .fd = d->pidfd, .events = POLLIN };
	codes[n++] = CODE_PIDFD;
	if (d->sock >= 0 && !atomic_load(&d->dead)) {
		pfds[n] = (struct pollfd){ .fd = d->sock, .events = POLLIN };
		codes[n++] = CODE_SOCK;
	}
	return n;
}

void process_handle(struct vdev *v, uint16_t code, short revents)
{
	struct process_dev *d = v->impl;

	if (code == CODE_PIDFD)
		process_reap(d);
	else if (code == CODE_SOCK && (revents & (POLLIN | POLLHUP | POLLERR)))
		process_control(d);
}

/* Serve control sockets and pidfds until every device is READY. */
int process_wait_ready(struct vm *vm)
{
	uint64_t deadline = now_ns() + READY_TIMEOUT_MS * 1000000ull;
	struct pollfd pfd[MACHINE_MAX_DEVS * VDEV_MAX_POLL];
	uint32_t tags[MACHINE_MAX_DEVS * VDEV_MAX_POLL];

	for (;;) {
		unsigned ready = 0, n;
		uint64_t now = now_ns();

		for (unsigned i = 0; i < vm->ndevs; i++)
			ready += ((struct process_dev *)vm->devs[i].impl)->ready;
		if (ready == vm->ndevs)
			return 0;
		if (atomic_load(&vm->stopping))
			return -EIO;
		if (now >= deadline) {
			log_err("device processes: %u of %u ready after %d ms", ready, vm->ndevs,
				READY_TIMEOUT_MS);
			return -ETIMEDOUT;
		}
		n = vdevs_pollfds(vm, pfd, tags, ARRAY_SIZE(pfd));
		if (poll(pfd, n, (int)((deadline - now) / 1000000) + 1) < 0 && errno != EINTR)
			return -errno;
		for (unsigned i = 0; i < n; i++)
			if (pfd[i].revents)
				vdevs_handle(vm, tags[i], pfd[i].revents);
	}
}

static struct process_dev *process_of(struct vm *vm, unsigned i)
{
	return vm->devs[i].impl;
}

/* Wait until every started process exited, at most until `deadline`. */
static void process_wait_exit(struct vm *vm, uint64_t deadline)
{
	struct pollfd pfd[MACHINE_MAX_DEVS];
	struct process_dev *of[MACHINE_MAX_DEVS];

	for (;;) {
		unsigned n = 0;
		uint64_t now = now_ns();

		for (unsigned i = 0; i < vm->ndevs; i++) {
			struct process_dev *d = process_of(vm, i);

			if (d && d->pidfd >= 0 && !d->exited && n < ARRAY_SIZE(pfd)) {
				pfd[n] = (struct pollfd){ .fd = d->pidfd, .events = POLLIN };
				of[n++] = d;
			}
		}
		if (n == 0 || now >= deadline)
			return;
		poll(pfd, n, (int)((deadline - now) / 1000000) + 1);
		for (unsigned i = 0; i < n; i++)
			if (pfd[i].revents)
				process_reap(of[i]);
	}
}

void process_stop_all(struct vm *vm, unsigned timeout_ms)
{
	for (unsigned i = 0; i < vm->ndevs; i++)
		if (process_of(vm, i))
			process_of(vm, i)->shutting_down = true;
	for (unsigned i = 0; i < vm->ndevs; i++) {
		struct process_dev *d = process_of(vm, i);

		if (d && d->sock >= 0 && !d->exited &&
		    control_send_simple(d->sock, CONTROL_MSG__BODY_SHUTDOWN))
			process_kill(d);
	}
	process_wait_exit(vm, now_ns() + timeout_ms * 1000000ull);
	for (unsigned i = 0; i < vm->ndevs; i++)
		if (process_of(vm, i))
			process_kill(process_of(vm, i));
	process_wait_exit(vm, now_ns() + 1000 * 1000000ull);
}
