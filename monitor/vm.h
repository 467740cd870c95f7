/*
 * One virtual machine: the KVM VM and its vCPUs, guest RAM (a sealed
 * memfd), the trap bus, the devices, and the reason it stopped.
 */
#ifndef VMM_MONITOR_VM_H
#define VMM_MONITOR_VM_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "gmem.h"
#include "irq.h"
#include "trapbus.h"

/* Exit statuses of vmm-monitor. */
#define VM_EXIT_OK      0	/* guest powered off, reset, or user quit */
#define VM_EXIT_FAILED  1	/* the VM failed: fault, KVM error, device */
#define VM_EXIT_USAGE   2	/* bad command line or input */
#define VM_EXIT_NO_KVM  3	/* this machine has no usable /dev/kvm */

#define VM_MIN_MEM   (16ULL << 20)
#define VM_MAX_CPUS  64

struct vcpu;
struct confine;
struct confine_opts;
struct vdev;
struct pci_host;
struct arch_boot;

struct vm_config {
	const char *kernel;
	const char *initrd;	/* NULL: none */
	const char *cmdline;
	uint64_t mem_size;
	unsigned ncpus;
};

struct vm {
	int kvm_fd;
	int vm_fd;
	int mem_fd;		/* guest RAM memfd, sealed against grow/shrink */
	int irqchip_fd[2];	/* arm64: the vGICv3 and its ITS (KVM devices); -1 elsewhere */
	struct gmem mem;
	unsigned ncpus;
	struct vcpu *vcpus;
	struct trapbus bus;
	struct irq_routes irq;	/* GSI routing (irqchip pins, MSI vectors) */
	bool irq_ready;		/* irq initialised */
	int stop_fd;		/* eventfd: the control loop wakes on a stop */
	_Atomic int stopping;	/* set once; the first stop request wins */
	int exit_status;	/* VM_EXIT_*, valid once stopping */
	struct vdev *devs;	/* the machine's devices, wherever they run (vdev.h) */
	unsigned ndevs;
	struct pci_host *pci;	/* bus 0 (borrowed) */
	struct confine *confine;	/* the threads' filters (confine.h); NULL: unconfined */
	_Atomic int paused;		/* vcpus_pause: vCPUs stay out of KVM_RUN (a futex word) */
	_Atomic unsigned parked;	/* vCPUs waiting while paused */
};

/*
 * Create the VM for cfg: open /dev/kvm, create the VM with its in-kernel
 * interrupt controller (arch_vm_init), guest RAM, the trap bus. Returns 0 or -errno, having
 * logged one line that says what failed; on error nothing is left open.
 * -ENODEV means exactly that /dev/kvm is missing or cannot be opened (the
 * line then names the way out).
 */
int vm_create(struct vm *vm, const struct vm_config *cfg)
	__attribute__((warn_unused_result));

/*
 * Log one line if the host keeps shared memory, and so guest RAM, off
 * transparent huge pages (shmem_enabled never or deny). For a VM about to
 * run: an error before that is the only line a user should see.
 */
void vm_hugepage_hint(void);

/* A VM ioctl; on failure one line "what: error" is logged and -errno returned. */
int vm_ioctl(struct vm *vm, unsigned long req, void *arg, const char *what);

/* Undo vm_create (vCPU threads must have ended). */
void vm_destroy(struct vm *vm);

/*
 * Ask the VM to stop with exit status `status`; `why` is logged (NULL: log
 * nothing). The first request wins; later ones are ignored. Safe from any
 * thread, including vCPU threads inside a trap handler.
 */
void vm_request_stop(struct vm *vm, int status, const char *why);

/*
 * A failure found while the VM is already stopping (a device's sandbox
 * violation on its way out): `why` is logged as an error and the exit
 * status becomes VM_EXIT_FAILED, whatever stopped the VM. Control loop only.
 */
void vm_fail_late(struct vm *vm, const char *why);

/* Like vm_request_stop but only from a signal handler (no logging). */
void vm_request_stop_signal(struct vm *vm, int status);

/*
 * Create the vCPUs (arch_vcpu_init each, then arch_vcpus_ready: on arm64
 * the vGIC is initialised there, which KVM_IRQFD needs, so this comes
 * before the devices start). No thread runs yet. Returns 0 or -errno
 * (logged); vcpus_stop releases what was made.
 */
int vcpus_create(struct vm *vm, struct arch_boot *boot) __attribute__((warn_unused_result));

/*
 * Start one thread per vCPU. With co->mode LOG or STRICT (enum
 * sandbox_mode), every thread's filter is built first (vm->confine) and
 * each vCPU thread loads its own before its first KVM_RUN; the caller then
 * confines the main thread (confine.h). Returns 0 or -errno (logged); on
 * error no thread is left running.
 */
int vcpus_start(struct vm *vm, const struct confine_opts *co)
	__attribute__((warn_unused_result));

/*
 * Pause the guest: every vCPU leaves KVM_RUN and waits (a vCPU waiting for
 * a device's answer parks once it has it). Returns 0 once all are parked,
 * -ETIMEDOUT after timeout_ms (the VM stays paused; the rest park as they
 * can), -ECANCELED if the VM is stopping, -EAGAIN before the vCPUs exist.
 * Control loop only.
 */
int vcpus_pause(struct vm *vm, unsigned timeout_ms);

/* Let paused vCPUs run again. */
void vcpus_resume(struct vm *vm);

/* vCPU i's counts since it started: KVM_RUN returns, of them port I/O and MMIO exits. */
void vcpus_counts(const struct vm *vm, unsigned i, uint64_t *exits, uint64_t *io, uint64_t *mmio);

/*
 * Kick every vCPU out of KVM_RUN and join its thread, waiting at most
 * timeout_ms in all. Returns 0, or -ETIMEDOUT if a thread would not end.
 */
int vcpus_stop(struct vm *vm, unsigned timeout_ms);

/* Read host RAM limit in bytes (MemTotal); 0 if unknown. */
uint64_t vm_host_mem_limit(void);

/* Largest --cpus this host's KVM allows (bounded by VM_MAX_CPUS). */
unsigned vm_max_cpus(void);

#endif
