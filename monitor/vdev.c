/* The machine's devices, whichever host runs their models (contract in vdev.h). */
#include "vdev.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "util.h"
#include "vm.h"
#include "vpci.h"

#define TAG_DEV_SHIFT 16	/* a poll tag: device index, then the host's code */

bool vdev_shadow_read(struct vdev *d, struct ring_shadow *sh, struct ring_header *rings,
		      struct trap *t)
{
	if (!ring_shadow_read(sh, rings, d->vm->ncpus, t))
		return false;
	atomic_fetch_add_explicit(&d->shadowed[t->region], 1, memory_order_relaxed);
	return true;
}

int vdev_event(struct vdev *d, enum device_event ev)
{
	char msg[96];

	if ((unsigned)ev >= 32 || !(d->cls->events & DEVICE_EVENT_BIT(ev)))
		return -EPERM;
	switch (ev) {
	case DEV_EVENT_RESET:
		snprintf(msg, sizeof(msg), "%s: guest requested a reset", d->id);
		vm_request_stop(d->vm, VM_EXIT_OK, msg);
		return 0;
	case DEV_EVENT_POWEROFF:
		snprintf(msg, sizeof(msg), "%s: guest powered off", d->id);
		vm_request_stop(d->vm, VM_EXIT_OK, msg);
		return 0;
	case DEV_EVENT_NEEDS_RESET:
		return 0;	/* the device logged why; the guest may reset it */
	}
	return -EPERM;
}

/* A device's own regions (not a PCI function's BARs: vpci places those). */
static int vdev_register(struct vdev *d)
{
	for (size_t i = 0; i < d->spec.spec.nregions; i++) {
		const struct device_region *r = &d->spec.spec.regions[i];
		struct trap_region tr = {
			.base = r->addr, .size = r->size, .bus = (uint8_t)r->bus,
			.region = (uint8_t)i, .name = d->id,
			.fn = d->host->trap, .opaque = d, .served = &d->traps[i],
			.lat = d->lat[i],
		};
		int err = trapbus_register(&d->vm->bus, &tr);

		if (err) {
			log_err("%s: region %zu at 0x%llx: %s", d->id, i,
				(unsigned long long)r->addr, strerror(-err));
			return err;
		}
		d->nregistered++;
	}
	return 0;
}

static int vdev_create(struct vm *vm, const struct vdev_host *host, struct vdev *d,
		       const struct machine_dev *md, const struct vdev_cfg *cfg)
{
	int err;

	d->vm = vm;
	d->host = host;
	d->cls = md->cls;
	machine_dev_id(md, d->id, sizeof(d->id));
	machine_spec_build(md, vm->mem.total, &d->spec);
	if (d->cls->virtio) {
		d->pci = vpci_new(vm, d->id, d->cls->virtio, host->trap, d, d->traps, &d->spec);
		if (!d->pci)
			return -EIO;
		d->pci->bar0_lat = &d->lat[0][0];
	}
	err = host->create(d, md, cfg);
	if (!err && !d->pci)
		err = vdev_register(d);
	return err;
}

static void vdevs_release(struct vm *vm)
{
	for (unsigned i = 0; i < vm->ndevs; i++) {
		struct vdev *d = &vm->devs[i];

		machine_traps_log(d->id, d->pci, d->traps, d->shadowed, (unsigned)d->spec.spec.nregions);
		for (size_t r = 0; r < d->nregistered; r++)
			trapbus_unregister(&vm->bus, (enum trap_bus)d->spec.spec.regions[r].bus,
					   d->spec.spec.regions[r].addr);
		vpci_free(d->pci, vm->pci);
		d->host->release(d);
	}
	free(vm->devs);
	vm->devs = NULL;
	vm->ndevs = 0;
}

void vdevs_stop(struct vm *vm, unsigned timeout_ms)
{
	if (vm->ndevs && vm->devs[0].host->stop)
		vm->devs[0].host->stop(vm, timeout_ms);
	vdevs_release(vm);
}

void vdevs_quiesce(struct vm *vm)
{
	if (vm->ndevs && vm->devs[0].host->quiesce)
		vm->devs[0].host->quiesce(vm);
}

void vdevs_abandon(struct vm *vm)
{
	if (vm->ndevs && vm->devs[0].host->stop)
		vm->devs[0].host->stop(vm, 0);
}

int vdevs_start(struct vm *vm, const struct vdev_host *host, const struct machine *m,
		const struct vdev_cfg *cfg)
{
	int err = 0;

	vm->devs = calloc(m->ndevs, sizeof(*vm->devs));
	if (!vm->devs)
		return -ENOMEM;
	for (unsigned i = 0; i < m->ndevs && !err; i++) {
		vm->ndevs = i + 1;
		err = vdev_create(vm, host, &vm->devs[i], &m->dev[i], cfg);
	}
	if (!err && host->ready)
		err = host->ready(vm);
	if (err)
		vdevs_stop(vm, 0);
	return err;
}

unsigned vdevs_pollfds(struct vm *vm, struct pollfd *pfds, uint32_t *tags, unsigned max)
{
	uint16_t codes[VDEV_MAX_POLL];
	unsigned n = 0;

	for (unsigned i = 0; i < vm->ndevs && n < max; i++) {
		struct vdev *d = &vm->devs[i];
		unsigned room = max - n < VDEV_MAX_POLL ? max - n : VDEV_MAX_POLL;
		unsigned got = d->impl ? d->host->pollfds(d, pfds + n, codes, room) : 0;

		for (unsigned k = 0; k < got; k++)
			tags[n + k] = i << TAG_DEV_SHIFT | codes[k];
		n += got;
	}
	return n;
}

void vdevs_handle(struct vm *vm, uint32_t tag, short revents)
{
	unsigned i = tag >> TAG_DEV_SHIFT;

	if (i < vm->ndevs && vm->devs[i].impl)
		vm->devs[i].host->handle(&vm->devs[i], (uint16_t)tag, revents);
}

int vdevs_tick(struct vm *vm)
{
	uint64_t now = now_ns();
	int next = -1;

	for (unsigned i = 0; i < vm->ndevs; i++) {
		struct vdev *d = &vm->devs[i];
		int ms = d->impl && d->host->tick ? d->host->tick(d, now) : -1;

		if (ms >= 0 && (next < 0 || ms < next))
			next = ms;
	}
	return next;
}

void vdev_describe(const struct vdev *d, struct vdev_info *info)
{
	*info = (struct vdev_info){ .pid = -1, .sandbox = "in the monitor" };
	if (d->host->describe)
		d->host->describe(d, info);
}

int vdevs_input(struct vm *vm, enum device_input in)
{
	int err = -ENODEV, taken = 0;

	for (unsigned i = 0; i < vm->ndevs; i++) {
		struct vdev *d = &vm->devs[i];
		int r;

		if (!d->cls->ops->input || !d->host->input)
			continue;
		r = d->host->input(d, in);
		taken += r == 0;
		if (r && err == -ENODEV)
			err = r;
	}
	return taken ? 0 : err;
}
