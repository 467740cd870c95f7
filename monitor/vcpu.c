/* vCPU threads: KVM_RUN and the exits that reach the monitor. */
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <poll.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "arch.h"
#include "confine.h"
#include "log.h"
#include "util.h"
#include "vm.h"

#define VCPU_KICK_SIGNAL SIGUSR1

struct vcpu {
	struct vm *vm;
	unsigned index;
	int fd;
	struct kvm_run *run;
	size_t run_size;
	pthread_t thread;
	_Atomic pid_t tid;	/* its thread's, once it runs: the kick's target */
	bool running;		/* thread started and not yet joined */
	_Atomic uint64_t exits, io, mmio;	/* KVM_RUN returns; of them port I/O and MMIO */
};

static pid_t monitor_pid;	/* the kick's tgkill names the process too */

static void vcpus_kick(struct vm *vm);

static const char *exit_reason_name(uint32_t r)
{
	static const char *const names[] = {
		[KVM_EXIT_UNKNOWN] = "KVM_EXIT_UNKNOWN",
		[KVM_EXIT_EXCEPTION] = "KVM_EXIT_EXCEPTION",
		[KVM_EXIT_IO] = "KVM_EXIT_IO",
		[KVM_EXIT_HYPERCALL] = "KVM_EXIT_HYPERCALL",
		[KVM_EXIT_DEBUG] = "KVM_EXIT_DEBUG",
		[KVM_EXIT_HLT] = "KVM_EXIT_HLT",
		[KVM_EXIT_MMIO] = "KVM_EXIT_MMIO",
		[KVM_EXIT_IRQ_WINDOW_OPEN] = "KVM_EXIT_IRQ_WINDOW_OPEN",
		[KVM_EXIT_SHUTDOWN] = "KVM_EXIT_SHUTDOWN (triple fault)",
		[KVM_EXIT_FAIL_ENTRY] = "KVM_EXIT_FAIL_ENTRY",
		[KVM_EXIT_INTR] = "KVM_EXIT_INTR",
		[KVM_EXIT_SET_TPR] = "KVM_EXIT_SET_TPR",
		[KVM_EXIT_TPR_ACCESS] = "KVM_EXIT_TPR_ACCESS",
		[KVM_EXIT_NMI] = "KVM_EXIT_NMI",
		[KVM_EXIT_INTERNAL_ERROR] = "KVM_EXIT_INTERNAL_ERROR",
		[KVM_EXIT_SYSTEM_EVENT] = "KVM_EXIT_SYSTEM_EVENT",
	};

	if (r < sizeof(names) / sizeof(names[0]) && names[r])
		return names[r];
	return "unknown exit";
}

/* Stop the VM as failed, naming the vCPU, what happened and where it was. */
static void vcpu_fail(struct vcpu *v, const char *what)
{
	char where[240], msg[480];	/* what: up to 160 bytes */

	arch_vcpu_where(v->fd, v->run->exit_reason == KVM_EXIT_SHUTDOWN, where, sizeof(where));
	snprintf(msg, sizeof(msg), "vCPU %u: %s%s", v->index, what, where);
	vm_request_stop(v->vm, VM_EXIT_FAILED, msg);
}

/* One KVM_EXIT_IO: `count` accesses of `size` bytes (rep ins/outs > 1). */
static void vcpu_handle_io(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	uint64_t bytes = (uint64_t)run->io.count * run->io.size;
	uint8_t *p = (uint8_t *)run + run->io.data_offset;

	if (run->io.size == 0 || run->io.size > 4 || run->io.data_offset > v->run_size ||
	    bytes > v->run_size - run->io.data_offset) {
		vcpu_fail(v, "malformed KVM_EXIT_IO");
		return;
	}
	for (uint32_t i = 0; i < run->io.count; i++, p += run->io.size) {
		struct trap t = {
			.bus = TRAP_PIO, .len = run->io.size, .vcpu = (uint16_t)v->index,
			.is_write = run->io.direction == KVM_EXIT_IO_OUT,
			.addr = run->io.port,
		};

		if (t.is_write)
			memcpy(t.data, p, t.len);
		trapbus_dispatch(&v->vm->bus, &t);
		if (!t.is_write)
			memcpy(p, t.data, t.len);
	}
}

static void vcpu_handle_mmio(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	struct trap t = {
		.bus = TRAP_MMIO, .len = (uint8_t)run->mmio.len, .vcpu = (uint16_t)v->index,
		.is_write = run->mmio.is_write, .addr = run->mmio.phys_addr,
	};

	if (t.len == 0 || t.len > 8) {
		vcpu_fail(v, "malformed KVM_EXIT_MMIO");
		return;
	}
	if (t.is_write)
		memcpy(t.data, run->mmio.data, t.len);
	trapbus_dispatch(&v->vm->bus, &t);
	if (!t.is_write)
		memcpy(run->mmio.data, t.data, t.len);
}

static void vcpu_handle_system_event(struct vcpu *v)
{
	switch (v->run->system_event.type) {
	case KVM_SYSTEM_EVENT_SHUTDOWN:
		vm_request_stop(v->vm, VM_EXIT_OK, "guest powered off");
		break;
	case KVM_SYSTEM_EVENT_RESET:
		vm_request_stop(v->vm, VM_EXIT_OK, "guest reset");
		break;
	default:
		vcpu_fail(v, "guest crash (KVM_EXIT_SYSTEM_EVENT)");
	}
}

static void vcpu_handle_exit(struct vcpu *v)
{
	struct kvm_run *run = v->run;
	char what[160];

	switch (run->exit_reason) {
	case KVM_EXIT_IO:
		vcpu_handle_io(v);
		return;
	case KVM_EXIT_MMIO:
		vcpu_handle_mmio(v);
		return;
	case KVM_EXIT_INTR:
		return;
	case KVM_EXIT_SYSTEM_EVENT:
		vcpu_handle_system_event(v);
		return;
	case KVM_EXIT_INTERNAL_ERROR:
		snprintf(what, sizeof(what), "%s, suberror %u (an instruction KVM cannot emulate?)",
			 exit_reason_name(run->exit_reason), run->internal.suberror);
		break;
	case KVM_EXIT_FAIL_ENTRY:
		snprintf(what, sizeof(what), "%s, hardware reason 0x%llx",
			 exit_reason_name(run->exit_reason),
			 (unsigned long long)run->fail_entry.hardware_entry_failure_reason);
		break;
	default:
		snprintf(what, sizeof(what), "%s (exit reason %u)",
			 exit_reason_name(run->exit_reason), run->exit_reason);
	}
	vcpu_fail(v, what);
}

/*
 * One more in a counter only its vCPU writes (others read it for vmm-ctl):
 * a relaxed load and store, not a locked read-modify-write on every exit.
 */
static inline void count_one(_Atomic uint64_t *c)
{
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + 1,
			      memory_order_relaxed);
}

/* Paused (vcpus_pause): wait, out of KVM_RUN, until resumed or stopped. */
static void vcpu_park(struct vcpu *v)
{
	struct vm *vm = v->vm;

	atomic_fetch_add(&vm->parked, 1);
	while (atomic_load(&vm->paused) && !atomic_load(&vm->stopping)) {
		struct timespec nap = { .tv_nsec = 100000000 };	/* a missed wake costs this */

		syscall(SYS_futex, &vm->paused, FUTEX_WAIT_PRIVATE, 1, &nap, NULL, 0);
	}
	v->run->immediate_exit = 0;
	atomic_fetch_sub(&vm->parked, 1);
}

static void *vcpu_thread(void *arg)
{
	struct vcpu *v = arg;
	char name[16];
	sigset_t set;

	snprintf(name, sizeof(name), "vcpu%u", v->index);
	pthread_setname_np(pthread_self(), name);
	sigemptyset(&set);
	sigaddset(&set, VCPU_KICK_SIGNAL);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	atomic_store(&v->tid, (pid_t)syscall(SYS_gettid));
	if (confine_thread(v->vm->confine, (int)v->index)) {
		vm_request_stop(v->vm, VM_EXIT_FAILED, NULL);
		return NULL;
	}

	while (!atomic_load(&v->vm->stopping)) {
		if (atomic_load(&v->vm->paused)) {
			vcpu_park(v);
			continue;
		}
		if (ioctl(v->fd, KVM_RUN, 0) < 0) {
			if (errno == EINTR || errno == EAGAIN)
				continue;
			char what[96];

			snprintf(what, sizeof(what), "KVM_RUN failed: %s", strerror(errno));
			vcpu_fail(v, what);
			break;
		}
		count_one(&v->exits);
		if (v->run->exit_reason == KVM_EXIT_IO)
			count_one(&v->io);
		else if (v->run->exit_reason == KVM_EXIT_MMIO)
			count_one(&v->mmio);
		vcpu_handle_exit(v);
	}
	return NULL;
}

static void vcpu_kick_handler(int sig)
{
	(void)sig;	/* only there to make KVM_RUN return EINTR */
}

static int vcpu_create(struct vm *vm, struct vcpu *v, unsigned index,
		       const struct arch_boot *boot)
{
	int mmap_size, err;

	v->vm = vm;
	v->index = index;
	v->fd = ioctl(vm->vm_fd, KVM_CREATE_VCPU, (unsigned long)index);
	if (v->fd < 0)
		goto fail_errno;
	mmap_size = ioctl(vm->kvm_fd, KVM_GET_VCPU_MMAP_SIZE, 0);
	if (mmap_size < (int)sizeof(struct kvm_run))
		goto fail_errno;
	v->run_size = (size_t)mmap_size;
	v->run = mmap(NULL, v->run_size, PROT_READ | PROT_WRITE, MAP_SHARED, v->fd, 0);
	if (v->run == MAP_FAILED) {
		v->run = NULL;
		goto fail_errno;
	}
	err = arch_vcpu_init(vm, v->fd, index, boot);
	if (err)
		log_err("vCPU %u: setting it up: %s", index, strerror(-err));
	return err;
fail_errno:
	err = errno ? -errno : -EINVAL;
	log_err("vCPU %u: %s", index, strerror(-err));
	return err;
}

static void vcpu_release(struct vcpu *v)
{
	if (v->run)
		munmap(v->run, v->run_size);
	if (v->fd >= 0)
		close(v->fd);
}

static int kick_signal_install(void)
{
	struct sigaction sa = { .sa_handler = vcpu_kick_handler };
	sigset_t set;

	sigemptyset(&sa.sa_mask);
	if (sigaction(VCPU_KICK_SIGNAL, &sa, NULL) < 0)
		return -errno;
	/* Blocked everywhere but in vCPU threads, so a kick finds its target. */
	sigemptyset(&set);
	sigaddset(&set, VCPU_KICK_SIGNAL);
	return -pthread_sigmask(SIG_BLOCK, &set, NULL);
}

/* The vCPUs' fds, in index order, into fds (room for VM_MAX_CPUS). */
static void vcpu_fds(const struct vm *vm, int *fds)
{
	for (unsigned i = 0; i < vm->ncpus; i++)
		fds[i] = vm->vcpus[i].fd;
}

/* Every thread's filter, built before the first vCPU thread starts. */
static int vcpus_confine_prepare(struct vm *vm, const struct confine_opts *co)
{
	int fds[VM_MAX_CPUS], err;

	vcpu_fds(vm, fds);
	vm->confine = confine_prepare(co, vm->vm_fd, fds, vm->ncpus, &err);
	return err;
}

int vcpus_create(struct vm *vm, struct arch_boot *boot)
{
	int fds[VM_MAX_CPUS], err = kick_signal_install();

	if (err)
		return err;
	monitor_pid = getpid();
	vm->vcpus = calloc(vm->ncpus, sizeof(*vm->vcpus));
	if (!vm->vcpus)
		return -ENOMEM;
	for (unsigned i = 0; i < vm->ncpus; i++)
		vm->vcpus[i].fd = -1;
	for (unsigned i = 0; i < vm->ncpus && !err; i++)
		err = vcpu_create(vm, &vm->vcpus[i], i, boot);
	if (err)
		return err;
	vcpu_fds(vm, fds);
	return arch_vcpus_ready(vm, fds, vm->ncpus, boot);
}

int vcpus_start(struct vm *vm, const struct confine_opts *co)
{
	int err = 0;

	if (co->mode != SANDBOX_OFF)
		err = vcpus_confine_prepare(vm, co);
	for (unsigned i = 0; i < vm->ncpus && !err; i++) {
		err = -pthread_create(&vm->vcpus[i].thread, NULL, vcpu_thread, &vm->vcpus[i]);
		vm->vcpus[i].running = !err;
		if (err)
			log_err("vCPU %u: cannot start thread: %s", i, strerror(-err));
	}
	if (err) {
		vm_request_stop(vm, VM_EXIT_FAILED, NULL);
		vcpus_stop(vm, 1000);
	}
	return err;
}

int vcpus_pause(struct vm *vm, unsigned timeout_ms)
{
	uint64_t deadline = now_ns() + timeout_ms * 1000000ull;

	if (!vm->vcpus)
		return -EAGAIN;
	atomic_store(&vm->paused, 1);
	while (atomic_load(&vm->parked) < vm->ncpus) {
		if (atomic_load(&vm->stopping))
			return -ECANCELED;
		if (now_ns() >= deadline)
			return -ETIMEDOUT;	/* stays paused: each vCPU parks when it can */
		vcpus_kick(vm);
		poll(NULL, 0, 1);
	}
	return 0;
}

void vcpus_resume(struct vm *vm)
{
	atomic_store(&vm->paused, 0);
	syscall(SYS_futex, &vm->paused, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

void vcpus_counts(const struct vm *vm, unsigned i, uint64_t *exits, uint64_t *io, uint64_t *mmio)
{
	const struct vcpu *v = &vm->vcpus[i];

	*exits = atomic_load_explicit(&v->exits, memory_order_relaxed);
	*io = atomic_load_explicit(&v->io, memory_order_relaxed);
	*mmio = atomic_load_explicit(&v->mmio, memory_order_relaxed);
}

static void vcpus_kick(struct vm *vm)
{
	for (unsigned i = 0; i < vm->ncpus; i++) {
		struct vcpu *v = &vm->vcpus[i];

		if (!v->running)
			continue;
		if (v->run)
			v->run->immediate_exit = 1;
		/* tgkill, not pthread_kill: that blocks signals around it, which confinement forbids */
		if (atomic_load(&v->tid) > 0)
			syscall(SYS_tgkill, monitor_pid, atomic_load(&v->tid), VCPU_KICK_SIGNAL);
	}
}

int vcpus_stop(struct vm *vm, unsigned timeout_ms)
{
	uint64_t deadline = (uint64_t)timeout_ms * 1000000ull;
	uint64_t waited = 0;
	int ret = 0;

	if (!vm->vcpus)
		return 0;
	for (unsigned i = 0; i < vm->ncpus; i++) {
		struct vcpu *v = &vm->vcpus[i];

		while (v->running) {
			struct timespec ts;

			vcpus_kick(vm);
			clock_gettime(CLOCK_REALTIME, &ts);
			ts.tv_nsec += 10000000;
			if (ts.tv_nsec >= 1000000000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000;
			}
			if (pthread_timedjoin_np(v->thread, NULL, &ts) == 0)
				v->running = false;
			else if ((waited += 10000000) >= deadline)
				break;
		}
		if (v->running) {
			log_err("vCPU %u did not stop within %u ms", i, timeout_ms);
			ret = -ETIMEDOUT;
		}
	}
	for (unsigned i = 0; i < vm->ncpus && ret == 0; i++)
		vcpu_release(&vm->vcpus[i]);
	if (ret == 0) {
		free(vm->vcpus);
		vm->vcpus = NULL;
	}
	return ret;
}
