#include "devhost.h"

#include <errno.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "log.h"
#include "virtio_pci.h"
#include "vm.h"
#include "vpci.h"

#define TAG_QUEUE 0x80	/* pollfd tag: a queue doorbell, not a backend fd */
#define TAG_RESAMPLE 0x7f	/* pollfd tag: the INTx resample fd */
#define TAG_WAKE 0x7e		/* pollfd tag: the device's own wake fd */

static struct inproc_dev *host_dev(struct device_host *h)
{
	return h->opaque;
}

static void *inproc_mem_ptr(struct device_host *h, uint64_t gpa, uint64_t len)
{
	return gmem_ptr(&host_dev(h)->vm->mem, gpa, len);
}

static int inproc_irq_set(struct device_host *h, unsigned line, int level)
{
	struct inproc_dev *d = host_dev(h);
	struct kvm_irq_level irq;
	uint64_t one = 1;

	if (line >= d->spec.spec.n_irqs)
		return -EINVAL;
	if (d->pci && line == VPCI_INTX_LINE(d->pci)) {
		/* Level-triggered: asserted until EOI; the resample fd re-asserts. */
		d->intx_level = level;
		if (level && write(d->pci->intx_fd, &one, sizeof(one)) < 0)
			return -errno;
		return 0;
	}
	if (d->pci) {	/* an MSI-X vector: an edge through its irqfd */
		if (level && write(d->pci->irqfd[line], &one, sizeof(one)) < 0)
			return -errno;
		return 0;
	}
	irq.irq = d->spec.spec.irqs[line];
	irq.level = level ? 1 : 0;
	if (ioctl(d->vm->vm_fd, KVM_IRQ_LINE, &irq) < 0)
		return -errno;
	return 0;
}

int devhost_event(struct vm *vm, const char *id, enum device_event ev)
{
	char msg[96];

	switch (ev) {
	case DEV_EVENT_RESET:
		snprintf(msg, sizeof(msg), "%s: guest requested a reset", id);
		vm_request_stop(vm, VM_EXIT_OK, msg);
		return 0;
	case DEV_EVENT_POWEROFF:
		snprintf(msg, sizeof(msg), "%s: guest powered off", id);
		vm_request_stop(vm, VM_EXIT_OK, msg);
		return 0;
	case DEV_EVENT_NEEDS_RESET:
		return 0;	/* the device logged why; the guest may reset it */
	}
	return -EINVAL;
}

static int inproc_event(struct device_host *h, enum device_event ev)
{
	return devhost_event(host_dev(h)->vm, host_dev(h)->dev.id, ev);
}

static void inproc_log(struct device_host *h, int lvl, const char *id, const char *msg)
{
	vmm_log((enum log_level)lvl, id, "%s", msg);
}

/* Trap-bus handler: serialise with the control loop, note poll changes. */
static int inproc_trap(void *opaque, struct trap *t)
{
	struct inproc_dev *d = opaque;
	uint32_t mask;
	uint64_t one = 1;
	int ret;

	pthread_mutex_lock(&d->lock);
	mask = d->dev.poll_mask;
	ret = d->dev.ops->trap(&d->dev, t);
	if (d->dev.poll_mask != mask && write(d->wake_fd, &one, sizeof(one)) < 0)
		log_debug("%s: cannot wake the control loop", d->dev.id);
	pthread_mutex_unlock(&d->lock);
	return ret;
}

static int inproc_register(struct inproc_dev *d)
{
	for (size_t i = 0; i < d->spec.spec.n_regions; i++) {
		const Region *r = d->spec.spec.regions[i];
		struct trap_region tr = {
			.base = r->addr, .size = r->size, .bus = (uint8_t)r->bus,
			.region = (uint8_t)i, .name = d->dev.id,
			.fn = inproc_trap, .opaque = d, .served = &d->traps[i],
		};
		int err = trapbus_register(&d->vm->bus, &tr);

		if (err) {
			log_err("%s: region %zu at 0x%llx: %s", d->dev.id, i,
				(unsigned long long)r->addr, strerror(-err));
			return err;
		}
		d->nregistered++;
	}
	return 0;
}

static int inproc_pci(struct inproc_dev *d, const struct machine_dev *md)
{
	d->pci = vpci_new(d->vm, d->dev.id, md->pci, inproc_trap, d, d->traps, &d->spec);
	return d->pci ? 0 : -EIO;
}

static int inproc_create(struct vm *vm, struct inproc_dev *d, const struct machine_dev *md,
			 int wake_fd)
{
	int err;

	d->vm = vm;
	d->wake_fd = wake_fd;
	d->dev.ops = device_class_find(md->klass);
	if (!d->dev.ops) {
		log_err("device class '%s' is not built in", md->klass);
		return -ENOENT;
	}
	machine_dev_id(md, d->dev.id, sizeof(d->dev.id));
	d->host = (struct device_host){ .mem_ptr = inproc_mem_ptr, .irq_set = inproc_irq_set,
					.event = inproc_event, .log = inproc_log, .opaque = d };
	d->dev.host = &d->host;
	for (unsigned i = 0; i < DEVICE_MAX_FDS; i++)
		d->dev.fds[i] = i < md->nfds ? md->fds[i] : -1;
	d->dev.nfds = md->nfds < DEVICE_MAX_FDS ? md->nfds : DEVICE_MAX_FDS;
	machine_spec_build(md, vm->mem.total, &d->spec);
	if (pthread_mutex_init(&d->lock, NULL))
		return -ENOMEM;
	d->lock_ready = true;
	err = md->pci ? inproc_pci(d, md) : 0;
	if (!err)
		err = d->dev.ops->create(&d->dev, &d->spec.spec);
	if (err) {
		log_err("%s: create: %s", d->dev.id, strerror(-err));
		return err;
	}
	d->created = true;
	if (d->dev.ops->start && (err = d->dev.ops->start(&d->dev)))
		return err;	/* the device said why */
	return md->pci ? 0 : inproc_register(d);
}

void devhost_inproc_stop(struct vm *vm)
{
	for (unsigned i = 0; i < vm->ndevs; i++) {
		struct inproc_dev *d = &vm->devs[i];

		machine_traps_log(d->dev.id, d->pci, d->traps, (unsigned)d->spec.spec.n_regions);
		for (size_t r = 0; r < d->nregistered; r++)
			trapbus_unregister(&vm->bus, (enum trap_bus)d->spec.regions[r].bus,
					   d->spec.regions[r].addr);
		vpci_free(d->pci, vm->pci);
		if (d->created)
			d->dev.ops->destroy(&d->dev);
		if (d->lock_ready)
			pthread_mutex_destroy(&d->lock);
	}
	free(vm->devs);
	vm->devs = NULL;
	vm->ndevs = 0;
}

int devhost_inproc_start(struct vm *vm, const struct machine *m, int wake_fd)
{
	unsigned n = m->ndevs;
	const struct machine_dev *md = m->dev;
	int err = 0;

	vm->devs = calloc(n, sizeof(*vm->devs));
	if (!vm->devs)
		return -ENOMEM;
	vm->ndevs = n;
	for (unsigned i = 0; i < n && !err; i++)
		err = inproc_create(vm, &vm->devs[i], &md[i], wake_fd);
	if (err)
		devhost_inproc_stop(vm);
	return err;
}

unsigned devhost_inproc_pollfds(struct vm *vm, struct pollfd *pfds, uint32_t *tags,
				unsigned max)
{
	unsigned n = 0;

	for (unsigned i = 0; i < vm->ndevs; i++) {
		struct inproc_dev *d = &vm->devs[i];

		pthread_mutex_lock(&d->lock);
		for (unsigned f = 0; f < d->dev.nfds && n < max; f++) {
			if (!(d->dev.poll_mask & (1u << f)) || d->dev.fds[f] < 0)
				continue;
			pfds[n] = (struct pollfd){ .fd = d->dev.fds[f], .events = POLLIN };
			tags[n++] = i << 8 | f;
		}
		pthread_mutex_unlock(&d->lock);
		for (unsigned q = 0; d->pci && q < d->pci->nqueues && n < max; q++) {
			pfds[n] = (struct pollfd){ .fd = d->pci->ioeventfd[q], .events = POLLIN };
			tags[n++] = i << 8 | TAG_QUEUE | q;
		}
		if (d->pci && n < max) {
			pfds[n] = (struct pollfd){ .fd = d->pci->intx_resample_fd, .events = POLLIN };
			tags[n++] = i << 8 | TAG_RESAMPLE;
		}
		if (d->dev.ops->wake && n < max) {
			pfds[n] = (struct pollfd){ .fd = d->dev.wake_fd, .events = POLLIN };
			tags[n++] = i << 8 | TAG_WAKE;
		}
	}
	return n;
}

/* KVM resampled INTA at the guest's EOI: assert again if still held. */
static void inproc_intx_resample(struct inproc_dev *d)
{
	uint64_t v, one = 1;

	if (read(d->pci->intx_resample_fd, &v, sizeof(v)) < 0 || !d->intx_level)
		return;
	if (write(d->pci->intx_fd, &one, sizeof(one)) < 0)
		log_warn("%s: INTx: cannot assert: %s", d->dev.id, strerror(errno));
}

/* A queue doorbell (ioeventfd) fired: drain it and notify the device. */
static void inproc_notify(struct inproc_dev *d, unsigned q)
{
	uint64_t v;

	if (read(d->pci->ioeventfd[q], &v, sizeof(v)) < 0)
		return;	/* EAGAIN: already drained */
	if (d->dev.ops->notify)
		d->dev.ops->notify(&d->dev, q);
}

void devhost_inproc_backend(struct vm *vm, uint32_t tag)
{
	unsigned i = tag >> 8, f = tag & 0xff;
	struct inproc_dev *d;

	if (i >= vm->ndevs)
		return;
	d = &vm->devs[i];
	pthread_mutex_lock(&d->lock);
	if (f == TAG_RESAMPLE && d->pci)
		inproc_intx_resample(d);
	else if (f == TAG_WAKE && d->dev.ops->wake)
		d->dev.ops->wake(&d->dev);
	else if ((f & TAG_QUEUE) && d->pci && (f & ~TAG_QUEUE) < d->pci->nqueues)
		inproc_notify(d, f & ~TAG_QUEUE);
	else if (!(f & TAG_QUEUE) && d->dev.ops->backend && (d->dev.poll_mask & (1u << f)))
		d->dev.ops->backend(&d->dev, f);
	pthread_mutex_unlock(&d->lock);
}
