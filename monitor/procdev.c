#include "procdev.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/audit.h>
#include <linux/kvm.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "control.h"
#include "devhost.h"
#include "log.h"
#include "proc_activity.h"
#include "sandbox.h"
#include "util.h"
#include "virtio_pci.h"
#include "vm.h"
#include "vpci.h"

#define READY_TIMEOUT_MS 5000
#define TAG_PIDFD 0x10000u
#define EXIT_GRACE_MS 50	/* socket closed: wait this long for the pidfd to say why */
#define BUSY_MAX_NS (60 * 1000000000ull)	/* a slow host gets this long in all */

/* ---- Failure reports ---- */

static void procdev_kill(struct proc_dev *d)
{
	if (d->pidfd >= 0 && !d->exited)
		syscall(SYS_pidfd_send_signal, d->pidfd, SIGKILL, NULL, 0);
}

/*
 * The device is unusable: report it once (why names the cause), release
 * every vCPU waiting on it, kill it, and stop the VM as failed.
 */
/* "device serial0 (class serial, pid 42) <why>": how the monitor names a device's end. */
static void procdev_describe(const struct proc_dev *d, const char *why, char *msg, size_t len)
{
	snprintf(msg, len, "device %s (class %s, pid %d) %s", d->id, d->klass, (int)d->pid, why);
}

static void procdev_fail(struct proc_dev *d, const char *why)
{
	char msg[320];

	/* Claim the report first: a vCPU that sees `dead` would report "is dead". */
	bool first = !atomic_exchange(&d->reported, true);

	atomic_store(&d->dead, true);
	if (d->ring)
		ring_wake_all(d->ring, d->vm->ncpus);
	if (!first)
		return;
	procdev_describe(d, why, msg, sizeof(msg));
	procdev_kill(d);
	vm_request_stop(d->vm, VM_EXIT_FAILED, msg);
}

/* ---- The trap path (vCPU threads) ---- */

/*
 * The access made the device post reset or poweroff: hold this vCPU until
 * the monitor has read the event and is stopping the VM, so that no guest
 * code runs past the write that stopped it. Bounded by the device timeout.
 */
static int procdev_wait_stop(struct proc_dev *d)
{
	uint64_t end = now_ns() + d->wait.deadline_ns;
	struct timespec nap = { .tv_nsec = 100000 };

	while (!atomic_load(&d->vm->stopping) && !atomic_load(&d->dead)) {
		if (now_ns() >= end) {
			procdev_fail(d, "announced a stop event that never came; killed");
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
 * CPU, and BUSY_MAX_NS in all. One asleep or stopped with the access
 * pending, or spinning, has failed: why says how. Returns as ring_send.
 */
static int procdev_wait_slow(struct proc_dev *d, struct trap *t, bool sync, char *why,
			     size_t len)
{
	struct ring_producer *p = &d->prod[t->vcpu];
	uint64_t waited = d->wait.deadline_ns, spent = 0;
	struct proc_activity first, now;
	int err = -ETIMEDOUT;

	if (proc_activity_read(d->pid, &first) == 0) {
		now = first;
		while (err == -ETIMEDOUT && (now.runnable || now.in_io) &&
		       spent < d->wait.deadline_ns && waited < BUSY_MAX_NS) {
			if (!atomic_exchange(&d->slow_reported, true))
				log_warn("device %s: no answer in %llu ms while the host keeps it "
					 "from running; waiting up to %llu s", d->id,
					 (unsigned long long)(waited / 1000000),
					 (unsigned long long)(BUSY_MAX_NS / 1000000000));
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
	else if (waited >= BUSY_MAX_NS)
		snprintf(why, len, "did not answer within %llu s of a slow host; killed",
			 (unsigned long long)(waited / 1000000000));
	else
		snprintf(why, len, "did not answer within %llu ms; killed",
			 (unsigned long long)(d->wait.deadline_ns / 1000000));
	return err;
}

static int procdev_trap(void *opaque, struct trap *t)
{
	struct proc_dev *d = opaque;
	bool sync = d->spec.regions[t->region].sync_writes;
	char why[96];
	int err;

	if (t->vcpu >= d->vm->ncpus)
		return -EINVAL;
	err = ring_send(&d->prod[t->vcpu], t, sync, &d->wait);
	if (err == -ETIMEDOUT)
		err = procdev_wait_slow(d, t, sync, why, sizeof(why));
	if (err == RING_STATUS_STOP)
		return procdev_wait_stop(d);
	if (err != -ETIMEDOUT && err != -EPIPE && err != -EPROTO)
		return err;	/* 0, or the device's own "not mine" */
	if (!t->is_write)
		trap_set_value(t, ~0ULL);
	if (err != -ETIMEDOUT)
		snprintf(why, sizeof(why), "%s", err == -EPIPE ? "is dead"
					       : "broke its ring; killed");
	procdev_fail(d, why);
	return 0;
}

/* ---- Spawning ---- */

static char devproc_path[PATH_MAX];

/* vmm-devproc: $VMM_DEVPROC, else beside vmm-monitor, else the build tree. */
static int devproc_find(void)
{
	static const char *const rel[] = { "vmm-devproc", "../devproc/vmm-devproc" };
	const char *env = getenv("VMM_DEVPROC");
	char self[PATH_MAX];
	ssize_t n;

	if (env && access(env, X_OK) == 0)
		return snprintf(devproc_path, sizeof(devproc_path), "%s", env) < 0 ? -EINVAL : 0;
	n = readlink("/proc/self/exe", self, sizeof(self) - 1);
	if (n <= 0)
		return -errno;
	self[n] = '\0';
	*strrchr(self, '/') = '\0';
	for (size_t i = 0; i < ARRAY_SIZE(rel); i++) {
		int len = snprintf(devproc_path, sizeof(devproc_path), "%s/%s", self, rel[i]);

		if (len > 0 && (size_t)len < sizeof(devproc_path) && access(devproc_path, X_OK) == 0)
			return 0;
	}
	log_err("cannot find vmm-devproc next to %s (set VMM_DEVPROC)", self);
	return -ENOENT;
}

/* In the child: fd 3 is the control socket, stdin/stdout /dev/null, exec. */
static void child_exec(int sock, const char *name, const char *vm_name)
{
	char *argv[] = { "vmm-devproc", "--control-fd", "3", "--name", (char *)name,
			 "--vm", (char *)vm_name, NULL };
	int null = open("/dev/null", O_RDWR);
	sigset_t none;

	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	if (null < 0 || dup2(null, 0) < 0 || dup2(null, 1) < 0)
		_exit(126);
	if (sock == 3 ? fcntl(3, F_SETFD, 0) < 0 : dup2(sock, 3) < 0)
		_exit(126);
	execv(devproc_path, argv);
	_exit(127);
}

/*
 * fork(), or when the device confines itself, a fork into a new pid
 * namespace (the one namespace a process cannot enter by itself: unshare
 * moves only its children). The child only execs.
 */
static pid_t procdev_fork(unsigned sandbox)
{
	if (sandbox == SANDBOX_OFF)
		return fork();
	return (pid_t)syscall(SYS_clone, CLONE_NEWPID | SIGCHLD, NULL, NULL, NULL, NULL);
}

static int procdev_spawn(struct proc_dev *d, const char *vm_name)
{
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	d->pid = procdev_fork(d->sandbox);
	if (d->pid == 0)
		child_exec(sv[1], d->id, vm_name);
	close(sv[1]);
	d->sock = sv[0];
	if (d->pid < 0)
		return -errno;
	d->pidfd = (int)syscall(SYS_pidfd_open, d->pid, 0);
	return d->pidfd < 0 ? -errno : 0;
}

/* ---- Resources handed to the device ---- */

static int ring_create(struct proc_dev *d, unsigned ncpus)
{
	char name[48];
	void *p;

	snprintf(name, sizeof(name), "vmm-ring-%s", d->id);
	d->ring_size = ring_shm_size(ncpus);
	d->ring_fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (d->ring_fd < 0 || ftruncate(d->ring_fd, (off_t)d->ring_size) < 0 ||
	    fcntl(d->ring_fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
		return -errno;
	p = mmap(NULL, d->ring_size, PROT_READ | PROT_WRITE, MAP_SHARED, d->ring_fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	d->ring = p;
	return ring_shm_init(d->ring, d->ring_size, ncpus);
}

static int irqfds_create(struct proc_dev *d)
{
	for (size_t i = 0; i < d->spec.spec.n_irqs; i++) {
		struct kvm_irqfd irqfd = { .gsi = d->spec.spec.irqs[i] };

		d->irq_fds[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (d->irq_fds[i] < 0)
			return -errno;
		irqfd.fd = (uint32_t)d->irq_fds[i];
		if (ioctl(d->vm->vm_fd, KVM_IRQFD, &irqfd) < 0)
			return -errno;
	}
	return 0;
}

static int producers_create(struct proc_dev *d, const struct procdev_cfg *cfg)
{
	unsigned n = d->vm->ncpus;

	d->prod = calloc(n, sizeof(*d->prod));
	if (!d->prod)
		return -ENOMEM;
	for (unsigned v = 0; v < n; v++)
		ring_producer_init(&d->prod[v], d->ring, v, d->doorbell_fd, &d->dead);
	d->wait = (struct ring_wait_cfg){ .spin_ns = cfg->vcpu_spin_ns,
					  .deadline_ns = cfg->timeout_ns };
	return 0;
}

/*
 * A virtio-pci function: the PCI side lives here in the monitor (vpci),
 * which maps BAR0's regions to this device's ring and owns the irqfds
 * (one per MSI-X vector) and the queue doorbells handed to the device.
 */
static int procdev_pci(struct proc_dev *d, const struct machine_dev *md)
{
	d->pci = vpci_new(d->vm, d->id, md->pci, procdev_trap, d, d->traps, &d->spec);
	return d->pci ? 0 : -EIO;
}

static int procdev_resources(struct proc_dev *d, const struct machine_dev *md,
			     const struct procdev_cfg *cfg)
{
	int err;

	d->doorbell_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (d->doorbell_fd < 0)
		return -errno;
	err = ring_create(d, d->vm->ncpus);
	if (!err)
		err = md->pci ? procdev_pci(d, md) : irqfds_create(d);
	if (!err)
		err = producers_create(d, cfg);
	return err;
}

/* ---- Setup ---- */

static int procdev_send_setup(struct proc_dev *d, const struct machine_dev *md,
			      const struct procdev_cfg *cfg)
{
	ControlMsg m = CONTROL_MSG__INIT;
	Setup s = SETUP__INIT;
	MemRange mr[GMEM_MAX_RANGES], *mrp[GMEM_MAX_RANGES];
	int fds[CONTROL_MAX_FDS];
	unsigned nfds = CONTROL_FD_FIXED;
	const struct gmem *gm = &d->vm->mem;

	for (unsigned i = 0; i < gm->nranges; i++) {
		mem_range__init(&mr[i]);
		mr[i].gpa = gm->r[i].gpa;
		mr[i].size = gm->r[i].size;
		mr[i].fd_offset = gm->r[i].fd_offset;
		mrp[i] = &mr[i];
	}
	s.spec = &d->spec.spec;
	s.n_mem = gm->nranges;
	s.mem = mrp;
	s.mem_total = gm->total;
	s.nvcpus = d->vm->ncpus;
	s.ring_size = d->ring_size;
	s.spin_ns = cfg->dev_spin_ns;
	s.vm_name = (char *)cfg->vm_name;
	s.has_sandbox = true;
	s.sandbox = cfg->sandbox;
	fds[CONTROL_FD_GUEST_MEM] = d->vm->mem_fd;
	fds[CONTROL_FD_RING] = d->ring_fd;
	fds[CONTROL_FD_DOORBELL] = d->doorbell_fd;
	for (size_t i = 0; i < d->spec.spec.n_irqs; i++)
		fds[nfds++] = !d->pci ? d->irq_fds[i]
			    : i == VPCI_INTX_LINE(d->pci) ? d->pci->intx_fd : d->pci->irqfd[i];
	for (unsigned q = 0; d->pci && q < d->pci->nqueues; q++)
		fds[nfds++] = d->pci->ioeventfd[q];
	s.n_queue_fds = d->pci ? d->pci->nqueues : 0;
	s.has_n_queue_fds = 1;
	if (d->pci) {
		s.has_intx_line = 1;
		s.intx_line = (int32_t)VPCI_INTX_LINE(d->pci);
		fds[nfds++] = d->pci->intx_resample_fd;
	}
	for (unsigned i = 0; i < md->nfds; i++)
		fds[nfds++] = md->fds[i];
	s.n_backend_fds = md->nfds;
	m.body_case = CONTROL_MSG__BODY_SETUP;
	m.setup = &s;
	return control_send(d->sock, &m, fds, nfds);
}

static int procdev_register(struct proc_dev *d)
{
	for (size_t i = 0; i < d->spec.spec.n_regions; i++) {
		const Region *r = d->spec.spec.regions[i];
		struct trap_region tr = {
			.base = r->addr, .size = r->size, .bus = (uint8_t)r->bus,
			.region = (uint8_t)i, .name = d->id,
			.fn = procdev_trap, .opaque = d, .served = &d->traps[i],
		};
		int err = trapbus_register(&d->vm->bus, &tr);

		if (err)
			return err;
		d->nregistered++;
	}
	return 0;
}

static int procdev_create(struct vm *vm, struct proc_dev *d, const struct machine_dev *md,
			  const struct procdev_cfg *cfg)
{
	int err;

	d->vm = vm;
	d->klass = md->klass;
	d->sandbox = cfg->sandbox;
	machine_dev_id(md, d->id, sizeof(d->id));
	machine_spec_build(md, vm->mem.total, &d->spec);
	err = procdev_resources(d, md, cfg);
	if (!err)
		err = procdev_spawn(d, cfg->vm_name);
	if (!err)
		err = procdev_send_setup(d, md, cfg);
	if (!err && !d->pci)
		err = procdev_register(d);
	if (err)
		log_err("device %s: cannot start its process: %s", d->id, strerror(-err));
	return err;
}

/* ---- Supervision ---- */

static void describe_exit(const siginfo_t *si, char *buf, size_t len)
{
	if (si->si_code == CLD_EXITED)
		snprintf(buf, len, "exited with status %d", si->si_status);
	else
		snprintf(buf, len, "was killed by signal %d (%s)%s", si->si_status,
			 strsignal(si->si_status), si->si_code == CLD_DUMPED ? ", core dumped" : "");
}

static void procdev_control(struct proc_dev *d);

/* Messages it sent before it died (a Violation, a Log saying why) come first. */
static void procdev_drain(struct proc_dev *d)
{
	struct pollfd p = { .fd = d->sock, .events = POLLIN };

	for (int i = 0; i < 16 && d->sock >= 0 && !atomic_load(&d->reported); i++) {
		if (poll(&p, 1, 0) <= 0 || !(p.revents & POLLIN))
			return;
		procdev_control(d);
	}
}

/* The pidfd fired: reap and, unless we asked it to go, report. */
static void procdev_reap(struct proc_dev *d)
{
	siginfo_t si = { 0 };
	char why[256], cause[96];

	if (d->exited || waitid(P_PIDFD, (id_t)d->pidfd, &si, WEXITED | WNOHANG) < 0 ||
	    si.si_pid == 0)
		return;
	d->exited = true;
	procdev_drain(d);
	describe_exit(&si, cause, sizeof(cause));
	if (d->violation[0])
		snprintf(why, sizeof(why), "was stopped by its sandbox: %s (%s)", d->violation, cause);
	else if (si.si_code != CLD_EXITED && si.si_status == SIGSYS && d->sandbox != SANDBOX_OFF)
		snprintf(why, sizeof(why), "was killed by its seccomp filter (%s)", cause);
	else if (d->shutting_down)
		return;	/* we asked it to go */
	else
		snprintf(why, sizeof(why), "died: %s", cause);
	if (d->shutting_down) {
		/* A sandbox violation on the way out is still one. */
		char msg[320];

		procdev_describe(d, why, msg, sizeof(msg));
		vm_fail_late(d->vm, msg);
		return;
	}
	procdev_fail(d, why);
}

/* A syscall outside the device's profile: strict kills it (reported on death), log allows. */
static void procdev_violation(struct proc_dev *d, const Violation *v)
{
	char name[48];

	if (v->arch == AUDIT_ARCH_X86_64)
		sandbox_syscall_name((int)v->nr, name, sizeof(name));
	else
		snprintf(name, sizeof(name), "syscall %u of arch 0x%x", v->nr, v->arch);
	if (v->allowed) {
		log_warn("device %s (class %s, pid %d): sandbox log: syscall %s (%u) is not in "
			 "its profile; allowed", d->id, d->klass, (int)d->pid, name, v->nr);
		return;
	}
	snprintf(d->violation, sizeof(d->violation), "forbidden syscall %s (%u)", name, v->nr);
}

static void procdev_message(struct proc_dev *d, const ControlMsg *m)
{
	switch (m->body_case) {
	case CONTROL_MSG__BODY_READY:
		d->ready = true;
		break;
	case CONTROL_MSG__BODY_EVENT:
		devhost_event(d->vm, d->id, (enum device_event)m->event->type);
		break;
	case CONTROL_MSG__BODY_LOG:
		vmm_log((enum log_level)m->log->level, d->id, "%s", m->log->text);
		break;
	case CONTROL_MSG__BODY_VIOLATION:
		procdev_violation(d, m->violation);
		break;
	default:
		break;	/* Stats: nothing asks for them yet */
	}
}

/* The control socket is readable: one message, checked before use. */
static void procdev_control(struct proc_dev *d)
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
		procdev_message(d, m);
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

		if (!d->exited && poll(&p, 1, EXIT_GRACE_MS) < 0)
			p.revents = 0;
		procdev_reap(d);
		if (!d->exited && !atomic_load(&d->vm->stopping))
			procdev_fail(d, "closed its control socket; killed");
		return;
	}
	snprintf(msg, sizeof(msg), "sent a bad control message (%s); killed", why);
	procdev_fail(d, msg);
}

unsigned procdev_pollfds(struct vm *vm, struct pollfd *pfds, uint32_t *tags, unsigned max)
{
	unsigned n = 0;

	for (unsigned i = 0; i < vm->nprocs && n + 2 <= max; i++) {
		struct proc_dev *d = &vm->procs[i];

		if (d->exited)
			continue;
		pfds[n] = (struct pollfd){ .fd = d->pidfd, .events = POLLIN };
		tags[n++] = TAG_PIDFD | i;
		if (d->sock >= 0 && !atomic_load(&d->dead)) {
			pfds[n] = (struct pollfd){ .fd = d->sock, .events = POLLIN };
			tags[n++] = i;
		}
	}
	return n;
}

void procdev_handle(struct vm *vm, uint32_t tag, short revents)
{
	unsigned i = tag & 0xffff;

	if (i >= vm->nprocs)
		return;
	if (tag & TAG_PIDFD)
		procdev_reap(&vm->procs[i]);
	else if (revents & (POLLIN | POLLHUP | POLLERR))
		procdev_control(&vm->procs[i]);
}

/* ---- Start and stop ---- */

/* Serve control sockets and pidfds until every device is READY. */
static int procdev_wait_ready(struct vm *vm)
{
	uint64_t deadline = now_ns() + READY_TIMEOUT_MS * 1000000ull;
	struct pollfd pfd[2 * MACHINE_MAX_DEVS];
	uint32_t tags[2 * MACHINE_MAX_DEVS];

	for (;;) {
		unsigned ready = 0, n;
		uint64_t now = now_ns();

		for (unsigned i = 0; i < vm->nprocs; i++)
			ready += vm->procs[i].ready;
		if (ready == vm->nprocs)
			return 0;
		if (atomic_load(&vm->stopping))
			return -EIO;
		if (now >= deadline) {
			log_err("device processes: %u of %u ready after %d ms", ready, vm->nprocs,
				READY_TIMEOUT_MS);
			return -ETIMEDOUT;
		}
		n = procdev_pollfds(vm, pfd, tags, ARRAY_SIZE(pfd));
		if (poll(pfd, n, (int)((deadline - now) / 1000000) + 1) < 0 && errno != EINTR)
			return -errno;
		for (unsigned i = 0; i < n; i++)
			if (pfd[i].revents)
				procdev_handle(vm, tags[i], pfd[i].revents);
	}
}

int procdev_start_all(struct vm *vm, const struct machine *m, const struct procdev_cfg *cfg)
{
	unsigned n = m->ndevs;
	const struct machine_dev *md = m->dev;
	int err = devproc_find();

	if (err)
		return err;
	vm->procs = calloc(n, sizeof(*vm->procs));
	if (!vm->procs)
		return -ENOMEM;
	vm->nprocs = n;
	for (unsigned i = 0; i < n; i++) {
		struct proc_dev *d = &vm->procs[i];

		d->pid = -1;
		d->pidfd = d->sock = d->doorbell_fd = d->ring_fd = -1;
		for (unsigned k = 0; k < MACHINE_MAX_IRQS; k++)
			d->irq_fds[k] = -1;
	}
	for (unsigned i = 0; i < n && !err; i++)
		err = procdev_create(vm, &vm->procs[i], &md[i], cfg);
	if (!err)
		err = procdev_wait_ready(vm);
	if (err)
		procdev_stop_all(vm, 0);
	return err;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

static void procdev_release(struct proc_dev *d)
{
	for (size_t r = 0; r < d->nregistered; r++)
		trapbus_unregister(&d->vm->bus, (enum trap_bus)d->spec.regions[r].bus,
				   d->spec.regions[r].addr);
	d->nregistered = 0;
	vpci_free(d->pci, d->vm->pci);
	d->pci = NULL;
	for (size_t i = 0; i < MACHINE_MAX_IRQS; i++) {
		if (d->irq_fds[i] >= 0) {
			struct kvm_irqfd irqfd = { .fd = (uint32_t)d->irq_fds[i],
						   .gsi = d->spec.spec.irqs[i],
						   .flags = KVM_IRQFD_FLAG_DEASSIGN };

			ioctl(d->vm->vm_fd, KVM_IRQFD, &irqfd);
		}
		close_fd(&d->irq_fds[i]);
	}
	if (d->ring)
		munmap(d->ring, d->ring_size);
	free(d->prod);
	close_fd(&d->ring_fd);
	close_fd(&d->doorbell_fd);
	close_fd(&d->sock);
	close_fd(&d->pidfd);
}

/* Wait until every started process exited, at most until `deadline`. */
static void procdev_wait_exit(struct vm *vm, uint64_t deadline)
{
	struct pollfd pfd[MACHINE_MAX_DEVS];
	uint32_t idx[MACHINE_MAX_DEVS];

	for (;;) {
		unsigned n = 0;
		uint64_t now = now_ns();

		for (unsigned i = 0; i < vm->nprocs; i++) {
			struct proc_dev *d = &vm->procs[i];

			if (d->pidfd >= 0 && !d->exited && n < ARRAY_SIZE(pfd)) {
				pfd[n] = (struct pollfd){ .fd = d->pidfd, .events = POLLIN };
				idx[n++] = i;
			}
		}
		if (n == 0 || now >= deadline)
			return;
		poll(pfd, n, (int)((deadline - now) / 1000000) + 1);
		for (unsigned i = 0; i < n; i++)
			if (pfd[i].revents)
				procdev_reap(&vm->procs[idx[i]]);
	}
}

void procdev_stop_all(struct vm *vm, unsigned timeout_ms)
{
	for (unsigned i = 0; i < vm->nprocs; i++)
		vm->procs[i].shutting_down = true;
	for (unsigned i = 0; i < vm->nprocs; i++)
		if (vm->procs[i].sock >= 0 && !vm->procs[i].exited &&
		    control_send_simple(vm->procs[i].sock, CONTROL_MSG__BODY_SHUTDOWN))
			procdev_kill(&vm->procs[i]);
	procdev_wait_exit(vm, now_ns() + timeout_ms * 1000000ull);
	for (unsigned i = 0; i < vm->nprocs; i++)
		procdev_kill(&vm->procs[i]);
	procdev_wait_exit(vm, now_ns() + 1000 * 1000000ull);
	for (unsigned i = 0; i < vm->nprocs; i++) {
		machine_traps_log(vm->procs[i].id, vm->procs[i].pci, vm->procs[i].traps,
				  (unsigned)vm->procs[i].spec.spec.n_regions);
		procdev_release(&vm->procs[i]);
	}
	free(vm->procs);
	vm->procs = NULL;
	vm->nprocs = 0;
}
