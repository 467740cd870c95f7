#include "vpci.h"

#include <errno.h>
#include <stdarg.h>
#include <linux/kvm.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "arch.h"
#include "log.h"
#include "machine.h"
#include "virtio_pci.h"
#include "vm.h"

/* Config-space layout of the capabilities (offsets are ours to choose). */
#define CAP_COMMON  0x40
#define CAP_NOTIFY  0x50
#define CAP_ISR     0x64
#define CAP_DEVICE  0x74
#define CAP_MSIX    0x84
#define PCI_CAP_ID_VNDR 0x09
#define PCI_CAP_ID_MSIX 0x11
#define PCI_COMMAND_INTX_DISABLE 0x0400
#define MSIX_ENABLE 0x8000
#define MSIX_MASKALL 0x4000
#define VIRTIO_SUBSYS_ID 0x0040

/* ---- Config space ---- */

#define VPCI_WARN_PER_SEC 10	/* guest-driven warnings of one function */

/* A warning the guest's config writes caused: rate-limited per function. */
static void vpci_warn(struct vpci *vp, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void vpci_warn(struct vpci *vp, const char *fmt, ...)
{
	unsigned dropped;
	bool ok = log_budget_take(&vp->warn_budget, VPCI_WARN_PER_SEC, &dropped);
	va_list ap;

	if (dropped)
		vmm_log(LOG_WARN, vp->id, "%u warnings dropped (more than %u a second)", dropped,
			VPCI_WARN_PER_SEC);
	if (!ok)
		return;
	va_start(ap, fmt);
	vmm_vlog(LOG_WARN, vp->id, fmt, ap);
	va_end(ap);
}

static void cap_virtio(struct pci_func *f, unsigned at, unsigned next, unsigned len,
		       uint8_t type, uint32_t offset)
{
	f->cfg[at] = PCI_CAP_ID_VNDR;
	f->cfg[at + 1] = (uint8_t)next;
	f->cfg[at + 2] = (uint8_t)len;
	f->cfg[at + 3] = type;
	f->cfg[at + 4] = 0;				/* bar 0 */
	pci_cfg_put32(f, at + 8, offset);
	pci_cfg_put32(f, at + 12, VIRTIO_PCI_REGION_SIZE);
}

static void cap_msix(struct pci_func *f, unsigned nvec)
{
	f->cfg[CAP_MSIX] = PCI_CAP_ID_MSIX;
	f->cfg[CAP_MSIX + 1] = 0;
	pci_cfg_put16(f, CAP_MSIX + 2, (uint16_t)(nvec - 1));
	f->wmask[CAP_MSIX + 3] = (MSIX_ENABLE | MSIX_MASKALL) >> 8;
	pci_cfg_put32(f, CAP_MSIX + 4, VPCI_BAR_MSIX);
	pci_cfg_put32(f, CAP_MSIX + 8, VPCI_MSIX_PBA_OFF | VPCI_BAR_MSIX);
}

static void cfg_build(struct vpci *vp, const struct vpci_ident *id)
{
	struct pci_func *f = &vp->func;

	pci_cfg_put16(f, 0x00, VIRTIO_PCI_VENDOR_ID);
	pci_cfg_put16(f, 0x02, (uint16_t)VIRTIO_PCI_DEVICE_ID(id->virtio_id));
	pci_cfg_put16(f, 0x06, 0x0010);		/* status: capabilities list */
	pci_cfg_put32(f, 0x08, (id->class_code << 8) | VIRTIO_PCI_REVISION);
	pci_cfg_put16(f, 0x2c, VIRTIO_PCI_SUBSYS_VENDOR_ID);
	pci_cfg_put16(f, 0x2e, VIRTIO_SUBSYS_ID);
	f->cfg[0x34] = CAP_COMMON;
	f->wmask[0x3c] = 0xff;				/* interrupt line */
	f->cfg[0x3d] = arch_pci.intx;			/* interrupt pin: INTA, or none */
	f->wmask[0x05] |= PCI_COMMAND_INTX_DISABLE >> 8;
	cap_virtio(f, CAP_COMMON, CAP_NOTIFY, 16, VIRTIO_PCI_CAP_COMMON_CFG, VIRTIO_PCI_COMMON_OFF);
	cap_virtio(f, CAP_NOTIFY, CAP_ISR, 20, VIRTIO_PCI_CAP_NOTIFY_CFG, VIRTIO_PCI_NOTIFY_OFF);
	pci_cfg_put32(f, CAP_NOTIFY + 16, VIRTIO_PCI_NOTIFY_MULTIPLIER);
	cap_virtio(f, CAP_ISR, CAP_DEVICE, 16, VIRTIO_PCI_CAP_ISR_CFG, VIRTIO_PCI_ISR_OFF);
	cap_virtio(f, CAP_DEVICE, CAP_MSIX, 16, VIRTIO_PCI_CAP_DEVICE_CFG, VIRTIO_PCI_DEVICE_OFF);
	cap_msix(f, vp->nvectors);
	vp->msix_cap = CAP_MSIX;
	pci_func_set_bar(f, 0, VIRTIO_PCI_BAR0_SIZE, true);
	pci_func_set_bar(f, VPCI_BAR_MSIX, VPCI_MSIX_BAR_SIZE, false);
}

/* ---- MSI-X ---- */

/* Route and arm vector v as the table and control bits say. vp->lock held. */
static void vector_apply(struct vpci *vp, unsigned v)
{
	const struct vpci_msix_entry *e = &vp->msix[v];
	bool on = vp->msix_enabled && !vp->msix_masked && !(e->ctrl & 1);
	struct kvm_irqfd irqfd = { .fd = (uint32_t)vp->irqfd[v], .gsi = vp->gsi[v] };
	int err = 0;

	if (on)
		err = irq_msi_set(&vp->vm->irq, vp->gsi[v], true,
				  (uint64_t)e->addr_hi << 32 | e->addr_lo, e->data, vp->devfn);
	if (!err && on != vp->irqfd_on[v]) {
		/* A deassigned irqfd keeps counting: unmasking delivers what is pending. */
		irqfd.flags = on ? 0 : KVM_IRQFD_FLAG_DEASSIGN;
		if (ioctl(vp->vm->vm_fd, KVM_IRQFD, &irqfd) < 0)
			err = -errno;
		else
			vp->irqfd_on[v] = on;
	}
	if (err)
		vpci_warn(vp, "MSI-X vector %u: %s", v, strerror(-err));
}

static void vectors_apply(struct vpci *vp)
{
	for (unsigned v = 0; v < vp->nvectors; v++)
		vector_apply(vp, v);
}

static int msix_trap(void *opaque, struct trap *t)
{
	struct vpci *vp = opaque;
	unsigned v = (unsigned)(t->offset / 16), word = (unsigned)(t->offset % 16) / 4;

	if (t->offset >= VPCI_MSIX_PBA_OFF || v >= vp->nvectors || t->len != 4 || t->offset % 4) {
		if (!t->is_write)
			trap_set_value(t, 0);	/* PBA: nothing reported pending */
		return 0;
	}
	pthread_mutex_lock(&vp->lock);
	uint32_t *field = &vp->msix[v].addr_lo + word;
	if (!t->is_write) {
		trap_set_value(t, *field);
	} else {
		*field = (uint32_t)trap_value(t);
		vector_apply(vp, v);
	}
	pthread_mutex_unlock(&vp->lock);
	return 0;
}

/*
 * INTA is live while MSI-X is off and the command register allows INTx:
 * the irqfd (with resampling, so the line stays asserted until the guest's
 * EOI) is assigned to its GSI then, and deassigned otherwise, so that a
 * device asserting INTx under MSI-X reaches nobody. vp->lock held.
 */
static void intx_apply(struct vpci *vp)
{
	bool on = !vp->msix_enabled &&
		  !(pci_cfg_get16(&vp->func, 0x04) & PCI_COMMAND_INTX_DISABLE);
	struct kvm_irqfd irqfd = { .fd = (uint32_t)vp->intx_fd, .gsi = vp->intx_gsi,
				   .flags = KVM_IRQFD_FLAG_RESAMPLE,
				   .resamplefd = (uint32_t)vp->intx_resample_fd };

	if (!arch_pci.intx || on == vp->intx_on || vp->intx_fd < 0)
		return;
	if (!on)
		irqfd.flags = KVM_IRQFD_FLAG_DEASSIGN;
	if (ioctl(vp->vm->vm_fd, KVM_IRQFD, &irqfd) < 0)
		vpci_warn(vp, "INTx on GSI %u: %s", vp->intx_gsi, strerror(errno));
	else
		vp->intx_on = on;
}

static void vpci_cfg_written(void *opaque, unsigned off, unsigned len)
{
	struct vpci *vp = opaque;
	uint16_t ctl;
	bool msix = off + len > vp->msix_cap + 2 && off < vp->msix_cap + 4;
	bool command = off + len > 0x04 && off < 0x06;

	if (!msix && !command)
		return;
	ctl = pci_cfg_get16(&vp->func, vp->msix_cap + 2);
	pthread_mutex_lock(&vp->lock);
	vp->msix_enabled = ctl & MSIX_ENABLE;
	vp->msix_masked = ctl & MSIX_MASKALL;
	if (msix)
		vectors_apply(vp);
	intx_apply(vp);
	pthread_mutex_unlock(&vp->lock);
}

/* ---- BAR placement ---- */

static int ioeventfd_set(struct vpci *vp, unsigned q, uint64_t bar0, bool on)
{
	struct kvm_ioeventfd io = { .addr = VIRTIO_PCI_NOTIFY_ADDR(bar0, q), .len = 0,
				    .fd = vp->ioeventfd[q],
				    .flags = on ? 0 : KVM_IOEVENTFD_FLAG_DEASSIGN };

	return ioctl(vp->vm->vm_fd, KVM_IOEVENTFD, &io) < 0 ? -errno : 0;
}

/*
 * A BAR the guest placed over something mapped: not mapped until it moves
 * or the range frees (pci.c offers it again). Debug only when the range is
 * taken: an OS reassigning every BAR passes through such overlaps.
 */
static void bar_not_mapped(struct vpci *vp, unsigned bar, uint64_t addr, int err)
{
	if (err == -EBUSY)
		log_debug("%s: BAR%u at 0x%llx overlaps a mapped range; mapped once it is free",
			  vp->id, bar, (unsigned long long)addr);
	else
		vpci_warn(vp, "BAR%u at 0x%llx: %s; not mapped", bar, (unsigned long long)addr,
			  strerror(-err));
}

static void bar0_unmap(struct vpci *vp)
{
	if (vp->bar0 == PCI_BAR_NONE)
		return;
	for (unsigned q = 0; q < vp->nqueues; q++)
		ioeventfd_set(vp, q, vp->bar0, false);
	for (unsigned r = 0; r < VIRTIO_PCI_NREGIONS; r++)
		trapbus_unregister(&vp->vm->bus, TRAP_MMIO, vp->bar0 + r * VIRTIO_PCI_REGION_SIZE);
	vp->bar0 = PCI_BAR_NONE;
}

/*
 * Map BAR0 at addr; a failure (an address the guest made collide) is
 * logged and undoes exactly what this call set up: the regions already
 * there belong to someone else and stay.
 */
const char *vpci_region_name(unsigned r)
{
	static const char *const names[VIRTIO_PCI_NREGIONS] = { "common", "isr", "device", "notify" };

	return r < VIRTIO_PCI_NREGIONS ? names[r] : NULL;
}

static int bar0_map(struct vpci *vp, uint64_t addr)
{
	unsigned nreg = 0, nq = 0;
	int err = 0;

	for (; nreg < VIRTIO_PCI_NREGIONS; nreg++) {
		struct trap_region tr = { .base = addr + nreg * VIRTIO_PCI_REGION_SIZE,
					  .size = VIRTIO_PCI_REGION_SIZE, .bus = TRAP_MMIO,
					  .region = (uint8_t)nreg, .name = vp->id,
					  .label = vpci_region_name(nreg), .fn = vp->bar0_fn, .opaque = vp->bar0_opaque,
					  .served = vp->bar0_served ? &vp->bar0_served[nreg] : NULL,
					  .lat = vp->bar0_lat ? vp->bar0_lat + nreg * TRAP_LAT_BUCKETS
							      : NULL };

		if ((err = trapbus_register(&vp->vm->bus, &tr)))
			break;
	}
	for (; !err && nq < vp->nqueues; nq++)
		if ((err = ioeventfd_set(vp, nq, addr, true)))
			break;
	if (!err) {
		vp->bar0 = addr;
		return 0;
	}
	bar_not_mapped(vp, 0, addr, err);
	while (nq--)
		ioeventfd_set(vp, nq, addr, false);
	while (nreg--)
		trapbus_unregister(&vp->vm->bus, TRAP_MMIO, addr + nreg * VIRTIO_PCI_REGION_SIZE);
	vp->bar0 = PCI_BAR_NONE;
	return err;
}

static int msix_bar_move(struct vpci *vp, uint64_t addr)
{
	int err;
	struct trap_region tr = { .base = addr, .size = VPCI_MSIX_BAR_SIZE, .bus = TRAP_MMIO,
				  .name = vp->id, .label = "msix", .fn = msix_trap, .opaque = vp };

	if (vp->bar_msix != PCI_BAR_NONE)
		trapbus_unregister(&vp->vm->bus, TRAP_MMIO, vp->bar_msix);
	vp->bar_msix = PCI_BAR_NONE;
	if (addr == PCI_BAR_NONE)
		return 0;
	err = trapbus_register(&vp->vm->bus, &tr);
	if (err)
		bar_not_mapped(vp, VPCI_BAR_MSIX, addr, err);
	else
		vp->bar_msix = addr;
	return err;
}

static int vpci_bar_update(void *opaque, unsigned bar, uint64_t addr)
{
	struct vpci *vp = opaque;

	if (bar == VPCI_BAR_MSIX)
		return msix_bar_move(vp, addr);
	bar0_unmap(vp);
	return addr == PCI_BAR_NONE ? 0 : bar0_map(vp, addr);
}

static const struct pci_func_ops vpci_ops = {
	.bar_update = vpci_bar_update,
	.cfg_written = vpci_cfg_written,
};

/* ---- Life cycle ---- */

static int fds_create(struct vpci *vp)
{
	for (unsigned v = 0; v < vp->nvectors; v++) {
		int err = irq_msi_alloc(&vp->vm->irq, &vp->gsi[v]);

		if (err)
			return err;
		vp->irqfd[v] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (vp->irqfd[v] < 0)
			return -errno;
	}
	for (unsigned q = 0; q < vp->nqueues; q++) {
		vp->ioeventfd[q] = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
		if (vp->ioeventfd[q] < 0)
			return -errno;
	}
	vp->intx_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	vp->intx_resample_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	return vp->intx_fd < 0 || vp->intx_resample_fd < 0 ? -errno : 0;
}

static void fds_close(struct vpci *vp)
{
	for (unsigned v = 0; v < DEVICE_MAX_VECTORS; v++) {
		if (vp->irqfd_on[v]) {
			struct kvm_irqfd irqfd = { .fd = (uint32_t)vp->irqfd[v], .gsi = vp->gsi[v],
						   .flags = KVM_IRQFD_FLAG_DEASSIGN };

			ioctl(vp->vm->vm_fd, KVM_IRQFD, &irqfd);
			vp->irqfd_on[v] = false;
		}
		if (vp->irqfd[v] >= 0)
			close(vp->irqfd[v]);
		vp->irqfd[v] = -1;
	}
	for (unsigned q = 0; q < DEVICE_MAX_QUEUES; q++) {
		if (vp->ioeventfd[q] >= 0)
			close(vp->ioeventfd[q]);
		vp->ioeventfd[q] = -1;
	}
	if (vp->intx_on) {
		struct kvm_irqfd irqfd = { .fd = (uint32_t)vp->intx_fd, .gsi = vp->intx_gsi,
					   .flags = KVM_IRQFD_FLAG_DEASSIGN };

		ioctl(vp->vm->vm_fd, KVM_IRQFD, &irqfd);
		vp->intx_on = false;
	}
	if (vp->intx_fd >= 0)
		close(vp->intx_fd);
	if (vp->intx_resample_fd >= 0)
		close(vp->intx_resample_fd);
	vp->intx_fd = vp->intx_resample_fd = -1;
}

int vpci_create(struct vpci *vp, struct vm *vm, struct pci_host *ph, const char *id,
		const struct vpci_ident *ident, trap_fn bar0_fn, void *bar0_opaque,
		_Atomic uint64_t *bar0_served)
{
	int err, slot = -1;

	memset(vp, 0, sizeof(*vp));
	for (unsigned i = 0; i < DEVICE_MAX_VECTORS; i++)
		vp->irqfd[i] = -1;
	for (unsigned i = 0; i < DEVICE_MAX_QUEUES; i++)
		vp->ioeventfd[i] = -1;
	vp->intx_fd = vp->intx_resample_fd = -1;
	if (ident->nqueues == 0 || ident->nqueues > DEVICE_MAX_QUEUES ||
	    ident->nvectors == 0 || ident->nvectors > DEVICE_MAX_VECTORS)
		return -EINVAL;
	vp->vm = vm;
	snprintf(vp->id, sizeof(vp->id), "%s", id);
	vp->nqueues = ident->nqueues;
	vp->nvectors = ident->nvectors;
	vp->bar0 = vp->bar_msix = PCI_BAR_NONE;
	vp->bar0_fn = bar0_fn;
	vp->bar0_opaque = bar0_opaque;
	vp->bar0_served = bar0_served;
	for (unsigned v = 0; v < vp->nvectors; v++)
		vp->msix[v].ctrl = 1;			/* masked at reset */
	if (pthread_mutex_init(&vp->lock, NULL))
		return -ENOMEM;
	cfg_build(vp, ident);
	vp->func.ops = &vpci_ops;
	vp->func.opaque = vp;
	err = fds_create(vp);
	if (!err && (slot = pci_func_add(ph, &vp->func)) < 0)
		err = -ENOSPC;
	if (!err)
		vp->devfn = (uint32_t)slot << 3;	/* bus 0, function 0 */
	if (!err && arch_pci.intx) {
		/* As firmware would: the line register names the GSI INTA uses. */
		vp->intx_gsi = arch_pci_intx_gsi((unsigned)slot, 0);
		vp->func.cfg[0x3c] = (uint8_t)vp->intx_gsi;
		pthread_mutex_lock(&vp->lock);
		intx_apply(vp);
		pthread_mutex_unlock(&vp->lock);
	}
	if (err) {
		log_err("%s: cannot create its PCI function: %s", id, strerror(-err));
		fds_close(vp);
		pthread_mutex_destroy(&vp->lock);
	}
	return err;
}

void vpci_destroy(struct vpci *vp, struct pci_host *ph)
{
	pci_func_remove(ph, &vp->func);
	msix_bar_move(vp, PCI_BAR_NONE);
	fds_close(vp);
	pthread_mutex_destroy(&vp->lock);
}

struct vpci *vpci_new(struct vm *vm, const char *id, const struct virtio_pci_ident *pi,
		      trap_fn bar0_fn, void *bar0_opaque, _Atomic uint64_t *bar0_served,
		      struct machine_spec *spec)
{
	struct vpci_ident ident = { .virtio_id = pi->virtio_id, .class_code = pi->pci_class,
				    .nqueues = pi->nqueues, .nvectors = pi->nvectors };
	struct vpci *vp = calloc(1, sizeof(*vp));

	if (!vp || vpci_create(vp, vm, vm->pci, id, &ident, bar0_fn, bar0_opaque, bar0_served)) {
		free(vp);
		return NULL;
	}
	machine_spec_set_pci(spec, vp->bar0, vp->gsi, vp->nvectors, vp->intx_gsi);
	return vp;
}

void vpci_free(struct vpci *vp, struct pci_host *ph)
{
	if (!vp)
		return;
	vpci_destroy(vp, ph);
	free(vp);
}

uint64_t vpci_bar0(const struct vpci *vp)
{
	return vp->bar0;
}
