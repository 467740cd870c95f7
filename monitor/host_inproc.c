/*
 * The in-monitor device host (--devices inproc): device models run in the
 * monitor's own address space, called from vCPU threads for traps and from
 * the control loop for backend fds, queue doorbells and wake fds, one mutex
 * per device serialising both. The baseline that measures what the process
 * split costs.
 */
#include "vdev.h"

#include <errno.h>
#include <linux/kvm.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "arch.h"
#include "log.h"
#include "ring.h"
#include "state.h"
#include "vm.h"

/* Poll codes besides a backend fd's index. */
#define CODE_QUEUE 0x80		/* | queue: a queue doorbell */
#define CODE_RESAMPLE 0x7f	/* the INTx resample fd */
#define CODE_WAKE 0x7e		/* the device's own wake fd */

struct inproc_dev {
	struct vdev *vdev;
	struct device dev;
	struct device_host host;
	pthread_mutex_t lock;
	int wake_fd;		/* the control loop's eventfd (borrowed) */
	bool lock_ready;
	bool created;
	bool intx_level;	/* the device holds INTA asserted */
	struct ring_shadow shadow;	/* its shadowed registers, as in a device process */
};

static struct inproc_dev *host_dev(struct device_host *h)
{
	return h->opaque;
}

/* Only a class that uses guest RAM sees it, as in a device process. */
static void *inproc_mem_ptr(struct device_host *h, uint64_t gpa, uint64_t len)
{
	struct vdev *v = host_dev(h)->vdev;

	return v->cls->guest_ram ? gmem_ptr(&v->vm->mem, gpa, len) : NULL;
}

static int inproc_irq_set(struct device_host *h, unsigned line, int level)
{
	struct inproc_dev *d = host_dev(h);
	struct vpci *pci = d->vdev->pci;
	struct kvm_irq_level irq;
	uint64_t one = 1;

	if (line >= d->vdev->spec.spec.nirqs)
		return -EINVAL;
	if (pci && line == VPCI_INTX_LINE(pci)) {
		/* Level-triggered: asserted until EOI; the resample fd re-asserts. */
		d->intx_level = level;
		if (level && write(pci->intx_fd, &one, sizeof(one)) < 0)
			return -errno;
		return 0;
	}
	if (pci) {	/* an MSI-X vector: an edge through its irqfd */
		if (level && write(pci->irqfd[line], &one, sizeof(one)) < 0)
			return -errno;
		return 0;
	}
	irq.irq = arch_irq_line(d->vdev->spec.spec.irqs[line]);
	irq.level = level ? 1 : 0;
	if (ioctl(d->vdev->vm->vm_fd, KVM_IRQ_LINE, &irq) < 0)
		return -errno;
	return 0;
}

static int inproc_event(struct device_host *h, enum device_event ev)
{
	int err = vdev_event(host_dev(h)->vdev, ev);

	if (err)
		log_err("%s: event %d is not one its class posts; ignored", host_dev(h)->dev.id, ev);
	return err;
}

static void inproc_log(struct device_host *h, int lvl, const char *id, const char *msg)
{
	(void)h;
	vmm_log((enum log_level)lvl, id, "%s", msg);
}

/* Publish the device's shadowed registers as they are now (under d->lock). */
static void inproc_shadow_refresh(struct inproc_dev *d)
{
	struct trap_shadow s;

	device_shadow(&d->dev, &s);
	ring_shadow_publish(&d->shadow, &s);
}

/*
 * Trap-bus handler: a read the shadow holds is answered from it, as for a
 * device process; the rest is serialised with the control loop, noting
 * poll changes.
 */
static int inproc_trap(void *opaque, struct trap *t)
{
	struct vdev *v = opaque;
	struct inproc_dev *d = v->impl;
	uint32_t mask;
	uint64_t one = 1;
	int ret;

	if (vdev_shadow_read(v, &d->shadow, NULL, t))
		return 0;
	pthread_mutex_lock(&d->lock);
	mask = d->dev.poll_mask;
	ret = d->dev.ops->trap(&d->dev, t);
	inproc_shadow_refresh(d);
	if (d->dev.poll_mask != mask && write(d->wake_fd, &one, sizeof(one)) < 0)
		log_debug("%s: cannot wake the control loop", d->dev.id);
	pthread_mutex_unlock(&d->lock);
	return ret;
}

static int inproc_create(struct vdev *v, const struct machine_dev *md, const struct vdev_cfg *cfg)
{
	struct inproc_dev *d = calloc(1, sizeof(*d));
	int err;

	if (!d)
		return -ENOMEM;
	v->impl = d;
	d->vdev = v;
	d->wake_fd = cfg->wake_fd;
	snprintf(d->dev.id, sizeof(d->dev.id), "%s", v->id);
	d->host = (struct device_host){ .mem_ptr = inproc_mem_ptr, .irq_set = inproc_irq_set,
					.event = inproc_event, .log = inproc_log, .opaque = d };
	d->dev.host = &d->host;
	for (unsigned i = 0; i < DEVICE_MAX_FDS; i++)
		d->dev.fds[i] = i < md->nfds ? md->fds[i] : -1;
	d->dev.nfds = md->nfds < DEVICE_MAX_FDS ? md->nfds : DEVICE_MAX_FDS;
	if (pthread_mutex_init(&d->lock, NULL))
		return -ENOMEM;
	d->lock_ready = true;
	err = device_create(&d->dev, v->cls, &v->spec.spec);
	if (err) {
		log_err("%s: create: %s", d->dev.id, strerror(-err));
		return err;
	}
	d->created = true;
	inproc_shadow_refresh(d);
	if (d->dev.ops->start && (err = d->dev.ops->start(&d->dev)))
		return err;	/* the device said why */
	return 0;
}

static void inproc_release(struct vdev *v)
{
	struct inproc_dev *d = v->impl;

	if (!d)
		return;
	if (d->created)
		d->dev.ops->destroy(&d->dev);
	if (d->lock_ready)
		pthread_mutex_destroy(&d->lock);
	free(d);
	v->impl = NULL;
}

static unsigned inproc_pollfds(struct vdev *v, struct pollfd *pfds, uint16_t *codes,
			       unsigned max)
{
	struct inproc_dev *d = v->impl;
	unsigned n = 0;

	pthread_mutex_lock(&d->lock);
	for (unsigned f = 0; f < d->dev.nfds && n < max; f++) {
		if (!(d->dev.poll_mask & (1u << f)) || d->dev.fds[f] < 0)
			continue;
		pfds[n] = (struct pollfd){ .fd = d->dev.fds[f], .events = POLLIN };
		codes[n++] = (uint16_t)f;
	}
	pthread_mutex_unlock(&d->lock);
	for (unsigned q = 0; v->pci && q < v->pci->nqueues && n < max; q++) {
		pfds[n] = (struct pollfd){ .fd = v->pci->ioeventfd[q], .events = POLLIN };
		codes[n++] = (uint16_t)(CODE_QUEUE | q);
	}
	if (v->pci && n < max) {
		pfds[n] = (struct pollfd){ .fd = v->pci->intx_resample_fd, .events = POLLIN };
		codes[n++] = CODE_RESAMPLE;
	}
	if (d->dev.ops->wake && n < max) {
		pfds[n] = (struct pollfd){ .fd = d->dev.wake_fd, .events = POLLIN };
		codes[n++] = CODE_WAKE;
	}
	return n;
}

/* KVM resampled INTA at the guest's EOI: assert again if still held. */
static void inproc_intx_resample(struct inproc_dev *d)
{
	struct vpci *pci = d->vdev->pci;
	uint64_t v, one = 1;

	if (read(pci->intx_resample_fd, &v, sizeof(v)) < 0 || !d->intx_level)
		return;
	if (write(pci->intx_fd, &one, sizeof(one)) < 0)
		log_warn("%s: INTx: cannot assert: %s", d->dev.id, strerror(errno));
}

/* A queue doorbell (ioeventfd) fired: drain it and notify the device. */
static void inproc_notify(struct inproc_dev *d, unsigned q)
{
	uint64_t v;

	if (read(d->vdev->pci->ioeventfd[q], &v, sizeof(v)) < 0)
		return;	/* EAGAIN: already drained */
	if (d->dev.ops->notify)
		d->dev.ops->notify(&d->dev, q);
}

static void inproc_handle(struct vdev *v, uint16_t code, short revents)
{
	struct inproc_dev *d = v->impl;

	(void)revents;
	pthread_mutex_lock(&d->lock);
	if (code == CODE_RESAMPLE && v->pci)
		inproc_intx_resample(d);
	else if (code == CODE_WAKE && d->dev.ops->wake)
		d->dev.ops->wake(&d->dev);
	else if ((code & CODE_QUEUE) && v->pci && (code & ~CODE_QUEUE) < v->pci->nqueues)
		inproc_notify(d, code & ~CODE_QUEUE);
	else if (!(code & CODE_QUEUE) && code < DEVICE_MAX_FDS && d->dev.ops->backend &&
		 (d->dev.poll_mask & (1u << code)))
		d->dev.ops->backend(&d->dev, code);
	inproc_shadow_refresh(d);
	pthread_mutex_unlock(&d->lock);
}

static int inproc_input(struct vdev *v, enum device_input in)
{
	struct inproc_dev *d = v->impl;

	pthread_mutex_lock(&d->lock);
	if (d->dev.ops->input) {
		d->dev.ops->input(&d->dev, in);
		inproc_shadow_refresh(d);
	}
	pthread_mutex_unlock(&d->lock);
	return 0;
}

/*
 * vmm-ctl restart-device: the same save, validate and load a replacement
 * device process goes through - the model saved, destroyed, created again
 * and loaded from what it saved, its queues notified once.
 */
static int inproc_restart(struct vdev *v)
{
	struct inproc_dev *d = v->impl;
	uint8_t *buf = malloc(STATE_DATA_MAX);
	int len, err;

	if (!buf)
		return -ENOMEM;
	pthread_mutex_lock(&d->lock);
	len = device_save(&d->dev, buf, STATE_DATA_MAX);
	err = len < 0 ? len : 0;
	if (!err) {
		d->dev.ops->destroy(&d->dev);
		d->created = false;
		err = device_create(&d->dev, v->cls, &v->spec.spec);
	}
	if (!err) {
		d->created = true;
		err = device_load(&d->dev, buf, (size_t)len);
		if (err == -EINVAL)
			err = 0;	/* reset and said so: it runs on */
		if (!err && d->dev.ops->start)
			err = d->dev.ops->start(&d->dev);
		for (unsigned q = 0; !err && v->pci && q < v->pci->nqueues; q++)
			if (d->dev.ops->notify)
				d->dev.ops->notify(&d->dev, q);
		inproc_shadow_refresh(d);
	}
	pthread_mutex_unlock(&d->lock);
	free(buf);
	if (err == 0)
		log_info("device %s (class %s) restarted in the monitor from %d bytes of saved state",
			 v->id, v->cls->name, len);
	else if (err != -EOPNOTSUPP)
		vm_request_stop(v->vm, VM_EXIT_FAILED, "a device could not be restarted");
	return err;
}

const struct vdev_host vdev_host_inproc = {
	.name = "inproc",
	.create = inproc_create,
	.trap = inproc_trap,
	.pollfds = inproc_pollfds,
	.handle = inproc_handle,
	.release = inproc_release,
	.input = inproc_input,
	.restart = inproc_restart,
};
