/*
 * The device-process host, spawning: have the spawner start vmm-devproc,
 * make the ring, irqfds and doorbell it is handed, and send its Setup.
 * See host_process.h.
 */
#include "host_process.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
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
#include <unistd.h>

#include "control.h"
#include "log.h"
#include "sandbox.h"
#include "spawner.h"
#include "state.h"
#include "util.h"
#include "vm.h"

/*
 * The device's control socket, and vmm-devproc started by the spawner with
 * the other end. The monitor's end does not block: a device that stops
 * reading its socket fills it (a connected pair is bounded by the send
 * buffer only: some 280 small packets), and a blocking send would then
 * hold the control loop - console input, other devices' stop events,
 * vmm-ctl - for as long as it liked.
 */
static int process_exec(struct process_dev *d)
{
	int sv[2], err;
	pid_t pid = -1;

	if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv) < 0)
		return -errno;
	if (fcntl(sv[0], F_SETFL, O_NONBLOCK) < 0) {
		err = -errno;
		close(sv[0]);
		close(sv[1]);
		return err;
	}
	err = spawner_spawn(d->cfg.spawner, d->vdev->id, d->vm_name, d->sandbox, sv[1],
			    &pid, &d->pidfd);
	atomic_store(&d->pid, pid);
	close(sv[1]);
	d->sock = sv[0];
	if (err)
		log_err("device %s: cannot start vmm-devproc: %s", d->vdev->id, strerror(-err));
	return err;
}

/* ---- Resources handed to the device ---- */

/*
 * A sealed memfd "vmm-KIND-ID" of size bytes shared with the device
 * (rings, state region), mapped here. 0 or -errno (*fd may be open).
 */
static int shm_create(struct process_dev *d, const char *kind, size_t size, int *fd, void **map)
{
	char name[48];
	void *p;

	snprintf(name, sizeof(name), "vmm-%s-%s", kind, d->vdev->id);
	*fd = memfd_create(name, MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (*fd < 0 || ftruncate(*fd, (off_t)size) < 0 ||
	    fcntl(*fd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
		return -errno;
	p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, *fd, 0);
	if (p == MAP_FAILED)
		return -errno;
	*map = p;
	return 0;
}

/* The state region: formatted once, kept across the device's processes (unmapped here). */
static int state_create(struct process_dev *d)
{
	void *p;
	int err;

	d->state_size = state_region_size();
	err = shm_create(d, "state", d->state_size, &d->state_fd, &p);
	if (err)
		return err;
	err = state_region_init(p, d->state_size);
	munmap(p, d->state_size);
	return err;
}

static int ring_create(struct process_dev *d, unsigned ncpus)
{
	void *p;
	int err;

	d->ring_size = ring_shm_size(ncpus);
	err = shm_create(d, "ring", d->ring_size, &d->ring_fd, &p);
	if (err)
		return err;
	d->ring = p;
	d->shadow = ring_shadow_of(d->ring, ncpus);
	return ring_shm_init(d->ring, d->ring_size, ncpus);
}

/* A device that is not a PCI function: one irqfd per line (vpci owns a function's). */
static int irqfds_create(struct process_dev *d)
{
	const struct device_spec *spec = &d->vdev->spec.spec;

	for (size_t i = 0; i < spec->nirqs; i++) {
		struct kvm_irqfd irqfd = { .gsi = spec->irqs[i] };

		d->irq_fds[i] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (d->irq_fds[i] < 0)
			return -errno;
		irqfd.fd = (uint32_t)d->irq_fds[i];
		if (ioctl(d->vdev->vm->vm_fd, KVM_IRQFD, &irqfd) < 0)
			return -errno;
	}
	return 0;
}

static int producers_create(struct process_dev *d, const struct vdev_cfg *cfg)
{
	unsigned n = d->vdev->vm->ncpus;

	d->prod = calloc(n, sizeof(*d->prod));
	if (!d->prod)
		return -ENOMEM;
	for (unsigned v = 0; v < n; v++)
		ring_producer_init(&d->prod[v], d->ring, v, d->doorbell_fd, &d->dead);
	d->wait = (struct ring_wait_cfg){ .spin_ns = cfg->vcpu_spin_ns,
					  .deadline_ns = cfg->timeout_ns };
	return 0;
}

static int process_resources(struct process_dev *d, const struct vdev_cfg *cfg)
{
	int err;

	d->doorbell_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	if (d->doorbell_fd < 0)
		return -errno;
	err = ring_create(d, d->vdev->vm->ncpus);
	if (!err)
		err = state_create(d);
	if (!err && !d->vdev->pci)
		err = irqfds_create(d);
	if (!err)
		err = producers_create(d, cfg);
	return err;
}

/* ---- Setup ---- */

/* The fds after the fixed three: irqs, queue doorbells, INTx resample, backend fds. */
static unsigned setup_fds(const struct process_dev *d, const struct machine_dev *md, int *fds)
{
	const struct vpci *pci = d->vdev->pci;
	unsigned n = CONTROL_FD_FIXED;

	fds[CONTROL_FD_GUEST_MEM] = d->vdev->vm->mem_fd;
	fds[CONTROL_FD_RING] = d->ring_fd;
	fds[CONTROL_FD_DOORBELL] = d->doorbell_fd;
	fds[CONTROL_FD_STATE] = d->state_fd;
	for (size_t i = 0; i < d->vdev->spec.spec.nirqs; i++)
		fds[n++] = !pci ? d->irq_fds[i]
			 : i == VPCI_INTX_LINE(pci) ? pci->intx_fd : pci->irqfd[i];
	for (unsigned q = 0; pci && q < pci->nqueues; q++)
		fds[n++] = pci->ioeventfd[q];
	if (pci)
		fds[n++] = pci->intx_resample_fd;
	for (unsigned i = 0; i < md->nfds; i++)
		fds[n++] = md->fds[i];
	return n;
}

static int process_send_setup(struct process_dev *d, bool restore)
{
	const struct machine_dev *md = d->md;
	const struct vdev_cfg *cfg = &d->cfg;
	ControlMsg m = CONTROL_MSG__INIT;
	Setup s = SETUP__INIT;
	struct control_wire_spec wire;
	MemRange mr[GMEM_MAX_RANGES], *mrp[GMEM_MAX_RANGES];
	int fds[CONTROL_MAX_FDS];
	const struct gmem *gm = &d->vdev->vm->mem;
	const struct vpci *pci = d->vdev->pci;

	for (unsigned i = 0; i < gm->nranges; i++) {
		mem_range__init(&mr[i]);
		mr[i].gpa = gm->r[i].gpa;
		mr[i].size = gm->r[i].size;
		mr[i].fd_offset = gm->r[i].fd_offset;
		mrp[i] = &mr[i];
	}
	control_spec_to_wire(&d->vdev->spec.spec, &wire);
	s.spec = &wire.spec;
	s.n_mem = gm->nranges;
	s.mem = mrp;
	s.mem_total = gm->total;
	s.nvcpus = d->vdev->vm->ncpus;
	s.ring_size = d->ring_size;
	s.spin_ns = cfg->dev_spin_ns;
	s.vm_name = d->vm_name;
	s.state_size = d->state_size;
	s.has_restore = restore;
	s.restore = restore;
	s.has_sandbox = true;
	s.sandbox = cfg->sandbox;
	s.n_queue_fds = pci ? pci->nqueues : 0;
	s.has_n_queue_fds = 1;
	if (pci) {
		s.has_intx_line = 1;
		s.intx_line = (int32_t)VPCI_INTX_LINE(pci);
	}
	s.n_backend_fds = md->nfds;
	m.body_case = CONTROL_MSG__BODY_SETUP;
	m.setup = &s;
	return control_send(d->sock, &m, fds, setup_fds(d, md, fds));
}

int process_spawn(struct process_dev *d, const struct machine_dev *md,
		  const struct vdev_cfg *cfg)
{
	int err;

	d->md = md;
	d->cfg = *cfg;
	snprintf(d->vm_name, sizeof(d->vm_name), "%s", cfg->vm_name ? cfg->vm_name : "vm");
	d->cfg.vm_name = d->vm_name;
	err = process_resources(d, cfg);
	if (!err)
		err = process_exec(d);
	if (!err)
		err = process_send_setup(d, false);
	return err;
}

int process_respawn(struct process_dev *d)
{
	int err = process_exec(d);

	if (!err)
		err = process_send_setup(d, true);
	return err;
}

static void close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

void process_release(struct process_dev *d)
{
	const struct device_spec *spec = &d->vdev->spec.spec;

	for (size_t i = 0; i < DEVICE_MAX_IRQS; i++) {
		if (d->irq_fds[i] >= 0) {
			struct kvm_irqfd irqfd = { .fd = (uint32_t)d->irq_fds[i],
						   .gsi = spec->irqs[i],
						   .flags = KVM_IRQFD_FLAG_DEASSIGN };

			ioctl(d->vdev->vm->vm_fd, KVM_IRQFD, &irqfd);
		}
		close_fd(&d->irq_fds[i]);
	}
	if (d->ring)
		munmap(d->ring, d->ring_size);
	free(d->prod);
	close_fd(&d->ring_fd);
	close_fd(&d->state_fd);
	close_fd(&d->doorbell_fd);
	close_fd(&d->sock);
	close_fd(&d->pidfd);
}
