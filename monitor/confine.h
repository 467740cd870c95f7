/*
 * The monitor's own confinement (DESIGN.md, "Faults"): once the VM is set
 * up, each monitor thread runs under a seccomp filter made for what that
 * thread does, with `--sandbox strict` (a forbidden syscall ends the
 * monitor: status 159, the thread and syscall named on stderr) or `log`
 * (each one reported once per thread and run). `--sandbox off` and
 * `--devices inproc` leave the monitor unconfined.
 *
 * Threads and what they may do (the rules, each with its reason, are in
 * confine.c; `vmm-monitor --print-profile main|vcpu` prints them):
 *   main    the control loop: poll, device control sockets and pidfds,
 *           the terminal, ending the VM (no fork, exec, socket or open
 *           but /proc read-only: device processes are started by the
 *           spawner, spawner.h)
 *   vcpuN   KVM_RUN and KVM_GET_REGS on its own vCPU fd only; the VM fd
 *           ioctls a guest's PCI writes make (MSI routes, irqfds,
 *           ioeventfds); its rings' futex and doorbells; /proc reads and
 *           SIGKILL for a device that stops answering
 * Device processes and the vsock broker confine themselves (sandbox.h,
 * vsock_broker.h); the spawner is not confined (spawner.h says why).
 *
 * Order: confine_prepare in the main thread once the devices run and the
 * vCPUs exist, before their threads start (it builds every filter while
 * libseccomp can still allocate and the process is single-threaded);
 * confine_thread in each vCPU thread before its first KVM_RUN, and in the
 * main thread once every vCPU thread is started.
 */
#ifndef VMM_MONITOR_CONFINE_H
#define VMM_MONITOR_CONFINE_H

#include <stdio.h>

#include "sandbox.h"

#define CONFINE_MAIN (-1)	/* confine_thread's index for the main thread */

struct confine;

/* What the monitor was told to confine itself for. */
struct confine_opts {
	unsigned mode;		/* enum sandbox_mode; OFF: not confined */
	int api_fd;		/* the control API's listener (api.h), or -1 */
	const char *api_path;	/* its socket's path: removed at the end */
};

/*
 * Build the filters of the main thread and of vCPUs 0..ncpus-1 (vcpu_fds[i]
 * is vCPU i's fd) for o->mode LOG or STRICT. -v logs each thread's syscall
 * count. Returns the object or NULL with *err set (logged).
 */
struct confine *confine_prepare(const struct confine_opts *o, int vm_fd, const int *vcpu_fds,
				unsigned ncpus, int *err);

/*
 * Load the calling thread's filter: index is its vCPU's, or CONFINE_MAIN.
 * 0 or -errno (logged). c may be NULL: nothing to do.
 */
int confine_thread(struct confine *c, int index) __attribute__((warn_unused_result));

/* The profile thread index (CONFINE_MAIN or a vCPU's) loads, for tests; NULL if none. */
const struct sandbox_profile *confine_profile(const struct confine *c, int index);

/* Free what confine_prepare made (threads keep their filters). */
void confine_free(struct confine *c);

/*
 * --print-profile ROLE for "main" or "vcpu": the rules as
 * sandbox_profile_print shows a device's. 0, or -ENOENT for another role.
 */
int confine_print_profile(const char *role, FILE *f);

/*
 * vmm-monitor-test only (monitor/testhook.c; vmm-monitor has no such
 * function): called by each thread right after its filter is loaded, with
 * the thread's name, to attempt what $VMM_TEST_MONITOR_ATTEMPT names.
 */
void monitor_test_attempt(const char *thread) __attribute__((weak));

#endif
